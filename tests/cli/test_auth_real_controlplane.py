"""`tm` against the real Control Plane (subprocess, SQLite): sign-in with a token, whoami, automatic
refresh, `init --sync` without a deployment, deployments, refresh rotation and logout revocation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tm_harness import Invoke, closed_port, mode

pytest_plugins = ("tm_fixtures",)

EMAIL = "owner@example.com"


@pytest.fixture(scope="module")
def controlplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("cp-data")
    db = f"sqlite:///{data}/kvmesh.db"
    env = {**os.environ, "KVMESH_DATA_DIR": str(data)}
    kvmesh = [sys.executable, "-m", "kvmesh", "controlplane"]
    port = closed_port()
    log = (data / "cp.log").open("w")
    server = subprocess.Popen(
        [
            *kvmesh,
            "serve",
            "--port",
            str(port),
            "--database-url",
            db,
            "--no-engines",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/auth/profile", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("control plane did not start: " + (data / "cp.log").read_text()[-2000:])
                time.sleep(0.2)
        subprocess.run(
            [*kvmesh, "create-user", "--email", EMAIL, "--password", "pw-123456789", "--database-url", db],
            env=env,
            check=True,
            capture_output=True,
        )
        yield base, {"db": db, "data": str(data)}
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _issue_tokens(controlplane: tuple[str, dict[str, str]]) -> str:
    _, where = controlplane
    env = {**os.environ, "KVMESH_DATA_DIR": where["data"]}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kvmesh",
            "controlplane",
            "issue-tokens",
            "--email",
            EMAIL,
            "--database-url",
            where["db"],
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture
def signed_in_cp(tm: Invoke, controlplane: tuple[str, dict[str, str]]) -> str:
    base, _ = controlplane
    result = tm(
        "--controlplane-base", base, "auth", "login", "--with-token", input=_issue_tokens(controlplane)
    )
    assert result.exit_code == 0, result.output
    return base


def test_whoami_shows_the_account(tm: Invoke, signed_in_cp: str, tmp_path: Path) -> None:
    result = tm("--output", "json", "auth", "whoami")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["user"]["userEmail"] == EMAIL
    assert mode(tmp_path / "auth.json") == 0o600


def test_a_bad_access_token_is_refreshed_automatically(tm: Invoke, signed_in_cp: str, tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    tokens = json.loads(auth.read_text())
    auth.write_text(json.dumps({**tokens, "access_token": "expired.token.value"}))
    result = tm("auth", "whoami")
    assert result.exit_code == 0, result.output
    fresh = json.loads(auth.read_text())
    assert fresh["access_token"] != "expired.token.value"
    assert fresh["refresh_token"] != tokens["refresh_token"]


def test_init_sync_without_deployment_uses_the_first_api_key(
    tm: Invoke, signed_in_cp: str, tmp_path: Path
) -> None:
    result = tm("init", "--sync")
    assert result.exit_code == 0, result.output
    assert "model_id=unset" in result.stdout
    assert "tm deployments create --wait" in result.stderr
    assert 'gateway_api_key = "tmk_' in (tmp_path / "config.toml").read_text()


def test_pending_deployment_reports_progress_and_times_out(tm: Invoke, signed_in_cp: str) -> None:
    created = tm("--output", "json", "deployments", "create", "--name", "cli-test")
    assert created.exit_code == 0, created.output
    dep_id = json.loads(created.stdout)["deployment"]["deploymentId"]
    result = tm("deployments", "wait", dep_id, "--wait-timeout", "0.5", "--interval", "0.2")
    assert result.exit_code == 1
    assert f"Deployment {dep_id}: MODEL_STATUS_PENDING" in result.stderr
    assert f"- Keep waiting: tm deployments wait {dep_id}" in result.stderr
    assert dep_id in tm("models", "list").stdout
    assert tm("deployments", "delete", dep_id, "--yes").exit_code == 0


def test_refresh_rotates_and_logout_revokes(tm: Invoke, signed_in_cp: str, tmp_path: Path) -> None:
    assert tm("auth", "refresh").exit_code == 0
    revoked = json.loads((tmp_path / "auth.json").read_text())
    assert tm("auth", "logout", "--yes").exit_code == 0
    (tmp_path / "auth.json").write_text(json.dumps(revoked))
    result = tm("auth", "refresh")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Refresh failed: 401 ")
