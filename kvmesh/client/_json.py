"""JSON parsing that turns pathological nesting into an ordinary decode error, never a RecursionError."""

from __future__ import annotations

import json
from typing import Any


def parse_json(text: str | bytes) -> Any:
    """`json.loads`, but input nested deeper than Python can recurse (e.g. 100k `[`) is a JSONDecodeError.

    Every caller already handles JSONDecodeError (a ValueError) with a one-line message; a
    RecursionError would escape them all as a traceback.
    """
    try:
        return json.loads(text)
    except RecursionError:
        doc = text if isinstance(text, str) else text.decode(errors="replace")
        raise json.JSONDecodeError("JSON nested too deeply", doc[:100], 0) from None
