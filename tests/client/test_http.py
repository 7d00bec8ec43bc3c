"""The transport: retries only for idempotent methods, Retry-After clamp, error text, debug redaction."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from tm_standin import GATEWAY_KEY, Standin

from kvmesh.client import HttpStatusError, NetworkError, Transport, format_status_error, retry_delay

pytest_plugins = ("tm_fixtures",)  # the `standin` fixture: a stand-in CP + Gateway


def test_get_is_retried_on_503_and_429_honouring_retry_after(standin: Standin) -> None:
    standin.state.fail_next[:] = [503, 429]
    transport = Transport(max_retries=2)
    response = transport.request("GET", standin.base + "/health")
    assert response.json() == {"status": "ok"}
    assert [r["path"] for r in standin.state.requests] == ["/health"] * 3


def test_post_is_never_retried(standin: Standin) -> None:
    standin.state.fail_next[:] = [503]
    with pytest.raises(HttpStatusError) as caught:
        Transport(max_retries=3).request("POST", standin.base + "/tokenize", json_body={})
    assert caught.value.status == 503
    assert len(standin.state.requests) == 1


def test_status_error_text_has_request_id_body_hint_and_url(standin: Standin) -> None:
    with pytest.raises(HttpStatusError) as caught:
        Transport().request("POST", standin.base + "/tokenize", json_body={}, hints={401: "use a key"})
    assert str(caught.value) == (
        "Request failed: HTTP 401 (request_id=req-123): "
        '{"error": {"message": "invalid api key", "type": "error", '
        f'"code": null}}}}\nHint: use a key\nurl={standin.base}/tokenize'
    )


def test_long_error_bodies_are_truncated() -> None:
    text = format_status_error(500, {}, b"x" * 5000, "http://h/p", None)
    assert text == "Request failed: HTTP 500: " + "x" * 4000 + "...\nurl=http://h/p"


def test_retry_after_is_clamped_and_backoff_doubles() -> None:
    assert retry_delay(1, "120") == 8.0
    assert retry_delay(1, "-3") == 0.0
    assert retry_delay(1, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert [retry_delay(n, None) for n in (1, 2, 3, 5, 9)] == [0.5, 1.0, 2.0, 8.0, 8.0]


def test_connection_refused_is_a_network_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError) as caught:
        Transport().request("GET", f"http://127.0.0.1:{port}/x")
    assert (
        str(caught.value)
        == f"Request failed (network error): connection refused\nurl=http://127.0.0.1:{port}/x"
    )


def test_debug_lines_show_attempts_and_hide_secrets(standin: Standin) -> None:
    lines: list[str] = []
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "X-Api-Key": "k", "X-User-Id": "u"}
    Transport(debug=lines.append).request(
        "GET", standin.base + "/health", headers=headers, params={"a": True}
    )
    assert lines == [
        f"debug: GET {standin.base}/health headers={{'Authorization': 'Bearer ***', 'X-Api-Key': '***', "
        "'X-User-Id': 'u'} params={'a': 'true'} attempt=1/1"
    ]
    assert standin.state.requests[0]["query"] == {"a": "true"}


def test_missing_ca_bundle_file_fails_as_network_error(tmp_path: Path) -> None:
    with pytest.raises((NetworkError, OSError)):
        Transport(verify=str(tmp_path / "none.pem")).request("GET", "https://127.0.0.1:1/")
