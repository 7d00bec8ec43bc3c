"""usage_totals cuts a window into whole UTC days (read from the rollup) and partial days (raw rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from kvmesh.controlplane.usage_totals import split_window


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_day_aligned_window_is_only_whole_days() -> None:
    assert split_window(at(1), at(4)) == ((date(2026, 11, 1), date(2026, 11, 4)), [])


def test_mid_day_edges_become_partial_ranges_around_the_whole_days() -> None:
    whole, partial = split_window(at(1, 13, 30), at(4, 6))
    assert whole == (date(2026, 11, 2), date(2026, 11, 4))
    assert partial == [(at(1, 13, 30), at(2)), (at(4), at(4, 6))]


def test_a_window_across_one_midnight_is_two_partial_days() -> None:
    assert split_window(at(1, 10), at(2, 5)) == (None, [(at(1, 10), at(2)), (at(2), at(2, 5))])


def test_a_window_inside_one_day_is_one_partial_range() -> None:
    assert split_window(at(1, 10), at(1, 11)) == (None, [(at(1, 10), at(1, 11))])
    assert split_window(at(1, 10), at(2)) == (None, [(at(1, 10), at(2))])


def test_an_empty_or_backwards_window_reads_nothing() -> None:
    assert split_window(at(2), at(2)) == (None, [])
    assert split_window(at(3), at(2)) == (None, [])
