"""Which replica served which prompt prefix: an LRU-bounded map of block-hash chains to holders.

Each entry is one block hash of one deployment (the hash covers the whole prefix up to that block)
and maps replica ids to a confidence and the replica's generation when it was recorded. Blocks of
one prompt are touched deepest first, so LRU eviction drops deep blocks before the shared start of a
prompt, and a forward walk can stop at the first block no candidate holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Sequence

from kvmesh.gateway.routing.generations import ReplicaGenerations

Holders = dict[str, tuple[float, int]]  # replica id -> (confidence, generation)


class PrefixIndex:
    def __init__(self, capacity: int, min_confidence: float) -> None:
        self._capacity = capacity
        self._min_confidence = min_confidence
        self._entries: OrderedDict[tuple[str, int], Holders] = OrderedDict()
        self._generations = ReplicaGenerations()

    def __len__(self) -> int:
        return len(self._entries)

    def match(
        self, deployment_id: str, blocks: Sequence[int], replica_ids: Collection[str]
    ) -> dict[str, int]:
        """For each of `replica_ids` holding a prefix of `blocks`, the length of its longest one."""
        matched: dict[str, int] = {}
        for depth, block in enumerate(blocks, start=1):
            holders = self._entries.get((deployment_id, block))
            if holders is None:
                break
            found = False
            for replica_id, (confidence, generation) in holders.items():
                if (
                    replica_id in replica_ids
                    and confidence >= self._min_confidence
                    and self._generations.valid(replica_id, generation)
                ):
                    matched[replica_id] = depth
                    found = True
            if not found:
                break
        return matched

    def record(self, deployment_id: str, blocks: Sequence[int], replica_id: str) -> None:
        """`replica_id` now holds every block of this prompt; a known entry keeps its confidence."""
        generation = self._generations.current(replica_id)
        entries = self._entries
        for block in reversed(blocks):
            key = (deployment_id, block)
            holders = entries.get(key)
            if holders is None:
                entries[key] = {replica_id: (1.0, generation)}
                continue
            entries.move_to_end(key)
            held = holders.get(replica_id)
            if held is not None and self._generations.valid(replica_id, held[1]):
                holders[replica_id] = (held[0], generation)
            else:
                holders[replica_id] = (1.0, generation)
        while len(entries) > self._capacity:
            entries.popitem(last=False)

    def confirm(self, deployment_id: str, blocks: Sequence[int], replica_id: str) -> None:
        """The engine reported these blocks cached: full confidence again."""
        generation = self._generations.current(replica_id)
        for block in blocks:
            holders = self._entries.get((deployment_id, block))
            if holders is not None and replica_id in holders:
                holders[replica_id] = (1.0, generation)

    def weaken(self, deployment_id: str, blocks: Sequence[int], replica_id: str, factor: float) -> None:
        """The engine did not have what we predicted: scale confidence down, dropping weak entries."""
        for block in blocks:
            key = (deployment_id, block)
            holders = self._entries.get(key)
            if holders is None or replica_id not in holders:
                continue
            confidence, generation = holders[replica_id]
            confidence *= factor
            if confidence < self._min_confidence * factor:
                del holders[replica_id]
                if not holders:
                    del self._entries[key]
            else:
                holders[replica_id] = (confidence, generation)

    def forget(self, replica_id: str) -> None:
        """Every entry of `replica_id` stops counting at once (removed lazily as entries are touched)."""
        self._generations.forget(replica_id)
