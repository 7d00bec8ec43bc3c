"""Replica generations: forgetting a replica is O(1), and entries recorded before it are ignored lazily."""

from __future__ import annotations


class ReplicaGenerations:
    """Each replica id has a generation; `forget` bumps it, so older index entries stop counting at once."""

    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def current(self, replica_id: str) -> int:
        return self._current.get(replica_id, 0)

    def valid(self, replica_id: str, generation: int) -> bool:
        return self._current.get(replica_id, 0) == generation

    def forget(self, replica_id: str) -> None:
        self._current[replica_id] = self._current.get(replica_id, 0) + 1
