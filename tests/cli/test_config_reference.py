"""Byte-for-byte parity with the published tensormesh 0.1.9 `tm` for config output and config errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.reference

OURS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "tm"


@pytest.fixture(scope="module")
def reference_tm() -> Path:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from reference_client import ensure_reference_tm

    return ensure_reference_tm()


def _run(executable: Path, root: Path, config: str | None, args: list[str]) -> tuple[int, str, str]:
    root.mkdir()
    if config is not None:
        (root / "config.toml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORMESH_")}
    done = subprocess.run(
        [str(executable), *args], capture_output=True, text=True, env={**env, "TM_CONFIG_HOME": str(root)}
    )
    files = sorted(p.name for p in root.iterdir())
    body = (root / "config.toml").read_text() if "config.toml" in files else ""
    replace = str(root)
    return (
        done.returncode,
        (done.stdout + body).replace(replace, "ROOT"),
        done.stderr.replace(replace, "ROOT"),
    )


def _without_our_additions(text: str) -> str:
    """Drop the keys we append (`serverless_base`), in JSON or line-based output."""
    if text.startswith("{"):
        data = json.loads(text)
        for part in (data, data.get("values", {}), data.get("sources", {})):
            part.pop("serverless_base", None)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return "".join(line for line in text.splitlines(keepends=True) if "serverless_base" not in line)


CASES = [
    ("timeout_seconds = \n", ["config", "show"]),
    ('profile = "x"\ncontrolplane_auth_json = "y"\n', ["config", "show"]),
    ("managed = 3\n", ["config", "show"]),
    ('timeout_seconds = "abc"\n', ["config", "show"]),
    ("max_retries = 1.5\n", ["config", "show"]),
    ('[overrides]\ngateway_provider = "aws"\n', ["config", "show"]),
    (None, ["--gateway-provider", "foo", "config", "show"]),
    (None, ["--timeout", "0", "config", "show"]),
    ('[managed]\ngateway_api_key = "sk-managed-abcdefgh"\ngateway_provider = "Yotta"\n', ["config", "show"]),
    (None, ["--output", "json", "--timeout", "5", "--max-retries", "2", "config", "show", "--sources"]),
    (None, ["--output", "table", "config", "show"]),
    (None, ["config", "init"]),
    ("x = 1\n", ["config", "init"]),
    ('[managed]\nsynced_at = "s"\ngateway_api_key = "k"\nother = 1\n', ["config", "init", "--force"]),
]


@pytest.mark.parametrize(("config", "args"), CASES)
def test_same_bytes_as_the_reference(
    reference_tm: Path, tmp_path: Path, config: str | None, args: list[str]
) -> None:
    theirs = _run(reference_tm, tmp_path / "ref", config, args)
    ours = _run(OURS, tmp_path / "ours", config, args)
    assert (ours[0], _without_our_additions(ours[1]), ours[2]) == theirs
