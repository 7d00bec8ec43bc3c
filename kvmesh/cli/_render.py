"""Structured output in the five global formats, byte-compatible with the reference client.

text and yaml = PyYAML `safe_dump(sort_keys=False)` (block style, ASCII-escaped non-ASCII);
json = 2-space indent, original key order, non-ASCII kept; raw = the server body verbatim (or
compact JSON); table = columns from the first list of objects, or key/value rows for an object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kvmesh.cli._context import CliContext

TABLE_LIST_KEYS = (
    "items",
    "models",
    "users",
    "tickets",
    "transactions",
    "pricing",
    "logs",
    "products",
    "activities",
    "apiKeys",
)
CELL_WIDTH = 48


def _is_object_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def table_rows(data: Any) -> list[dict[str, Any]] | None:
    """The rows a table shows: a list of objects, a known list key, or the only list of objects."""
    if _is_object_list(data):
        return [dict(item) for item in data]
    if not isinstance(data, dict):
        return None
    for key in TABLE_LIST_KEYS:
        if _is_object_list(data.get(key)):
            return [dict(item) for item in data[key]]
    lists = [value for value in data.values() if _is_object_list(value)]
    if len(lists) == 1:
        return [dict(item) for item in lists[0]]
    return None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float | bool):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def render_table(rows: list[dict[str, Any]]) -> str:
    """Left-justified columns (union of keys, first-seen order) two spaces apart; empty -> ``."""
    if not rows:
        return ""
    columns: list[str] = []
    for row in rows:
        columns.extend(str(key) for key in row if str(key) not in columns)
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    lines = [
        "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)),
        "  ".join("-" * width for width in widths),
    ]
    lines.extend(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells
    )
    return "\n".join(lines) + "\n"


def _compact(data: Any) -> str:
    if isinstance(data, str):
        return data
    if data is None:
        return ""
    try:
        return json.dumps(data, ensure_ascii=False)
    except TypeError:
        return str(data)


def render(data: Any, output: str, raw_text: str | None = None) -> str:
    """The exact text (newline-terminated, or empty) that `--output <output>` prints for `data`."""
    fmt = output.lower()
    if fmt in ("text", "yaml"):
        import yaml

        return str(yaml.safe_dump(data, sort_keys=False))
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "raw":
        return (raw_text if raw_text is not None else _compact(data)) + "\n"
    if fmt == "table":
        rows = table_rows(data)
        if rows is not None:
            return render_table(rows)
        if isinstance(data, Mapping):
            return render_table([{"key": str(key), "value": value} for key, value in data.items()])
        return ("" if data is None else str(data)) + "\n"
    raise click.ClickException(f"Unknown output format: {output}")


def emit(cli: CliContext, data: Any, raw_text: str | None = None) -> None:
    """Print `data` in the global output format; raw prints `raw_text` verbatim when given."""
    click.echo(render(data, cli.output, raw_text), nl=False)
