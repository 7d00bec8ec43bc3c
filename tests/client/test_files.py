"""Atomic 0600 writes (protocol.md §1.1)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kvmesh.client import atomic_write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_text_with_mode_0600_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "config.toml"
    atomic_write_text(target, "x = 1\n")
    assert target.read_text() == "x = 1\n"
    assert _mode(target) == 0o600


def test_existing_file_with_loose_mode_ends_up_0600(tmp_path: Path) -> None:
    target = tmp_path / "auth.json"
    target.write_text("old")
    target.chmod(0o644)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o600


def test_no_temp_file_is_left_behind(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "config.toml", "x = 1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_temp_file_is_hidden_named_after_the_target_in_the_same_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_text(tmp_path / "auth.json", "{}")
    tmp = Path(seen[0])
    assert tmp.parent == tmp_path
    assert tmp.name.startswith(".auth.json.") and tmp.name.endswith(".tmp")


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old = 1\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "bad \udcff surrogate")
    assert target.read_text() == "old = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
