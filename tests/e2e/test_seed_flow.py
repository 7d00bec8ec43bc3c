"""The docs' first-request flow, verbatim, against a real local stack (`tm local up`) and the real model.

`tm local up` starts Control Plane, Gateway and the embedded llama.cpp engine with SmolLM2-135M
and signs the CLI in (it stands in for the browser step of `tm auth login`). Every other command
is the seed page's, word for word, run as a fresh `tm` process with TM_CONFIG_HOME in a temp dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

TM = [sys.executable, "-m", "kvmesh"]
SAY_HELLO = '[{"role":"user","content":"Say hello."}]'
STREAM_TOKENS = '[{"role":"user","content":"Stream tokens."}]'


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from kvmesh.engines.llamacpp_build import find_llama_server

    if find_llama_server() is None:
        pytest.skip("llama-server is not built (kvmesh.engines.llamacpp_build)")
    state = tmp_path_factory.mktemp("tm-home")
    env = _env(state)
    ports = ["--controlplane-port", str(_free_port()), "--gateway-port", str(_free_port())]
    up = subprocess.run(
        [*TM, "local", "up", *ports, "--quiet"], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield state
    finally:
        subprocess.run([*TM, "local", "down"], env=env, capture_output=True, timeout=120)


def _env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORMESH_")}
    return {**env, "TM_CONFIG_HOME": str(state)}


def tm(state: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TM, *args], env=_env(state), input=stdin or "", capture_output=True, text=True, timeout=300
    )


def test_init_shows_local_state(home: Path) -> None:
    result = tm(home, "init")
    assert result.returncode == 0, result.stderr
    assert "Control Plane: base=http://127.0.0.1:" in result.stdout


def test_init_sync_stores_the_served_model(home: Path) -> None:
    result = tm(home, "init", "--sync")
    assert result.returncode == 0, result.stderr
    assert "Synced managed config:" in result.stdout
    assert "model_id=smollm2-135m-instruct" in result.stdout
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600


def test_chat_answers(home: Path) -> None:
    result = tm(home, "infer", "chat", "--json", SAY_HELLO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_chat_streams_from_stdin(home: Path) -> None:
    result = tm(home, "infer", "chat", "--stream", stdin=STREAM_TOKENS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and result.stdout.strip()


def test_chat_streams_with_a_longer_idle_timeout(home: Path) -> None:
    result = tm(home, "infer", "chat", "--stream", "--stream-idle-timeout", "600", stdin=STREAM_TOKENS)
    assert result.returncode == 0, result.stderr


def test_chat_with_latest_model(home: Path) -> None:
    result = tm(home, "infer", "chat", "--model", "@latest", "--json", SAY_HELLO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_infer_doctor_is_ready(home: Path) -> None:
    result = tm(home, "infer", "doctor", "--live", "--exit-status")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.xfail(
    reason="`tm local up` does not write `serverless_base` yet, so the serverless shortcut goes to "
    "https://serverless.tensormesh.ai; with `--base-url <local gateway>` it answers",
    strict=False,
)
def test_serverless_shortcut_with_a_listed_model(home: Path) -> None:
    pricing = tm(home, "--output", "json", "billing", "pricing", "serverless", "list")
    assert pricing.returncode == 0, pricing.stderr
    models = [item["model"] for item in json.loads(pricing.stdout)["pricing"]]
    assert models, "the local Control Plane publishes no serverless model"
    key = tm(home, "--output", "json", "config", "show").stdout
    api_key_shown = json.loads(key)["gateway_api_key"]
    assert api_key_shown  # redacted in `config show`; the CLI reuses the stored key by itself
    result = tm(home, "infer", "chat", "--surface", "serverless", "--model", models[0], "--json", SAY_HELLO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
