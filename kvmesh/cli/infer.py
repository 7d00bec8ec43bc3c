"""`tm infer`: chat with the Gateway (JSON or SSE stream); other endpoints live in `infer_endpoints`."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._errors import usage_error
from kvmesh.cli._infer_output import print_response, print_stream
from kvmesh.cli._infer_target import ON_DEMAND, SURFACES, TargetFlags, pass_target_flags, resolve_target
from kvmesh.cli._lazy import LazyGroup
from kvmesh.cli._remote import cli_errors

# The secondary subcommands load only when one is invoked (their help text is their own).
SUBCOMMANDS: dict[str, tuple[str, str | None]] = {
    "completions": ("kvmesh.cli.infer_endpoints:completions", None),
    "responses": ("kvmesh.cli.infer_endpoints:responses", None),
    "tokenize": ("kvmesh.cli.infer_endpoints:tokenize", None),
    "detokenize": ("kvmesh.cli.infer_endpoints:detokenize", None),
    "models": ("kvmesh.cli.infer_endpoints:models", None),
    "health": ("kvmesh.cli.infer_endpoints:health", None),
    "version": ("kvmesh.cli.infer_endpoints:version", None),
    "doctor": ("kvmesh.cli.infer_doctor:doctor", None),
}


@click.group(name="infer", cls=LazyGroup, lazy_commands=SUBCOMMANDS)
def infer() -> None:
    """Inference commands for shared OpenAI-compatible Serverless and On-Demand endpoints.

    \b
    Examples:
      tm infer doctor
      tm infer chat --json '[{"role":"user","content":"Say hello."}]'
      tm infer chat --surface serverless --api-key KEY --model MODEL --json '[{"role":"user","content":"hi"}]'
    """


def target_options(
    default_surface: str, model_help: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options every gateway command shares, handed to it as one `target_flags`."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        func = pass_target_flags(func)
        for option in reversed(
            [
                click.option(
                    "--surface",
                    type=click.Choice(SURFACES, case_sensitive=False),
                    default=default_surface,
                    show_default=True,
                    help="Inference surface to use.",
                ),
                click.option("--model", default=None, help=model_help),
                click.option(
                    "--user-id",
                    default=None,
                    help="X-User-Id header (UUID). Only used for --surface on-demand.",
                ),
                click.option(
                    "--api-key", default=None, help="Inference API key (Authorization: Bearer ...)."
                ),
                click.option(
                    "--base-url", default=None, help="Override the base URL for the selected surface."
                ),
            ]
        ):
            func = option(func)
        return func

    return wrap


def stream_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--stream-idle-timeout",
        type=float,
        default=300.0,
        show_default=True,
        help="Maximum idle read timeout in seconds for --stream responses.",
    )(func)
    return click.option("--stream", is_flag=True, help="Stream tokens via SSE.")(func)


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--timeout",
        type=float,
        default=None,
        help="HTTP connect timeout in seconds for the inference request.",
    )(func)
    func = click.option(
        "--file",
        "file_arg",
        type=click.Path(dir_okay=False),
        default=None,
        help="Read JSON payload from file.",
    )(func)
    return click.option(
        "--json",
        "json_arg",
        default=None,
        help="JSON payload or @file.json (object or messages array). "
        "When omitted, reads piped stdin if available.",
    )(func)


def load_input(json_arg: str | None, file_arg: str | None) -> Any:
    from kvmesh.client import ChatInputError, load_request_json

    try:
        return load_request_json(json_arg, file_arg, sys.stdin)
    except ChatInputError as exc:
        raise usage_error(str(exc)) from None


def check_stream(cli: CliContext, command: str, idle_timeout: float) -> None:
    if not math.isfinite(idle_timeout) or idle_timeout <= 0:
        raise usage_error("`--stream-idle-timeout` must be a finite number greater than 0.")
    if cli.output != "text":
        raise usage_error(f"`tm infer {command} --stream` currently supports only `--output text`.")


def _sampling(
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    stop: tuple[str, ...],
    seed: int | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed,
    }
    if stop:
        values["stop"] = list(stop) if len(stop) > 1 else stop[0]
    return {key: value for key, value in values.items() if value is not None}


@infer.command(name="chat")
@target_options(ON_DEMAND, "Model name to use (`@latest` = newest served model, on-demand only).")
@stream_options
@input_options
@click.option("--max-tokens", type=int, default=None, help="Adds `max_tokens` to the request body.")
@click.option("--temperature", type=float, default=None, help="Adds `temperature` to the request body.")
@click.option("--top-p", type=float, default=None, help="Adds `top_p` to the request body.")
@click.option("--stop", multiple=True, help="Adds a `stop` sequence to the request body (repeatable).")
@click.option("--seed", type=int, default=None, help="Adds `seed` to the request body.")
@pass_cli
def chat(
    cli: CliContext,
    target_flags: TargetFlags,
    stream: bool,
    stream_idle_timeout: float,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    stop: tuple[str, ...],
    seed: int | None,
) -> None:
    """Call POST /v1/chat/completions on On-Demand or Serverless inference.

    \b
    Examples:
      tm infer chat --json '[{"role":"user","content":"Say hello."}]'
      tm infer chat --model @latest --max-tokens 32 --json '[{"role":"user","content":"hi"}]'
      echo '[{"role":"user","content":"Stream tokens."}]' | tm infer chat --stream --stream-idle-timeout 30
      tm infer chat --surface serverless --api-key KEY --model MODEL --json '[{"role":"user","content":"hi"}]'
    """
    from kvmesh.client import (
        ChatInputError,
        build_chat_body,
        chat_delta_texts,
        first_message_text,
        input_model,
        normalise_chat_completion,
    )

    source = load_input(json_arg, file_arg)
    flags = replace(target_flags, model=target_flags.model or input_model(source))
    target = resolve_target(cli, flags, timeout=timeout)
    try:
        body = build_chat_body(
            source,
            target.model,
            stream=stream,
            sampling=_sampling(max_tokens, temperature, top_p, stop, seed),
        )
    except ChatInputError as exc:
        raise usage_error(str(exc)) from None
    if stream:
        check_stream(cli, "chat", stream_idle_timeout)
        from kvmesh.client import ThinkFilter

        filters: dict[int, ThinkFilter] = {}

        def texts(event: Any) -> str:
            return "".join(filters.setdefault(i, ThinkFilter()).feed(t) for i, t in chat_delta_texts(event))

        print_stream(cli, target, "/v1/chat/completions", body, stream_idle_timeout, texts)
        return
    with cli_errors():
        response = target.client(cli).chat(body)
    print_response(cli, response.text, normalise_chat_completion, first_message_text)
