"""Control Plane calls beyond the seed flow: logs, metrics, activities, support, products, account.

A mixin of `ControlPlaneClient`: each method makes one authenticated call through `call_json`
(same token refresh, retries and errors) and returns `(body, response)`, the body checked for the
wrapper field the protocol promises (§7). Query values that are None are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from kvmesh.client._http import HttpResponse

Result = tuple[Any, "HttpResponse"]


def _segment(value: str) -> str:
    return quote(value.strip(), safe="")


class AccountCalls:
    """Typed entry points for the account surface; `call_json` comes from `ControlPlaneClient`."""

    def call_json(self, method: str, path: str, wrapper: str | None = None, **kwargs: Any) -> Result:
        raise NotImplementedError  # provided by ControlPlaneClient

    def deployment_logs(
        self,
        deployment_id: str,
        *,
        user_id: str | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
        limit: int | None = None,
        direction: str | None = None,
    ) -> Result:
        """`{logs: [{timestamp, message, source, offset}]}`; direction LOG_DIRECTION_FORWARD|BACKWARD."""
        params = {"userId": user_id, "startTime": start_time, "endTime": end_time, "limit": limit}
        params["direction"] = direction
        path = f"/v1/observability/deployments/{_segment(deployment_id)}/logs"
        return self.call_json("GET", path, "logs", params=params)

    def deployment_metrics(self, deployment_id: str, **window: Any) -> Result:
        """`{metrics: [{name, data: [{timestamp, value}]}]}`; window: user_id, start/end_time, step."""
        path = f"/v1/observability/deployments/{_segment(deployment_id)}/metrics"
        return self.call_json("GET", path, "metrics", params=_window(**window))

    def user_metrics(self, **window: Any) -> Result:
        return self.call_json("GET", "/v1/observability/users/metrics", "metrics", params=_window(**window))

    def list_activities(self, **filters: Any) -> Result:
        """`{activities, total, page, size}`; filters: user_id, action, resource_type/_id, page, size."""
        names = {"user_id": "userId", "resource_type": "resourceType", "resource_id": "resourceId"}
        params = {names.get(key, key): value for key, value in filters.items()}
        return self.call_json("GET", "/v1/activities", "activities", params=params)

    def create_ticket(self, subject: str, message: str, ticket_type: str | None = None) -> Result:
        body = {"subject": subject, "message": message, "type": ticket_type}
        return self.call_json("POST", "/v1/support/tickets", "ticket", json_body=_compact(body))

    def add_ticket_message(self, ticket_id: str, message: str) -> Result:
        path = f"/v1/support/tickets/{_segment(ticket_id)}/messages"
        return self.call_json("POST", path, "ticket", json_body={"message": message})

    def list_products(self) -> Result:
        return self.call_json("GET", "/v1/products", "products")

    def chat_with_model(self, model_id: str, text: str) -> Result:
        """One chat turn through the Gateway; the answer text is `body["response"]`."""
        return self.call_json(
            "POST", f"/v1/models/{_segment(model_id)}:chat", "response", json_body={"body": text}
        )


def _window(
    user_id: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    step_seconds: float | None = None,
) -> dict[str, Any]:
    return {"userId": user_id, "startTime": start_time, "endTime": end_time, "stepSeconds": step_seconds}


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}
