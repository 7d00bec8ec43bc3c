"""Control Plane client: CLI login flow, token refresh, profile, inventory, keys, billing, deployments.

Every call except the login endpoints sends `Authorization: Bearer <access_token>` from auth.json.
When a call gets 401 and auth.json holds a `refresh_token`, the client refreshes once
(`POST /auth/cli/refresh`), rewrites auth.json and repeats the call (protocol.md Part A).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kvmesh.client._account_calls import AccountCalls
from kvmesh.client._http import HttpResponse, HttpStatusError, NetworkError, Transport

CP_401_HINT = "run `tm auth login` to authenticate to the control plane."
NO_TOKEN_MESSAGE = "No control plane access token found. Run `tm auth login` first."


class LoginError(Exception):
    """A login/refresh step failed; `str()` is the user-facing text (`<prefix>: <status> <body>`)."""


class MissingTokenError(Exception):
    """No usable access token in auth.json."""

    def __init__(self) -> None:
        super().__init__(NO_TOKEN_MESSAGE)


class MalformedResponseError(Exception):
    """A 2xx Control Plane body lacks the wrapper field the protocol promises."""


class ControlPlaneClient(AccountCalls):
    """One Control Plane at `base`; tokens live in `auth_path` (read lazily, rewritten on refresh)."""

    def __init__(
        self, base: str, transport: Transport, auth_path: Path, *, timeout: float | None = None
    ) -> None:
        self.base = base.rstrip("/")
        self.transport = transport
        self.auth_path = auth_path
        self.timeout = timeout

    # -- login flow (no Authorization header, never retried) ---------------------------------------

    def _post_plain(self, path: str, body: Any, prefix: str) -> HttpResponse:
        url = self.base + path
        try:
            return _raw_post(self.transport, url, body, self.timeout)
        except NetworkError as exc:
            reason = exc.message.split("\n")[0].removeprefix("Request failed (network error): ")
            raise LoginError(f"{prefix} (network error). url={url} error={reason}") from None

    def login_start(self) -> dict[str, Any]:
        """`POST /auth/cli/start` → `{auth_url, cli_code, interval?}`."""
        prefix = "Login start failed"
        data = _login_json(self._post_plain("/auth/cli/start", None, prefix), prefix)
        for key in ("auth_url", "cli_code"):
            value = data.get(key) if isinstance(data, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise LoginError(f"{prefix}: missing or invalid '{key}' in JSON response.")
        return dict(data)

    def login_exchange(self, cli_code: str) -> dict[str, Any] | None:
        """`POST /auth/cli/exchange`: the token object on 200, None while pending (202)."""
        prefix = "Login exchange failed"
        response = self._post_plain("/auth/cli/exchange", {"cli_code": cli_code}, prefix)
        if response.status == 202:
            return None
        data = _login_json(response, "Login failed")
        if not isinstance(data, dict):
            raise LoginError(f"Login failed: invalid JSON response: {response.text}")
        return data

    def refresh_tokens(self, refresh_token: str) -> dict[str, Any]:
        """`POST /auth/cli/refresh` → a full token object (it replaces auth.json)."""
        prefix = "Refresh failed"
        response = self._post_plain("/auth/cli/refresh", {"refresh_token": refresh_token}, prefix)
        data = _login_json(response, prefix)
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise LoginError(f"{prefix}: invalid JSON response: {response.text}")
        return data

    def revoke(self, tokens: Mapping[str, Any]) -> bool:
        """Best-effort server-side logout (`POST /auth/logout`); True when the server accepted it."""
        headers = {"Authorization": f"Bearer {tokens.get('access_token', '')}"}
        body = (
            {"refresh_token": tokens["refresh_token"]} if isinstance(tokens.get("refresh_token"), str) else {}
        )
        try:
            response = _raw_post(self.transport, self.base + "/auth/logout", body, self.timeout, headers)
        except NetworkError:
            return False
        return response.status < 400

    # -- authenticated calls -------------------------------------------------------------------------

    def _tokens(self) -> dict[str, Any]:
        from kvmesh.client._tokens import read_token_file

        tokens = read_token_file(self.auth_path)
        if tokens is None:
            raise MissingTokenError()
        return tokens

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """An authenticated call; one automatic refresh on 401 when a refresh token is stored."""
        tokens = self._tokens()
        try:
            return self._authed(method, path, tokens, params, json_body, timeout)
        except HttpStatusError as exc:
            refresh_token = tokens.get("refresh_token")
            if exc.status != 401 or not isinstance(refresh_token, str) or not refresh_token:
                raise
            try:
                fresh = self.refresh_tokens(refresh_token)
            except LoginError:
                raise exc from None
        from kvmesh.client._tokens import write_token_file

        write_token_file(self.auth_path, fresh)
        return self._authed(method, path, fresh, params, json_body, timeout)

    def _authed(
        self,
        method: str,
        path: str,
        tokens: Mapping[str, Any],
        params: Mapping[str, Any] | None,
        json_body: Any,
        timeout: float | None,
    ) -> HttpResponse:
        return self.transport.request(
            method,
            self.base + path,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            params=params,
            json_body=json_body,
            timeout=timeout if timeout is not None else self.timeout,
            hints={401: CP_401_HINT},
        )

    def call_json(
        self, method: str, path: str, wrapper: str | None = None, **kwargs: Any
    ) -> tuple[Any, HttpResponse]:
        """`call` + JSON decode; `wrapper` names the field the body must carry."""
        response = self.call(method, path, **kwargs)
        try:
            data = response.json() if response.content.strip() else {}
        except ValueError:
            raise MalformedResponseError(
                f"control plane returned non-JSON: {response.text.strip()}"
            ) from None
        if wrapper is not None and (not isinstance(data, dict) or wrapper not in data):
            raise MalformedResponseError(
                f"Malformed success response from the control plane: missing `{wrapper}`.\nurl={response.url}"
            )
        return data, response

    def profile(self) -> tuple[dict[str, Any], HttpResponse]:
        data, response = self.call_json("GET", "/auth/profile", "user")
        if not isinstance(data["user"], dict):
            raise MalformedResponseError(
                "Malformed success response from the control plane: `user` is not an object."
            )
        return data, response

    def list_models(self, user_id: str | None = None) -> tuple[list[Any], HttpResponse]:
        data, response = self.call_json("GET", "/v1/models", "models", params={"userId": user_id})
        models = data["models"]
        if not isinstance(models, list):
            raise MalformedResponseError(
                "Malformed success response from the control plane: `models` is not a list."
            )
        return models, response

    def list_api_keys(
        self, user_id: str | None, include_deleted: bool | None = None
    ) -> tuple[list[Any], HttpResponse]:
        params = {"userId": user_id, "includeDeleted": include_deleted}
        data, response = self.call_json("GET", "/v1/users/api-keys", "apiKeys", params=params)
        keys = data["apiKeys"]
        if not isinstance(keys, list):
            raise MalformedResponseError(
                "Malformed success response from the control plane: `apiKeys` is not a list."
            )
        return keys, response


def path_segment(value: str) -> str:
    """URL-quote one path segment (a `/` inside an id is encoded)."""
    return quote(value, safe="")


def _login_json(response: HttpResponse, prefix: str) -> Any:
    """The JSON body of a login-flow answer; any status but 200, or a body that is not JSON, is a
    `LoginError` reading `<prefix>: <status> <body>` or `<prefix>: invalid JSON response: <body>`."""
    if response.status != 200:
        raise LoginError(f"{prefix}: {response.status} {response.text}")
    try:
        return response.json()
    except ValueError:
        raise LoginError(f"{prefix}: invalid JSON response: {response.text}") from None


def _raw_post(
    transport: Transport, url: str, body: Any, timeout: float | None, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """POST that returns any status (login endpoints judge statuses themselves)."""
    send = dict(headers or {})
    payload = None
    if body is not None:
        send["Content-Type"] = "application/json"
        payload = json.dumps(body).encode()
    if transport.debug is not None:
        from kvmesh.client._redact import redact_headers

        transport.debug(f"debug: POST {url} headers={redact_headers(send)} attempt=1/1")
    return transport.send_once(
        "POST", url, send, payload, timeout or transport.timeout, timeout or transport.timeout
    )
