"""`tm infer completions|tokenize|models|health|version|responses` against the stand-in gateway."""

from __future__ import annotations

from pathlib import Path

from tm_harness import Invoke, signed_in
from tm_standin import Standin

pytest_plugins = ("tm_fixtures",)


def test_completions_on_demand_uses_configured_model(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "completions", "--surface", "on-demand", "--json", '{"prompt":"hi"}')
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello there\n"
    assert standin.state.requests[-1]["body"] == {"prompt": "hi", "model": "smollm2-135m-instruct"}


def test_completions_requires_an_object_body(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "completions", "--surface", "on-demand", "--json", "[1]")
    assert result.exit_code == 2
    assert "Error: Request body must be a JSON object." in result.stderr


def test_serverless_completions_without_model_is_a_usage_error(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "completions", "--base-url", standin.base, "--json", '{"prompt":"hi"}')
    assert result.exit_code == 2
    assert (
        "Missing serverless model name. Set --model or include `model` in the JSON request body."
        in result.stderr
    )


def test_tokenize_prints_yaml(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "tokenize", "--surface", "on-demand", "--json", '{"prompt":"hi"}')
    assert result.stdout == "tokens:\n- 1\n- 2\n- 3\ncount: 3\n"


def test_health_and_version_print_their_field(tm: Invoke, standin: Standin) -> None:
    assert tm("infer", "health", "--base-url", standin.base).stdout == "ok\n"
    assert tm("infer", "version", "--base-url", standin.base).stdout == "0.0-standin\n"


def test_models_lists_gateway_models(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("--output", "json", "infer", "models", "--surface", "on-demand")
    assert '"id": "smollm2-135m-instruct"' in result.stdout


def test_responses_prints_output_text(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "responses", "--surface", "on-demand", "--json", '{"input":"hi"}')
    assert result.stdout == "Hello there\n"
