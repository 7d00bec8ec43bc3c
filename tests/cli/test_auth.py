"""`tm auth`: login (browser flow, --with-token), refresh, whoami with automatic refresh, status, logout."""

from __future__ import annotations

import json
from pathlib import Path

from tm_harness import Invoke, closed_port, mode, signed_in, write_tokens
from tm_standin import Standin

pytest_plugins = ("tm_fixtures",)


def test_login_saves_tokens_0600_and_reports_on_stderr(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    result = tm("--controlplane-base", standin.base, "auth", "login", "--no-open-browser")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"Open browser: {standin.base}/cli-login?code=abc" in result.stderr
    assert f"Login success. Tokens saved to {tmp_path / 'auth.json'}" in result.stderr
    tokens = json.loads((tmp_path / "auth.json").read_text())
    assert tokens["access_token"] == "at-2" and tokens["refresh_token"] == "rt-2"
    assert mode(tmp_path / "auth.json") == 0o600


def test_login_persists_controlplane_base_flag(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    assert tm("--controlplane-base", standin.base + "/", "auth", "login", "--no-open-browser").exit_code == 0
    config = (tmp_path / "config.toml").read_text()
    assert f'controlplane_base = "{standin.base}"' in config
    assert mode(tmp_path / "config.toml") == 0o600
    assert tm("auth", "whoami").exit_code == 0


def test_login_with_token_reads_raw_token_from_stdin(tm: Invoke, tmp_path: Path) -> None:
    result = tm("auth", "login", "--with-token", input="at-raw\n")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "auth.json").read_text()) == {
        "access_token": "at-raw",
        "token_type": "Bearer",
    }
    assert mode(tmp_path / "auth.json") == 0o600


def test_login_with_token_accepts_a_token_object(tm: Invoke, tmp_path: Path) -> None:
    token = {"access_token": "a", "refresh_token": "r", "expires_in": 60}
    assert tm("auth", "login", "--with-token", input=json.dumps(token)).exit_code == 0
    assert json.loads((tmp_path / "auth.json").read_text()) == token


def test_login_with_token_and_empty_stdin_is_a_usage_error(tm: Invoke, tmp_path: Path) -> None:
    result = tm("auth", "login", "--with-token", input="")
    assert result.exit_code == 2
    assert "Error: No token on stdin." in result.stderr
    assert not (tmp_path / "auth.json").exists()


def test_login_with_control_plane_down_fails_with_one_line_and_hint(tm: Invoke, tmp_path: Path) -> None:
    result = tm(
        "--controlplane-base", f"http://127.0.0.1:{closed_port()}", "auth", "login", "--no-open-browser"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Login start failed (network error). url=http://127.0.0.1:")
    assert f"Hints:\n- Token path: {tmp_path / 'auth.json'}" in result.stderr
    assert "Traceback" not in result.output


def test_login_times_out_when_never_approved(tm: Invoke, standin: Standin) -> None:
    standin.state.pending_polls = 10**6
    result = tm(
        "--controlplane-base", standin.base, "auth", "login", "--no-open-browser", "--max-wait-seconds", "0.2"
    )
    assert result.exit_code == 1
    assert "Error: Login timed out after 0.2 seconds." in result.stderr


def test_login_rejects_non_positive_max_wait(tm: Invoke) -> None:
    result = tm("auth", "login", "--max-wait-seconds", "0")
    assert result.exit_code == 2
    assert "Error: Timeout must be greater than 0 seconds." in result.stderr


def test_whoami_prints_profile_as_yaml(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("auth", "whoami")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("user:\n  id: 1b4e28ba-2fa1-11d2-883f-0016d3cca427\n")


def test_whoami_without_token_is_a_usage_error_with_note(tm: Invoke) -> None:
    result = tm("auth", "whoami")
    assert result.exit_code == 2
    assert "No control plane access token found. Run `tm auth login` first." in result.stderr
    assert "Note: gateway API keys do not authenticate the control plane." in result.stderr


def test_expired_access_token_is_refreshed_once_and_saved(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    signed_in(tmp_path, standin)
    standin.state.access_tokens.clear()  # at-1 expired; rt-1 still valid
    result = tm("auth", "whoami")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "auth.json").read_text())
    assert saved["access_token"] == "at-2" and saved["refresh_token"] == "rt-2"
    assert mode(tmp_path / "auth.json") == 0o600
    assert [r["path"] for r in standin.state.requests] == [
        "/auth/profile",
        "/auth/cli/refresh",
        "/auth/profile",
    ]


def test_revoked_token_without_refresh_shows_login_hint(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.access_tokens.clear()
    standin.state.refresh_tokens.clear()
    result = tm("auth", "whoami")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Whoami failed.\nRequest failed: HTTP 401 (request_id=req-123): ")
    assert "Hint: run `tm auth login` to authenticate to the control plane." in result.stderr
    assert "Hints:\n- Try: tm auth refresh" in result.stderr


def test_refresh_replaces_auth_json(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("auth", "refresh")
    assert result.exit_code == 0
    assert result.stdout == "Refresh success. Tokens updated.\n"
    assert json.loads((tmp_path / "auth.json").read_text())["refresh_token"] == "rt-2"


def test_refresh_without_refresh_token_fails(tm: Invoke, tmp_path: Path) -> None:
    write_tokens(tmp_path, refresh=None)
    result = tm("auth", "refresh")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: No refresh token found. Please login first.\n\nHints:\n- Run: tm auth login"
    )


def test_status_exit_status_fails_when_not_ready(tm: Invoke) -> None:
    result = tm("auth", "status", "--exit-status")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "tm auth status\n\nControl Plane: base=https://api.tensormesh.ai token=missing"
    )


def test_status_reports_invalid_token_file(tm: Invoke, tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text("[]")
    result = tm("--output", "json", "auth", "status")
    data = json.loads(result.stdout)
    assert data["control_plane"]["error"].startswith("Invalid token file JSON: expected a JSON object")
    assert data["ready"]["overall"] is False


def test_logout_revokes_server_side_and_deletes_file(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("auth", "logout", "--yes")
    assert result.exit_code == 0
    assert result.stdout == f"Deleted token file: {tmp_path / 'auth.json'}\n"
    assert standin.state.revoked == ["at-1"]
    assert not (tmp_path / "auth.json").exists()
    assert tm("auth", "logout").stdout == f"Already logged out (no token file): {tmp_path / 'auth.json'}\n"


def test_logout_works_with_control_plane_down(tm: Invoke, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    result = tm("--controlplane-base", f"http://127.0.0.1:{closed_port()}", "auth", "logout", "--yes")
    assert result.exit_code == 0
    assert not (tmp_path / "auth.json").exists()


def test_print_token_requires_acknowledgement(tm: Invoke, tmp_path: Path) -> None:
    write_tokens(tmp_path)
    refused = tm("auth", "print-token")
    assert refused.exit_code == 1
    assert "Re-run with: tm auth print-token --yes-i-know" in refused.stderr
    assert tm("auth", "print-token", "--yes-i-know").stdout == "at-1\n"
