"""HTTP transport for the CLI: stdlib `http.client`, timeouts, retries, CA bundle, debug lines, error text.

Why stdlib and not httpx: `tm infer chat` is a short-lived process, and importing httpx costs
~0.45 s on the build machine against ~0.1 s for `http.client` (numbers in docs/benchmarks.md).
Errors (with the reference client's text) are in `_http_response`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.client import HTTPConnection, HTTPException, HTTPResponse
from typing import Any
from urllib.parse import urlencode, urlsplit

from kvmesh.client._http_response import (
    HttpResponse,
    HttpStatusError,
    NetworkError,
    StreamResponse,
    TransportError,
    format_status_error,
    status_error,
)

__all__ = [
    "HttpResponse",
    "HttpStatusError",
    "NetworkError",
    "StreamResponse",
    "Transport",
    "TransportError",
    "format_status_error",
    "retry_delay",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
MAX_RETRY_DELAY_SECONDS = 8.0


def retry_delay(attempt: int, retry_after: str | None) -> float:
    """Wait before retry number `attempt` (1-based): Retry-After clamped to [0, 8] s, else backoff."""
    backoff = float(min(MAX_RETRY_DELAY_SECONDS, 0.5 * 2.0 ** (attempt - 1)))
    value = (retry_after or "").strip()
    if not value:
        return backoff
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return backoff
    return float(min(MAX_RETRY_DELAY_SECONDS, max(0.0, seconds)))


@dataclass
class Transport:
    """Sends requests with the resolved TLS, timeout and retry settings."""

    verify: bool | str = True
    timeout: float = 30.0
    max_retries: int = 0
    debug: Callable[[str], None] | None = None
    _ssl_context: Any = field(default=None, init=False, repr=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
        hints: Mapping[int, str] | None = None,
        retry: bool | None = None,
    ) -> HttpResponse:
        """Send one request (idempotent methods retried); `TransportError` on failure or status >= 400."""
        method = method.upper()
        query = query_params(params)
        full_url = _with_query(url, query)
        send_headers = dict(headers or {})
        body = _encode_json(json_body, send_headers)
        retryable = method in IDEMPOTENT_METHODS if retry is None else retry
        attempts = 1 + (self.max_retries if retryable else 0)
        wait = timeout if timeout is not None else self.timeout
        last_error: NetworkError | None = None
        for attempt in range(1, attempts + 1):
            if self.debug is not None:
                self.debug(_debug_line(method, url, send_headers, query, attempt, attempts))
            try:
                response = self.send_once(method, full_url, send_headers, body, wait, wait)
            except NetworkError as exc:
                last_error = exc
                if attempt < attempts:
                    time.sleep(retry_delay(attempt, None))
                continue
            if response.status in RETRY_STATUSES and attempt < attempts:
                time.sleep(retry_delay(attempt, response.headers.get("retry-after")))
                continue
            if response.status >= 400:
                raise status_error(response, (hints or {}).get(response.status))
            return response
        assert last_error is not None
        raise last_error

    def open_stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        connect_timeout: float | None = None,
        read_timeout: float = 300.0,
        hints: Mapping[int, str] | None = None,
    ) -> StreamResponse:
        """Open a streaming request (never retried); a status >= 400 is read whole and raised."""
        method = method.upper()
        send_headers = dict(headers or {})
        body = _encode_json(json_body, send_headers)
        if self.debug is not None:
            self.debug(f"debug: {method} {url} stream=true headers={_redacted(send_headers)}")
        connection, response = self._open(
            method, url, send_headers, body, connect_timeout or self.timeout, read_timeout
        )
        if response.status >= 400:
            try:
                content = response.read()
            except (HTTPException, OSError):
                content = b""
            finally:
                connection.close()
            headers_lower = {k.lower(): v for k, v in response.getheaders()}
            raise status_error(
                HttpResponse(response.status, headers_lower, content, url), (hints or {}).get(response.status)
            )
        return StreamResponse(connection, response, url, read_timeout)

    def send_once(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, connect: float, read: float
    ) -> HttpResponse:
        """One attempt, any status returned (callers that judge statuses themselves, e.g. login)."""
        connection, response = self._open(method, url, headers, body, connect, read)
        try:
            content = response.read()
        except TimeoutError:
            raise NetworkError(
                f"Request failed (network error): Read timed out. (read timeout={read:g})\nurl={url}"
            ) from None
        except (HTTPException, OSError) as exc:
            raise NetworkError(f"Request failed (network error): {_reason(exc)}\nurl={url}") from None
        finally:
            connection.close()
        return HttpResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, content, url)

    def _open(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, connect: float, read: float
    ) -> tuple[HTTPConnection, HTTPResponse]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NetworkError(f"Request failed (network error): invalid URL: {url!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection = self._connection(parts.scheme, parts.hostname, parts.port, connect)
        send = {"Accept": "*/*", "User-Agent": _user_agent(), **headers}
        try:
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(read)
            connection.request(method, path, body=body, headers=send)
            return connection, connection.getresponse()
        except TimeoutError:
            connection.close()
            which = "Read" if connection.sock is not None else "Connection to host"
            limit = (
                f"read timeout={read:g}" if connection.sock is not None else f"connect timeout={connect:g}"
            )
            raise NetworkError(
                f"Request failed (network error): {which} timed out. ({limit})\nurl={url}"
            ) from None
        except (HTTPException, OSError) as exc:
            connection.close()
            raise NetworkError(f"Request failed (network error): {_reason(exc)}\nurl={url}") from None

    def _connection(self, scheme: str, host: str, port: int | None, timeout: float) -> HTTPConnection:
        if scheme == "http":
            return HTTPConnection(host, port, timeout=timeout)
        from http.client import HTTPSConnection

        return HTTPSConnection(host, port, timeout=timeout, context=self._tls_context())

    def _tls_context(self) -> Any:
        if self._ssl_context is None:
            import ssl

            if self.verify is False:
                context = ssl._create_unverified_context()
            elif isinstance(self.verify, str):
                context = ssl.create_default_context(cafile=self.verify)
            else:
                context = ssl.create_default_context()
            self._ssl_context = context
        return self._ssl_context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"could not resolve host ({exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def query_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query values as sent: unset (None) dropped, bools as `true`/`false`, the rest via `str()`."""
    return {
        key: ("true" if value is True else "false" if value is False else str(value))
        for key, value in (params or {}).items()
        if value is not None
    }


def _with_query(url: str, query: Mapping[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}" if query else url


def _encode_json(json_body: Any, headers: dict[str, str]) -> bytes | None:
    """JSON body bytes; headers reordered like the reference's debug lines (Accept, Content-Type, rest)."""
    ordered = {name: headers[name] for name in ("Accept",) if name in headers}
    if json_body is not None:
        ordered["Content-Type"] = headers.get("Content-Type", "application/json")
    ordered.update({name: value for name, value in headers.items() if name not in ordered})
    headers.clear()
    headers.update(ordered)
    return None if json_body is None else json.dumps(json_body).encode("utf-8")


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    from kvmesh.client._redact import redact_headers

    return dict(redact_headers(dict(headers)))


def _debug_line(
    method: str,
    url: str,
    headers: Mapping[str, str],
    params: Mapping[str, str],
    attempt: int,
    total: int,
) -> str:
    parts = [f"debug: {method} {url}", f"headers={_redacted(headers)}"]
    if params:
        parts.append(f"params={dict(params)}")
    parts.append(f"attempt={attempt}/{total}")
    return " ".join(parts)


def _user_agent() -> str:
    from kvmesh import __version__

    return f"kvmesh-tm/{__version__}"
