"""`tm infer chat`: body building, output formats, streaming, and each failure as one clean error line."""

from __future__ import annotations

import json
from pathlib import Path

from tm_harness import HI, Invoke, closed_port, signed_in, write_config
from tm_standin import USER_ID, Standin

pytest_plugins = ("tm_fixtures",)


def _chat_bodies(standin: Standin) -> list[dict[str, object]]:
    return [r["body"] for r in standin.state.requests if r["path"] == "/v1/chat/completions"]


def test_text_output_prints_the_answer(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "chat", "--json", HI)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello there\n"
    request = next(r for r in standin.state.requests if r["path"] == "/v1/chat/completions")
    assert request["headers"]["X-User-Id"] == USER_ID
    assert request["body"] == {
        "model": "smollm2-135m-instruct",
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_json_output_moves_leading_think_block_to_reasoning(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    signed_in(tmp_path, standin)
    standin.state.reply = "<think>secret</think>Hello there"
    result = tm("--output", "json", "infer", "chat", "--json", HI)
    data = json.loads(result.stdout)
    assert data["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "Hello there", "reasoning": "secret"},
        "finish_reason": "stop",
    }
    assert list(data) == ["id", "object", "created", "model", "choices", "usage", "system_fingerprint"]
    assert tm("infer", "chat", "--json", HI).stdout == "Hello there\n"


def test_sampling_options_are_added_only_when_given(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    args = ("--max-tokens", "4", "--temperature", "0", "--top-p", "0.5", "--stop", "x", "--seed", "7")
    assert tm("infer", "chat", *args, "--json", HI).exit_code == 0
    body = _chat_bodies(standin)[0]
    assert body["max_tokens"] == 4 and body["temperature"] == 0.0 and body["top_p"] == 0.5
    assert body["stop"] == "x" and body["seed"] == 7


def test_stream_prints_tokens_and_hides_think_region(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.stream_chunks = ["<thi", "nk>", "hidden", "</think>", "Hel", "lo", " world"]
    result = tm("infer", "chat", "--stream", "--json", HI)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello world\n"
    assert _chat_bodies(standin)[0]["stream"] is True


def test_model_latest_is_resolved_from_inventory(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin, model=None)
    assert tm("infer", "chat", "--model", "@latest", "--json", HI).exit_code == 0
    assert _chat_bodies(standin)[0]["model"] == "smollm2-135m-instruct"


def test_user_id_is_derived_from_profile_after_token_refresh(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    signed_in(tmp_path, standin, user=False)
    standin.state.access_tokens.clear()
    result = tm("infer", "chat", "--json", HI)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "auth.json").read_text())["access_token"] == "at-2"


def test_malformed_json_is_a_usage_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "chat", "--json", "[bad")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("Error: Invalid JSON: Expecting value: line 1 column 2")


def test_empty_stdin_is_a_usage_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "chat", input="  \n")
    assert result.exit_code == 2
    assert (
        result.stderr.splitlines()[-1]
        == "Error: No input provided. Use --json, --file, or pipe JSON on stdin."
    )


def test_piped_stdin_is_the_request(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    assert tm("infer", "chat", input=HI).stdout == "Hello there\n"


def test_unknown_model_shows_the_gateway_404(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "chat", "--model", "nope", "--json", HI)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Request failed: HTTP 404 (request_id=req-123): "
        '{"error": {"message": "model \'nope\' not found"'
    )
    assert result.stderr.rstrip().endswith(f"url={standin.base}/v1/chat/completions")


def test_wrong_api_key_shows_gateway_hint(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "chat", "--api-key", "wrong", "--json", HI)
    assert result.exit_code == 1
    assert "Hint: set --api-key, configure gateway_api_key, or run `tm init --sync`." in result.stderr


def test_gateway_down_is_a_network_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    base = f"http://127.0.0.1:{closed_port()}"
    result = tm("infer", "chat", "--base-url", base, "--json", HI)
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: Request failed (network error): connection refused\nurl={base}/v1/chat/completions\n"
    )


def test_stalled_stream_ends_with_a_clean_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.stream_fault = "stall"
    standin.state.stall_seconds = 3.0
    result = tm("infer", "chat", "--stream", "--stream-idle-timeout", "0.3", "--json", HI)
    assert result.exit_code == 1
    assert result.stdout == "Hello world\n"
    assert result.stderr.startswith("Error: Stream stalled: no data for 0.3 seconds (--stream-idle-timeout).")
    assert "Traceback" not in result.output


def test_dropped_stream_ends_with_a_clean_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.stream_fault = "drop"
    result = tm("infer", "chat", "--stream", "--json", HI)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: Stream interrupted: the connection closed before the end of the response"
    )


def test_stream_error_event_aborts(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.stream_fault = "error"
    result = tm("infer", "chat", "--stream", "--json", HI)
    assert result.exit_code == 1
    assert result.stderr == "Error: Stream error: {'message': 'boom'}\n"


def test_stream_with_structured_output_is_refused(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("--output", "json", "infer", "chat", "--stream", "--json", HI)
    assert result.exit_code == 2
    assert "Error: `tm infer chat --stream` currently supports only `--output text`." in result.stderr


def test_missing_api_key_is_a_usage_error(tm: Invoke, tmp_path: Path) -> None:
    result = tm("infer", "chat", "--json", HI)
    assert result.exit_code == 2
    assert (
        "Error: Missing gateway API key. Set --api-key, configure gateway_api_key, or run `tm init --sync`."
        in result.stderr
    )


def test_serverless_sends_no_user_id(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    write_config(tmp_path, standin)
    result = tm(
        "infer",
        "chat",
        "--surface",
        "serverless",
        "--base-url",
        standin.base,
        "--model",
        "smollm2-135m-instruct",
        "--json",
        HI,
    )
    assert result.exit_code == 0, result.output
    request = next(r for r in standin.state.requests if r["path"] == "/v1/chat/completions")
    assert "X-User-Id" not in request["headers"]


def test_debug_lines_redact_the_key(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("--debug", "infer", "chat", "--json", HI)
    assert f"debug: POST {standin.base}/v1/chat/completions headers=" in result.stderr
    assert "'Authorization': 'Bearer ***'" in result.stderr
    assert "tmk_gateway" not in result.stderr


def test_ctrl_c_stops_a_stream_with_exit_130(standin: Standin, tmp_path: Path) -> None:
    """A real process: SIGINT while the stream stalls ends it at once, no traceback."""
    import os
    import signal
    import subprocess
    import sys

    from child_signals import default_sigint

    signed_in(tmp_path, standin)
    standin.state.stream_fault = "stall"
    standin.state.stall_seconds = 30.0  # far longer than the test: on a loaded machine 5 s could pass first
    env = {**os.environ, "TM_CONFIG_HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "kvmesh", "infer", "chat", "--stream", "--json", HI]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_sigint
    )
    assert proc.stdout is not None
    assert proc.stdout.read(11) == b"Hello world"
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert b"Traceback" not in err
    assert b"Interrupted." in err
    assert rest == b"\n"


def test_non_json_success_body_is_a_clean_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.canned[("POST", "/v1/chat/completions")] = (200, b"<html>oops</html>")
    result = tm("infer", "chat", "--json", HI)
    assert result.exit_code == 1
    assert result.stderr == "Error: Invalid JSON response: expected JSON. Raw response: <html>oops</html>\n"
    assert tm("--output", "raw", "infer", "chat", "--json", HI).stdout == "<html>oops</html>\n"
