"""An external deployment's upstream API key: stored only encrypted, never returned, still sent upstream."""

from __future__ import annotations

import json
import time
from typing import Any

from records_harness import deploy, sign_up

from kvmesh.engines.settings import EngineSettings
from kvmesh.store.models import Deployment
from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY, decrypt_secret

UPSTREAM_KEY = "sk-upstream-secret"


class HeaderRecordingUpstream:
    """A tiny OpenAI-compatible upstream (ASGI) that records the Authorization header of every request."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        self.authorizations.append(headers.get(b"authorization", b"").decode())
        body = json.dumps({"object": "list", "data": [{"id": "upstream", "object": "model"}]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _stored_config(live: Any, deployment_id: str) -> tuple[str, dict[str, Any]]:
    with live.app.state.services.session_factory() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        return deployment.status, dict(deployment.engine_config or {})


def test_upstream_key_is_stored_encrypted_and_never_returned(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    record = deploy(
        alice, "ext", provider="external", upstreamUrl="http://127.0.0.1:9/v1", upstreamApiKey=UPSTREAM_KEY
    )
    _, config = _stored_config(live, record["deploymentId"])
    assert "api_key" not in config and UPSTREAM_KEY not in json.dumps(config)
    assert decrypt_secret(live.app.state.services.secret, config[ENCRYPTED_UPSTREAM_KEY]) == UPSTREAM_KEY
    for path in ("/v1/deployments", "/v1/models", f"/v1/models/{record['deploymentId']}"):
        assert UPSTREAM_KEY not in alice.client.get(path).text
    assert ENCRYPTED_UPSTREAM_KEY not in json.dumps(record)


def test_an_api_key_given_in_engine_config_is_encrypted_too(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    record = deploy(
        alice,
        "ext",
        provider="external",
        upstreamUrl="http://127.0.0.1:9/v1",
        engineConfig={"api_key": UPSTREAM_KEY},
    )
    _, config = _stored_config(live, record["deploymentId"])
    assert "api_key" not in config and UPSTREAM_KEY not in json.dumps(config)


def test_the_external_replica_still_sends_the_upstream_key(control_plane: Any, serve_app: Any) -> None:
    upstream = HeaderRecordingUpstream()
    upstream_base = serve_app(lambda port: upstream).base_url
    live = control_plane(
        run_engines=True,
        engines=EngineSettings(engine_poll_interval_s=0.2, engine_health_interval_s=0.5),
    )
    alice = sign_up(live, "alice@example.com")
    record = deploy(
        alice, "ext", provider="external", upstreamUrl=upstream_base + "/v1", upstreamApiKey=UPSTREAM_KEY
    )
    deadline = time.monotonic() + 30
    while (status := _stored_config(live, record["deploymentId"])[0]) != "ready":
        assert status != "failed" and time.monotonic() < deadline, f"deployment is {status}"
        time.sleep(0.1)
    assert upstream.authorizations and set(upstream.authorizations) == {f"Bearer {UPSTREAM_KEY}"}
