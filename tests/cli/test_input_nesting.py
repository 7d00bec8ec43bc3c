"""JSON given to `tm` nested deeper than Python can recurse is one error line, not a traceback."""

from __future__ import annotations

import pytest
from tm_harness import Invoke

pytest_plugins = ("tm_fixtures",)

DEEP = "[" * 100_000


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("infer", "chat", "--json", DEEP), "", "Error: Invalid JSON: JSON nested too deeply"),
        (
            ("deployments", "create", "--name", "x", "--engine-config", DEEP),
            "",
            "Error: Invalid JSON for --engine-config: JSON nested too deeply",
        ),
        (
            ("auth", "login", "--with-token"),
            '{"a":' * 100_000,
            "Error: Invalid token JSON on stdin: JSON nested",
        ),
    ],
    ids=["infer-chat-json", "deployments-engine-config", "auth-login-with-token"],
)
def test_deeply_nested_json_input_is_a_usage_error(
    tm: Invoke, args: tuple[str, ...], stdin: str, message: str
) -> None:
    result = tm(*args, input=stdin)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
