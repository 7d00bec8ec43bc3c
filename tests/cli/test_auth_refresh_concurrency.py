"""Parallel `tm` processes that all find the access token refused refresh it once, and nobody is signed out.

The Control Plane rotates refresh tokens and revokes the whole family when a spent one comes back
(reuse detection). Without a lock, N processes each spend the same refresh token: one wins, the
rest look like theft. With the lock in the state root, the first refreshes and the others re-read
auth.json and use its new tokens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_auth_real_controlplane import EMAIL, _issue_tokens, controlplane  # noqa: F401  (its fixture)
from tm_harness import Invoke, mode

pytest_plugins = ("tm_fixtures",)

PARALLEL = 6


def _tm_process(state_root: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORMESH_")}
    return subprocess.Popen(
        [sys.executable, "-m", "kvmesh", *args],
        env={**env, "TM_CONFIG_HOME": str(state_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_parallel_whoami_with_a_refused_access_token_refresh_once_and_stay_signed_in(
    tm: Invoke, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: tuple[str, dict[str, str]] = request.getfixturevalue("controlplane")
    tokens_json = _issue_tokens(server)
    signed_in = tm("--controlplane-base", server[0], "auth", "login", "--with-token", input=tokens_json)
    assert signed_in.exit_code == 0, signed_in.output
    auth = tmp_path / "auth.json"
    tokens = json.loads(auth.read_text())
    auth.write_text(json.dumps({**tokens, "access_token": "refused.access.token"}))

    processes = [_tm_process(tmp_path, "--output", "json", "auth", "whoami") for _ in range(PARALLEL)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]

    failures = [err for code, _, err in results if code != 0]
    assert not failures, f"{len(failures)} of {PARALLEL} failed; first: {failures[0]}"
    assert all(json.loads(out)["user"]["userEmail"] == EMAIL for _, out, _ in results)
    assert json.loads(auth.read_text())["refresh_token"] != tokens["refresh_token"]
    assert mode(tmp_path / "auth.json.lock") == 0o600
    still_signed_in = tm("auth", "refresh")
    assert still_signed_in.exit_code == 0, still_signed_in.output
