"""Engine-reported cache contents per replica: the input a KV-events feed fills for precise routing.

A feed (e.g. vLLM's KV events) calls `stored`/`removed`/`cleared` as engines report blocks; the
Router hands this object to the policy at each choice. Block hashes must be the same chain the
request carries in `RouteRequest.prefix_blocks` (a feed with its own hashing maps them first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class ReportedCacheState:
    def __init__(self) -> None:
        self._blocks: dict[str, set[int]] = {}

    def stored(self, replica_id: str, block_hashes: Iterable[int]) -> None:
        self._blocks.setdefault(replica_id, set()).update(block_hashes)

    def removed(self, replica_id: str, block_hashes: Iterable[int]) -> None:
        held = self._blocks.get(replica_id)
        if held is not None:
            held.difference_update(block_hashes)

    def cleared(self, replica_id: str) -> None:
        """The replica reported an empty cache (or went away): nothing is held there any more."""
        self._blocks[replica_id] = set()

    def matched_blocks(self, replica_id: str, block_hashes: Sequence[int]) -> int | None:
        held = self._blocks.get(replica_id)
        if held is None:
            return None
        depth = 0
        for block in block_hashes:
            if block not in held:
                break
            depth += 1
        return depth
