"""KV-cache-aware routing: send a prompt to the replica that already holds its longest prefix.

The best-matching replica wins unless it has more than `load_margin` requests in flight beyond the
least-loaded one; then the least-loaded one takes the request and is recorded as holding the prefix
too. No match, or one shorter than `min_match_blocks` or than `min_match_ratio` of the prompt, falls
back to least-outstanding with rotating ties. Each answer's `cached_tokens` confirms the prediction
or weakens it, so an engine that does not keep what we think it keeps stops attracting traffic.
"""

from __future__ import annotations

from collections.abc import Sequence

from kvmesh.gateway.routing.base import (
    Choice,
    EngineCacheState,
    Outcome,
    ReplicaCandidate,
    RouteRequest,
)
from kvmesh.gateway.routing.config import RoutingConfig
from kvmesh.gateway.routing.load_guard import Rotation, overloaded
from kvmesh.gateway.routing.prefix_index import PrefixIndex


class PrefixAwarePolicy:
    def __init__(self, config: RoutingConfig | None = None) -> None:
        self._config = config or RoutingConfig()
        self.index = PrefixIndex(self._config.index_blocks, self._config.min_confidence)
        self._rotation = Rotation()

    def choose(
        self,
        request: RouteRequest,
        replicas: Sequence[ReplicaCandidate],
        engine_cache: EngineCacheState | None = None,
    ) -> Choice:
        blocks, deployment = request.prefix_blocks, request.deployment_id
        if not blocks:
            return Choice(self._rotation.least_loaded(deployment, replicas), "no_match")
        matched = self.index.match(deployment, blocks, {replica.id for replica in replicas})
        if engine_cache is not None:
            for replica in replicas:
                reported = engine_cache.matched_blocks(replica.id, blocks)
                if reported is not None:
                    matched[replica.id] = reported
        longest = max((matched.get(replica.id, 0) for replica in replicas), default=0)
        needed = max(self._config.min_match_blocks, self._config.min_match_ratio * len(blocks))
        if longest < needed:
            chosen = self._rotation.least_loaded(deployment, replicas)
            reason = "no_match" if longest == 0 else "short_match"
        else:
            holders = [replica for replica in replicas if matched.get(replica.id, 0) == longest]
            preferred = self._rotation.least_loaded(deployment, holders)
            if overloaded(preferred, replicas, self._config.load_margin):
                chosen, reason = self._rotation.least_loaded(deployment, replicas), "load_guard"
            else:
                chosen, reason = preferred, "match"
        self.index.record(deployment, blocks, chosen.id)
        return Choice(chosen, reason, matched.get(chosen.id, 0))

    def observe(self, request: RouteRequest, choice: Choice, outcome: Outcome) -> None:
        blocks = request.prefix_blocks
        if not outcome.ok or not blocks or outcome.prompt_tokens <= 0:
            return
        cached_share = min(outcome.cached_tokens, outcome.prompt_tokens) / outcome.prompt_tokens
        confirmed = min(len(blocks), int(cached_share * request.prompt_chars / self._config.block_chars))
        replica_id = choice.replica.id
        if confirmed:
            self.index.confirm(request.deployment_id, blocks[:confirmed], replica_id)
        if confirmed * 2 < choice.predicted_blocks:
            self.index.weaken(request.deployment_id, blocks, replica_id, self._config.miss_decay)

    def forget(self, replica_id: str) -> None:
        self.index.forget(replica_id)
