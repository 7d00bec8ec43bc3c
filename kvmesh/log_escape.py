"""Log lines that a client cannot forge: control characters from requests are escaped, never written raw.

A request path with `%0a` decodes to a newline; written raw it starts a forged log line. Everything
a server logs from a request (path, method, headers, ids) goes through `escape_control`, and the
servers' log formatter escapes whole messages as a second line of defence.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"
    )


def escape_control(text: str) -> str:
    """`text` with CR, LF, NUL, other C0/C1 controls and Unicode line separators shown as escapes."""
    return _CONTROL.sub(_escaped, text)


class EscapingFormatter(logging.Formatter):
    """A formatter whose message part never spans lines (tracebacks still follow on their own lines)."""

    def format(self, record: logging.LogRecord) -> str:
        original = record.msg, record.args
        record.msg, record.args = escape_control(record.getMessage()), None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = original
