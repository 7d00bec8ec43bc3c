"""A bounded schemathesis run against the CP's own /openapi.json: no 5xx, and every response
(status, content type, body) matches the documented schema, for the system-of-record routes."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from records_harness import deploy, sign_up
from schemathesis import checks

RECORD_PREFIXES = (
    "/v1/models",
    "/v1/deployments",
    "/v1/catalog",
    "/v1/users/api-keys",
    "/v1/billing",
    "/v1/admin",
    "/v1/observability",
    "/v1/activities",
    "/v1/support",
    "/v1/products",
    "/v1/users/",
)
TOTAL_EXAMPLES = 100
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_record_routes_conform_to_their_openapi_schema(control_plane: Any) -> None:
    live = control_plane()
    admin = sign_up(live, "root@example.com", admin=True)
    deploy(admin, "seeded")
    raw = httpx.get(f"{live.base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().path.startswith(RECORD_PREFIXES)
    ]
    assert len(operations) >= 25
    strategy = st.one_of([operation.as_strategy() for operation in operations])
    session_headers = {"Authorization": admin.headers["Authorization"]}

    @given(case=strategy)
    @settings(
        max_examples=TOTAL_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=live.base_url, headers=session_headers, checks=CHECKS)

    run()
