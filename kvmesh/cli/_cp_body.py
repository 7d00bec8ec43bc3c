"""Request bodies of the Control Plane commands: `--json/--file` (or stdin), else the command's flags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import click

from kvmesh.cli._errors import usage_error

YES_OPTION = click.option("--yes", is_flag=True, help="Skip confirmation prompt.")


def body_options(json_help: str = "JSON request body or @file.json.") -> Callable[..., Any]:
    """`--json` and `--file`, passed as `json_arg` and `file_arg`."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option(
            "--file",
            "file_arg",
            type=click.Path(dir_okay=False),
            default=None,
            help="Read JSON request body from file.",
        )(func)
        return click.option("--json", "json_arg", default=None, help=json_help)(func)

    return decorate


def load_body(json_arg: str | None, file_arg: str | None, *, required: bool = False) -> dict[str, Any] | None:
    """The JSON object from `--json`, `--file` or piped stdin; None when none was given."""
    import sys

    from kvmesh.client import ChatInputError, load_request_json

    try:
        body = load_request_json(json_arg, file_arg, sys.stdin, required=required)
    except ChatInputError as exc:
        raise usage_error(str(exc)) from None
    if body is not None and not isinstance(body, dict):
        raise usage_error("Request body must be a JSON object.")
    return body


def body_or_flags(json_arg: str | None, file_arg: str | None, flags: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body when given, else the flags that are set (None and '' dropped)."""
    body = load_body(json_arg, file_arg)
    if body is not None:
        return body
    return {key: value for key, value in flags.items() if value not in (None, "", [], ())}


def require_strings(body: Mapping[str, Any], fields: Iterable[str], message: str) -> None:
    for field in fields:
        value = body.get(field)
        if not isinstance(value, str) or not value.strip():
            raise usage_error(message)


def require_text(value: str | None, label: str) -> str:
    if value is None or not value.strip():
        raise usage_error(f"{label} is required.")
    return value.strip()


def confirm(yes: bool, message: str) -> None:
    if not yes:
        click.confirm(message, default=False, abort=True)
