"""Schemathesis and raw bytes against a live Gateway: no 500, no 5xx it caused itself, no hang.

The Gateway is bare ASGI without an OpenAPI document of its own; `gateway_openapi.json` here
describes its endpoints for the generator. 502/503/504 are accepted only with a code that names an
upstream cause (the stand-in upstream answers whatever body it is sent, including nonsense).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from bad_input_profile import bounded
from hypothesis import example, given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))  # the Gateway tests' harness

from gateway_harness import SERVED_NAME, SERVERLESS_MODEL, GatewayStore
from gateway_standin import StandInUpstream

from kvmesh.gateway.app import create_app
from kvmesh.gateway.server import ThreadedGateway
from kvmesh.gateway.settings import GatewaySettings
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.models import Base

SCHEMA = Path(__file__).with_name("gateway_openapi.json")
UPSTREAM_CAUSED = {
    "upstream_status",
    "upstream_protocol",
    "upstream_timeout",
    "upstream_disconnected",
    "upstream_connect",
    "upstream_invalid_json",
    "model_not_ready",
}


class LiveStack:
    def __init__(self, base_url: str, key: str, user_id: str) -> None:
        self.base_url, self.key, self.user_id = base_url, key, user_id


@pytest.fixture
def stack(tmp_path: Path, serve_app: Any) -> LiveStack:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = create_engine_for_url(url)
    Base.metadata.create_all(engine)
    store = GatewayStore(url, make_session_factory(engine))
    standin = serve_app(lambda port: StandInUpstream())
    tenant = store.add_user()
    deployment = store.add_deployment(tenant.user_id, SERVED_NAME, [standin.base_url + "/v1"])
    store.add_serverless(SERVERLESS_MODEL, deployment, input_price=1_000_000, output_price=2_000_000)
    store.grant(tenant.user_id, 10_000_000_000)
    settings = GatewaySettings(
        database_url=url,
        server_secret=store.secret,
        upstream_allowlist=("127.0.0.1/32",),
        first_byte_timeout=5.0,
        idle_timeout=5.0,
    )
    gateway = serve_app(lambda port: create_app(settings), ThreadedGateway)
    return LiveStack(gateway.base_url, tenant.key, tenant.user_id)


def _assert_no_gateway_failure(status: int, body: bytes) -> None:
    assert status != 500, body[:500]
    if status >= 400:
        error = json.loads(body)["error"]
        assert isinstance(error["message"], str) and error["message"]
        if status >= 500:
            assert error.get("code") in UPSTREAM_CAUSED, body[:500]


def test_generated_requests_never_make_the_gateway_fail(stack: LiveStack) -> None:
    text = SCHEMA.read_text()
    text = text.replace("__SERVED__", SERVED_NAME).replace("__SERVERLESS__", SERVERLESS_MODEL)
    schema = schemathesis.openapi.from_dict(json.loads(text.replace("__USER__", stack.user_id)))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    strategy = st.one_of([operation.as_strategy() for operation in operations])
    headers = {"Authorization": f"Bearer {stack.key}"}

    @given(case=strategy)
    @bounded(150, 3000)
    def run(case: Any) -> None:
        response = case.call(base_url=stack.base_url, headers=headers, timeout=30)
        _assert_no_gateway_failure(response.status_code, response.content)

    run()


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/tokenize"])
def test_raw_bytes_get_client_errors(stack: LiveStack, path: str) -> None:
    headers = {"Authorization": f"Bearer {stack.key}", "X-User-Id": stack.user_id}

    @given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
    @example(body=b"\xff\xfe{")
    @example(body=b'{"model": "\\ud800", "messages": []}')
    @bounded(60, 1500)
    def run(body: bytes) -> None:
        response = httpx.post(stack.base_url + path, content=body, headers=headers, timeout=30)
        _assert_no_gateway_failure(response.status_code, response.content)
        assert response.status_code < 500

    run()
