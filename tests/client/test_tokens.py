"""auth.json reading, writing and its one-line errors (protocol.md §1.7)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kvmesh.client import TokenFileError, delete_token_file, read_token_file, write_token_file


def test_absent_file_reads_as_none(tmp_path: Path) -> None:
    assert read_token_file(tmp_path / "auth.json") is None


def test_write_is_two_space_json_with_newline_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write_token_file(path, {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600})
    assert (
        path.read_text()
        == '{\n  "access_token": "at-1",\n  "refresh_token": "rt-1",\n  "expires_in": 3600\n}\n'
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_token_file(path) == {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600}


def test_not_json_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("{nope")
    with pytest.raises(TokenFileError) as info:
        read_token_file(path)
    assert str(info.value).startswith(f"Invalid token file JSON: {path}: Expecting property name")
    assert "\n" not in str(info.value)


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("[1]")
    with pytest.raises(TokenFileError, match=r"^Invalid token file JSON: expected a JSON object: "):
        read_token_file(path)


@pytest.mark.parametrize("body", ['{"refresh_token": "r"}', '{"access_token": "  "}', '{"access_token": 5}'])
def test_missing_access_token(tmp_path: Path, body: str) -> None:
    path = tmp_path / "auth.json"
    path.write_text(body)
    with pytest.raises(TokenFileError) as info:
        read_token_file(path)
    assert str(info.value) == f"Invalid token file: missing or invalid 'access_token': {path}"


def test_corrupt_file_is_not_rewritten_by_reading(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("garbage")
    with pytest.raises(TokenFileError):
        read_token_file(path)
    assert path.read_text() == "garbage"


def test_delete_reports_whether_a_file_was_removed(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write_token_file(path, {"access_token": "a"})
    assert delete_token_file(path) is True
    assert delete_token_file(path) is False
