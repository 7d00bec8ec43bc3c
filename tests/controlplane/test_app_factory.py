"""The CP app: migrations on start, OpenAPI, request ids, wire error bodies, access logs without secrets."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from login_forms import PASSWORD, add_user, approve, start_login

from kvmesh.controlplane.app import create_app
from kvmesh.controlplane.settings import ControlPlaneSettings
from kvmesh.store.migrate import current_revision, head_revision


def test_server_start_migrates_an_empty_database(control_plane: Any, database_url: str) -> None:
    control_plane()
    assert current_revision(database_url) == head_revision()


def test_openapi_lists_the_auth_endpoints(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/auth/cli/start",
        "/auth/cli/exchange",
        "/auth/cli/refresh",
        "/auth/logout",
        "/auth/profile",
    } <= set(paths)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error_type"),
    [
        ("GET", "/auth/profile", {}, 401, "authentication_error"),
        ("GET", "/no/such/path", {}, 404, "not_found_error"),
        ("POST", "/auth/cli/exchange", {"json": {"wrong": 1}}, 422, "invalid_request_error"),
        (
            "POST",
            "/auth/cli/refresh",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "invalid_request_error",
        ),
    ],
)
def test_errors_use_the_wire_body_and_carry_a_request_id(
    control_plane: Any, method: str, path: str, kwargs: dict[str, Any], status: int, error_type: str
) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        response = client.request(method, path, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert error["type"] == error_type
    assert "\n" not in error["message"]
    assert response.headers["x-request-id"].startswith("req-")


def test_validation_errors_are_one_line_naming_the_field(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        missing_field = client.post("/auth/cli/exchange", json={})
        not_json = client.post(
            "/auth/cli/exchange", content=b"{", headers={"content-type": "application/json"}
        )
        no_body = client.post("/auth/cli/exchange")
    assert missing_field.json()["error"]["message"] == "cli_code: Field required"
    assert not_json.json()["error"]["message"] == "request body is not valid JSON"
    assert no_body.json()["error"]["message"] == "request body: Field required"


def test_sane_incoming_request_id_is_echoed_and_junk_replaced(control_plane: Any) -> None:
    live = control_plane()
    with httpx.Client(base_url=live.base_url) as client:
        echoed = client.get("/healthz", headers={"X-Request-Id": "trace-42.a"})
        replaced = client.get("/healthz", headers={"X-Request-Id": "bad id\twith junk"})
    assert echoed.headers["x-request-id"] == "trace-42.a"
    assert replaced.headers["x-request-id"].startswith("req-")


def test_unexpected_exception_is_a_500_wire_error_with_request_id(
    serve_app: Any, database_url: str, tmp_path: Path
) -> None:
    settings = ControlPlaneSettings(database_url=database_url, data_dir=tmp_path / "cp", run_engines=False)

    def make_app(port: int) -> Any:
        app = create_app(replace(settings, port=port))

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("internal detail that must not leak")

        return app

    live = serve_app(make_app)
    with httpx.Client(base_url=live.base_url) as client:
        response = client.get("/boom", headers={"X-Request-Id": "boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert response.json()["error"]["type"] == "api_error"
    assert "internal detail" not in response.text


def test_access_log_has_request_ids_and_no_secrets(
    control_plane: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kvmesh.controlplane.access")
    live = control_plane()
    add_user(live)
    with httpx.Client(base_url=live.base_url) as client:
        started = start_login(client)
        approve(client, started["auth_url"], "alice@example.com")
        tokens = client.post(
            "/auth/cli/exchange", json={"cli_code": started["cli_code"]}, headers={"X-Request-Id": "rid-7"}
        ).json()
        client.post("/auth/cli/refresh", json={"refresh_token": tokens["refresh_token"]})
    lines = [record.getMessage() for record in caplog.records if record.name == "kvmesh.controlplane.access"]
    assert any(
        line.startswith("POST /auth/cli/exchange 200 ") and "request_id=rid-7" in line for line in lines
    )
    text = caplog.text
    for secret in (
        started["cli_code"],
        tokens["access_token"],
        tokens["refresh_token"],
        PASSWORD,
        started["user_code"],
    ):
        assert secret not in text
