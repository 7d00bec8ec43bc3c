"""Schemathesis on every Control Plane operation, signed in and not, plus hostile JSON: never a 5xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from bad_input_profile import bounded
from hypothesis import example, given
from hypothesis import strategies as st

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the inputs, not the backend, are under test here (overrides the two-backend fixture)."""
    return f"sqlite:///{tmp_path / 'cp.db'}"


@pytest.fixture
def live(control_plane: Any) -> Any:
    return control_plane()


def _sign_up_admin(live: Any) -> str:
    from kvmesh.controlplane.tokens import TokenLifetimes, issue_tokens
    from kvmesh.store.passwords import make_password_hasher
    from kvmesh.store.users import create_user

    services = live.app.state.services
    with services.session_factory() as session:
        user, _ = create_user(
            session,
            services.secret,
            "root@example.com",
            "pw-123456789",
            admin=True,
            hasher=make_password_hasher(1, 8),
        )
        tokens = issue_tokens(session, services.jwt_key, user, TokenLifetimes(3600, 3600))
        session.commit()
    return str(tokens["access_token"])


def _assert_client_or_success(status: int, body: bytes) -> None:
    assert status < 500, body[:500]
    if status >= 400:
        error = json.loads(body)["error"]
        assert isinstance(error["message"], str) and "\n" not in error["message"].strip()


def test_generated_requests_never_make_the_control_plane_fail(live: Any) -> None:
    token = _sign_up_admin(live)
    schema = schemathesis.openapi.from_dict(httpx.get(f"{live.base_url}/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    strategy = st.one_of([operation.as_strategy() for operation in operations])

    @given(case=strategy, signed_in=st.booleans())
    @bounded(150, 4000)
    def run(case: Any, signed_in: bool) -> None:
        headers = {"Authorization": f"Bearer {token}"} if signed_in else {}
        response = case.call(base_url=live.base_url, headers=headers, timeout=30)
        _assert_client_or_success(response.status_code, response.content)

    run()


@pytest.mark.parametrize("path", ["/v1/deployments", "/v1/users/api-keys", "/auth/cli/refresh", "/v1/models"])
def test_hostile_json_bodies_are_client_errors(live: Any, path: str) -> None:
    headers = {"Authorization": f"Bearer {_sign_up_admin(live)}", "Content-Type": "application/json"}

    @given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    @example(body=DEEP.encode())
    @example(body=b'{"modelName": "' + b"x" * 100_000 + b'"}')
    @example(body=b'{"name": "\\ud800", "modelName": "\\udfff"}')
    @example(body=b'{"modelName": "m", "replicas": 1e400}')
    @bounded(40, 1000)
    def run(body: bytes) -> None:
        response = httpx.post(live.base_url + path, content=body, headers=headers, timeout=30)
        _assert_client_or_success(response.status_code, response.content)

    run()
