"""The published tensormesh 0.1.9 `tm` signs in against our CP when the page is approved in Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from login_forms import add_user, approve_in_browser

pytestmark = [pytest.mark.reference, pytest.mark.browser]


def _reference_tm() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        from reference_client import ensure_reference_tm
    finally:
        sys.path.pop(0)
    return Path(ensure_reference_tm())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reference_tm_login_whoami_refresh(control_plane: Any, chromium: Any, tmp_path: Path) -> None:
    tm = str(_reference_tm())
    live = control_plane()
    add_user(live)
    env = {**os.environ, "TM_CONFIG_HOME": str(tmp_path / "tm")}
    env.pop("TENSORMESH_CONTROL_PLANE_BASE_URL", None)
    base = [tm, "--controlplane-base", live.base_url]
    login = subprocess.Popen(
        [*base, "auth", "login", "--no-open-browser", "--max-wait-seconds", "60"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert login.stderr is not None
        first_line = login.stderr.readline()
        assert first_line.startswith("Open browser: "), first_line
        auth_url = first_line.removeprefix("Open browser: ").strip()
        assert approve_in_browser(chromium, auth_url, "alice@example.com") == "CLI login approved"
        _, stderr = login.communicate(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
    assert login.returncode == 0, stderr
    assert "Login success. Tokens saved to" in stderr
    auth_json = tmp_path / "tm" / "auth.json"
    tokens = json.loads(auth_json.read_text())
    assert tokens["access_token"] and tokens["refresh_token"]

    whoami = subprocess.run(
        [*base, "--output", "json", "auth", "whoami"], env=env, capture_output=True, text=True, timeout=60
    )
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["user"]["userEmail"] == "alice@example.com"

    refresh = subprocess.run([*base, "auth", "refresh"], env=env, capture_output=True, text=True, timeout=60)
    assert refresh.returncode == 0, refresh.stderr
    assert "Refresh success. Tokens updated." in refresh.stdout
    assert json.loads(auth_json.read_text())["refresh_token"] != tokens["refresh_token"]
    whoami_again = subprocess.run(
        [*base, "auth", "whoami"], env=env, capture_output=True, text=True, timeout=60
    )
    assert whoami_again.returncode == 0, whoami_again.stderr
