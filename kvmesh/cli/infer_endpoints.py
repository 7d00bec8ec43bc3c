"""`tm infer completions|responses|tokenize|detokenize|models|health|version` (serverless by default, §8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._infer_output import print_response, print_stream
from kvmesh.cli._infer_target import (
    LATEST,
    ON_DEMAND,
    SERVERLESS,
    TargetFlags,
    pass_target_flags,
    resolve_latest,
    resolve_target,
)
from kvmesh.cli._remote import cli_errors
from kvmesh.cli.infer import check_stream, input_options, load_input, stream_options, target_options

MODEL_HELP = "Model name to use. Overrides `model` in the JSON request body."


def _request_model(body: dict[str, Any]) -> str | None:
    value = body.get("model")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _prepare(
    cli: CliContext, json_arg: str | None, file_arg: str | None, flags: TargetFlags, timeout: float | None
) -> tuple[Any, dict[str, Any]]:
    """Load the body, resolve the target, and settle `model` (option > body > on-demand config)."""
    body = load_input(json_arg, file_arg)
    if not isinstance(body, dict):
        raise usage_error("Request body must be a JSON object.")
    body = dict(body)
    cli_model = (flags.model or "").strip() or None
    body_model = _request_model(body)
    flags = replace(flags, model=cli_model or body_model)
    target = resolve_target(cli, flags, timeout=timeout, require_model=False)
    resolved = target.model
    if cli_model is not None:
        body["model"] = resolved or cli_model
    elif (body_model == LATEST and resolved is not None) or (body_model is None and resolved is not None):
        body["model"] = resolved
    if _request_model(body) is None:
        raise usage_error(
            f"Missing {target.surface} model name. Set --model or include `model` in the JSON request body."
        )
    if _request_model(body) == LATEST and target.surface == ON_DEMAND:
        body["model"] = resolve_latest(cli, target.timeout)
    return target, body


def _completion_text(data: Any) -> str | None:
    try:
        text = data["choices"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None
    return text if isinstance(text, str) and text.strip() else None


def _response_text(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        return None
    fallback = None
    for item in data["output"]:
        if not isinstance(item, dict) or not isinstance(item.get("content"), list):
            continue
        for chunk in item["content"]:
            text = chunk.get("text") if isinstance(chunk, dict) else None
            if not isinstance(text, str) or not text.strip():
                continue
            if item.get("type") == "message" and chunk.get("type") == "output_text":
                return text
            fallback = fallback or text
    return fallback


def _field(name: str) -> Any:
    def extract(data: Any) -> str | None:
        value = data.get(name) if isinstance(data, dict) else None
        return value if isinstance(value, str) and value.strip() else None

    return extract


def _same(data: Any) -> Any:
    return data


def _post_command(
    name: str, path: str, doc: str, extract: Any, stream_text: Callable[[Any], str] | None
) -> click.Command:
    def run(
        cli: CliContext,
        target_flags: TargetFlags,
        json_arg: str | None,
        file_arg: str | None,
        timeout: float | None,
        stream: bool = False,
        stream_idle_timeout: float = 300.0,
    ) -> None:
        target, body = _prepare(cli, json_arg, file_arg, target_flags, timeout)
        if body.get("stream") is True and not stream:
            raise usage_error(
                "Input JSON enables streaming. Re-run with `--stream` "
                "or remove `stream` from the JSON payload."
            )
        if stream and stream_text is not None:
            check_stream(cli, name, stream_idle_timeout)
            body["stream"] = True
            print_stream(cli, target, path, body, stream_idle_timeout, stream_text)
            return
        with cli_errors():
            response = target.client(cli).post(path, body)
        print_response(cli, response.text, _same, extract)

    run.__doc__ = doc
    command: Any = pass_cli(run)
    command = input_options(command)
    if stream_text is not None:
        command = stream_options(command)
    command = target_options(SERVERLESS, MODEL_HELP)(command)
    return click.command(name=name)(command)


def _stream_completion_text(event: Any) -> str:
    from kvmesh.client import completion_texts

    return completion_texts(event)


def _stream_response_text(event: Any) -> str:
    return _response_text(event) or ""


completions = _post_command(
    "completions",
    "/v1/completions",
    "Call POST /v1/completions on Serverless or On-Demand inference.\n\n"
    '\b\nExample:\n  tm infer completions --api-key KEY --model MODEL --json \'{"prompt":"Say hello."}\'',
    _completion_text,
    _stream_completion_text,
)
responses = _post_command(
    "responses",
    "/v1/responses",
    "Call POST /v1/responses on Serverless or On-Demand inference.\n\n"
    '\b\nExample:\n  tm infer responses --api-key KEY --model MODEL --json \'{"input":"Say hello."}\'',
    _response_text,
    _stream_response_text,
)
tokenize = _post_command(
    "tokenize",
    "/tokenize",
    "Call POST /tokenize on Serverless or On-Demand inference.\n\n"
    '\b\nExample:\n  tm infer tokenize --api-key KEY --model MODEL --json \'{"prompt":"hello"}\'',
    lambda data: None,
    None,
)
detokenize = _post_command(
    "detokenize",
    "/detokenize",
    "Call POST /detokenize on Serverless or On-Demand inference.\n\n"
    "\b\nExample:\n  tm infer detokenize --api-key KEY --model MODEL --json '{\"tokens\":[1,2,3]}'",
    _field("prompt"),
    None,
)


def _get_command(name: str, path: str, doc: str, extract: Any) -> click.Command:
    def run(cli: CliContext, target_flags: TargetFlags, timeout: float | None) -> None:
        target = resolve_target(
            cli, target_flags, timeout=timeout, require_model=False, require_serverless_key=False
        )
        with cli_errors():
            response = target.client(cli).get(path)
        print_response(cli, response.text, _same, extract)

    run.__doc__ = doc
    command: Any = pass_target_flags(pass_cli(run))
    command = click.option("--timeout", type=float, default=None, help="HTTP timeout in seconds.")(command)
    command = click.option(
        "--base-url", default=None, help="Override the base URL for the selected surface."
    )(command)
    command = click.option("--api-key", default=None, help="Inference API key (Authorization: Bearer ...).")(
        command
    )
    command = click.option(
        "--user-id", default=None, help="X-User-Id header (UUID). Only used for --surface on-demand."
    )(command)
    command = click.option(
        "--surface",
        type=click.Choice((ON_DEMAND, SERVERLESS), case_sensitive=False),
        default=SERVERLESS,
        show_default=True,
        help="Inference surface to target.",
    )(command)
    return click.command(name=name)(command)


models = _get_command(
    "models", "/v1/models", "Call GET /v1/models on Serverless or On-Demand inference.", lambda d: None
)
health = _get_command(
    "health", "/health", "Call GET /health on Serverless or On-Demand inference.", _field("status")
)
version = _get_command(
    "version", "/version", "Call GET /version on Serverless or On-Demand inference.", _field("version")
)
