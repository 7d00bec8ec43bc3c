"""What the transport hands back: a read response, an open stream, and errors with their text (§9.2).

Request failed: HTTP <status>[ (request_id=<id>)][: <body>]
[Hint: <hint>]
url=<url>
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPResponse
from typing import Any

from kvmesh.client._json import parse_json

MAX_ERROR_BODY_CHARS = 4000


class TransportError(Exception):
    """A request that did not produce a usable response; `str()` is the user-facing text."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class HttpStatusError(TransportError):
    """The server answered with a status >= 400."""


class NetworkError(TransportError):
    """Connection refused/reset, DNS, TLS, or a timeout."""


@dataclass
class HttpResponse:
    """A fully read response."""

    status: int
    headers: dict[str, str]
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode(charset_of(self.headers), errors="replace")

    def json(self) -> Any:
        return parse_json(self.content)


def charset_of(headers: Mapping[str, str]) -> str:
    for part in headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def format_status_error(
    status: int, headers: Mapping[str, str], content: bytes, url: str, hint: str | None
) -> str:
    """The §9.2 text for an HTTP error response."""
    message = f"Request failed: HTTP {status}"
    request_id = headers.get("x-request-id")
    if request_id:
        message += f" (request_id={request_id})"
    text = content.decode(charset_of(headers), errors="replace")
    try:
        body_text = json.dumps(parse_json(text), ensure_ascii=False)
    except ValueError:
        body_text = text.strip()
    if body_text:
        if len(body_text) > MAX_ERROR_BODY_CHARS:
            body_text = body_text[:MAX_ERROR_BODY_CHARS] + "..."
        message += f": {body_text}"
    if hint:
        message += f"\nHint: {hint}"
    return f"{message}\nurl={url}"


def status_error(response: HttpResponse, hint: str | None) -> HttpStatusError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text.strip() or None
    message = format_status_error(response.status, response.headers, response.content, response.url, hint)
    return HttpStatusError(message, status=response.status, body=body)


@dataclass
class StreamResponse:
    """An open 2xx streaming response; iterate `lines()` and always `close()`."""

    connection: HTTPConnection
    response: HTTPResponse
    url: str
    read_timeout: float

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.response.getheaders()}

    def lines(self) -> Iterator[str]:
        """Decoded lines without line endings; a stall or a cut connection raises `NetworkError`."""
        charset = charset_of(self.headers)
        while True:
            try:
                raw = self.response.readline()
            except TimeoutError:
                raise NetworkError(
                    f"Stream stalled: no data for {self.read_timeout:g} seconds "
                    f"(--stream-idle-timeout). url={self.url}"
                ) from None
            except (HTTPException, OSError) as exc:
                raise NetworkError(
                    f"Stream interrupted: the connection closed before the end of the response "
                    f"({type(exc).__name__}). url={self.url}"
                ) from None
            if not raw:
                if self._cut_short():
                    raise NetworkError(
                        "Stream interrupted: the connection closed before the end of the response "
                        f"(IncompleteRead). url={self.url}"
                    )
                return
            yield raw.decode(charset, errors="replace").rstrip("\r\n")

    def _cut_short(self) -> bool:
        """At EOF: did the body end before its framing said it would (no last chunk, missing bytes)?

        `HTTPResponse.readline` swallows a chunked body's IncompleteRead, so look at its state:
        after the terminating chunk `chunk_left` is None; a cut leaves it at 0.
        """
        response = self.response
        if response.chunked:
            return response.chunk_left is not None
        return bool(response.length)

    def close(self) -> None:
        self.connection.close()
