"""`tm doctor` (local) and `tm infer doctor` (local, and `--live` with one line per real check)."""

from __future__ import annotations

import json
from pathlib import Path

from tm_harness import Invoke, closed_port, signed_in
from tm_standin import Standin

pytest_plugins = ("tm_fixtures",)


def test_doctor_lists_what_is_missing(tm: Invoke) -> None:
    result = tm("doctor", "--exit-status")
    assert result.exit_code == 1
    assert "Missing:\n- control_plane_access_token (run `tm auth login`)\n" in result.stdout


def test_doctor_is_ok_when_signed_in_and_configured(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("--output", "json", "doctor", "--exit-status")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["ok"] is True


def test_infer_doctor_suggests_next_steps(tm: Invoke) -> None:
    result = tm("infer", "doctor")
    assert result.exit_code == 0
    assert "Next steps:\n1. tm auth login\n2. tm init --sync\n" in result.stdout


def test_live_doctor_passes_every_check(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("infer", "doctor", "--live")
    assert result.exit_code == 0, result.output
    for check in (
        "control plane reachable",
        "control plane token valid",
        "served model ready",
        "gateway reachable",
        "1-token request",
    ):
        assert f"ok  {check}:" in result.stdout
    assert (
        next(r for r in standin.state.requests if r["path"] == "/v1/chat/completions")["body"]["max_tokens"]
        == 1
    )


def test_live_doctor_names_the_fix_when_control_plane_is_down(
    tm: Invoke, standin: Standin, tmp_path: Path
) -> None:
    signed_in(tmp_path, standin)
    result = tm("--controlplane-base", f"http://127.0.0.1:{closed_port()}", "infer", "doctor", "--live")
    assert result.exit_code == 1
    assert (
        "fail  control plane reachable: Request failed (network error): connection refused -> fix: "
        in result.stdout
    )


def test_live_doctor_flags_a_model_that_is_not_up(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    standin.state.models[0]["status"] = "MODEL_STATUS_STARTING"
    result = tm("--output", "json", "infer", "doctor", "--live")
    assert result.exit_code == 1
    live = {c["check"]: c for c in json.loads(result.stdout)["live"]}
    assert live["served model ready"]["fix"] == "tm deployments wait dep-1"
