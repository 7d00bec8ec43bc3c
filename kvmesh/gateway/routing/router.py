"""The Router the Gateway talks to: each deployment's policy by name, request description, membership.

One instance of every registered policy serves all deployments (each keys its state by deployment
id). Choosing reads memory only. A replica that leaves a deployment's ready set, or is ejected
(`forget`), is dropped from every policy at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kvmesh.gateway.routing.base import (
    Choice,
    EngineCacheState,
    Outcome,
    ReplicaCandidate,
    RouteRequest,
    RoutingPolicy,
)
from kvmesh.gateway.routing.config import RoutingConfig
from kvmesh.gateway.routing.observability import RoutingMetrics
from kvmesh.gateway.routing.prompt_blocks import block_hashes, rendered_prompt
from kvmesh.gateway.routing.registry import POLICIES, policy_by_name

log = logging.getLogger(__name__)
MAX_SESSION_KEY = 256


class Router:
    def __init__(
        self, default_policy: str, config: RoutingConfig | None = None, metrics: RoutingMetrics | None = None
    ) -> None:
        self.config = config or RoutingConfig()
        policy_by_name(default_policy, self.config)  # an unknown default fails at start-up
        self.default_policy = default_policy
        self.policies: dict[str, RoutingPolicy] = {
            name: spec.build(self.config) for name, spec in POLICIES.items()
        }
        self.engine_caches: dict[str, EngineCacheState] = {}  # deployment id -> reported cache state
        self._metrics = metrics
        self._members: dict[str, tuple[str, ...]] = {}
        self._unknown_logged: set[str] = set()

    def describe(
        self,
        deployment_id: str,
        model: str,
        endpoint: str,
        policy: str | None,
        body: dict[str, Any] | None = None,
        session_header: bytes = b"",
        members: Sequence[str] = (),
    ) -> RouteRequest:
        """The frozen request description: the policy's name, session key and prompt blocks."""
        name = self._policy_name(policy)
        body = body or {}
        blocks: tuple[int, ...] = ()
        prompt_chars = 0
        if POLICIES[name].uses_prefix:
            prompt = rendered_prompt(body)
            prompt_chars = len(prompt)
            blocks = block_hashes(prompt, self.config.block_chars)
        return RouteRequest(
            deployment_id=deployment_id,
            model=model,
            endpoint=endpoint,
            session_key=_session_key(body, session_header),
            policy=name,
            prefix_blocks=blocks,
            prompt_chars=prompt_chars,
            members=tuple(members),
        )

    def choose(self, request: RouteRequest, replicas: Sequence[ReplicaCandidate]) -> Choice:
        self._note_members(request)
        policy = self.policies[request.policy or self.default_policy]
        choice = policy.choose(request, replicas, self.engine_caches.get(request.deployment_id))
        if self._metrics is not None:
            self._metrics.chosen(request, choice)
        return choice

    def observe(self, request: RouteRequest, choice: Choice, outcome: Outcome) -> None:
        """Feedback after an answer: what the engine reported as cached for this prompt."""
        self.policies[request.policy or self.default_policy].observe(request, choice, outcome)
        if self._metrics is not None:
            self._metrics.observed(request, choice, outcome)

    def forget(self, replica_id: str) -> None:
        """The replica was ejected or left its deployment: no policy counts on its cache any more."""
        for policy in self.policies.values():
            policy.forget(replica_id)
        if self._metrics is not None:
            self._metrics.forget(replica_id)

    def _note_members(self, request: RouteRequest) -> None:
        if not request.members:
            return
        known = self._members.get(request.deployment_id)
        if known == request.members:
            return
        self._members[request.deployment_id] = request.members
        if known:
            for gone in set(known).difference(request.members):
                self.forget(gone)

    def _policy_name(self, policy: str | None) -> str:
        if not policy:
            return self.default_policy
        if policy in POLICIES:
            return policy
        if policy not in self._unknown_logged:
            self._unknown_logged.add(policy)
            log.warning("unknown routing policy %r in the store; using %s", policy, self.default_policy)
        return self.default_policy


def _session_key(body: dict[str, Any], header: bytes) -> str | None:
    """`X-Session-Id` when sent, else the OpenAI `user` field; None when neither is usable."""
    if header:
        key = header.decode("utf-8", "replace").strip()
        if key:
            return key[:MAX_SESSION_KEY]
    user = body.get("user")
    if isinstance(user, str) and user.strip():
        return user.strip()[:MAX_SESSION_KEY]
    return None
