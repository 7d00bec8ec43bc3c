"""`tm deployments create|wait|list|get|delete`: progress while a deployment starts, failures with a fix."""

from __future__ import annotations

import json
from pathlib import Path

from tm_harness import Invoke, signed_in
from tm_standin import Standin

pytest_plugins = ("tm_fixtures",)


def test_create_wait_shows_progress_until_up(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("--output", "json", "deployments", "create", "--name", "mine", "--wait", "--interval", "0.01")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deployment"]["status"] == "MODEL_STATUS_UP"
    assert "Deployment dep-1: MODEL_STATUS_PENDING" in result.stderr
    assert "Deployment dep-1: MODEL_STATUS_UP" in result.stderr
    assert "Next: tm init --sync" in result.stderr
    create = next(r for r in standin.state.requests if r["method"] == "POST")
    assert create["body"] == {"modelName": "mine", "replicas": 1}


def test_failed_deployment_reports_its_last_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("deployments", "create", "--name", "broken", "--wait", "--interval", "0.01")
    assert result.exit_code == 1
    assert "Error: Deployment dep-1 failed: engine exited with status 1" in result.stderr
    assert "tm --output json deployments get dep-1" in result.stderr


def test_wait_times_out_with_a_hint(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    assert tm("deployments", "create", "--name", "slow").exit_code == 0
    result = tm("deployments", "wait", "dep-1", "--wait-timeout", "0.01", "--interval", "0.01")
    assert result.exit_code == 1
    assert "Hints:\n- Keep waiting: tm deployments wait dep-1" in result.stderr


def test_list_get_delete(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    assert tm("deployments", "create").exit_code == 0
    assert "dep-1" in tm("deployments", "list").stdout
    assert tm("deployments", "get", "dep-1").exit_code == 0
    assert tm("deployments", "delete", "dep-1", "--yes").exit_code == 0
    assert standin.state.deployments["dep-1"]["status"] == "MODEL_STATUS_DELETED"


def test_bad_engine_config_is_a_usage_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("deployments", "create", "--engine-config", "{bad")
    assert result.exit_code == 2
    assert "Error: Invalid JSON for --engine-config:" in result.stderr


def test_create_sends_the_chosen_routing_policy(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    args = ("deployments", "create", "--name", "chat", "--replicas", "2", "--routing", "prefix_aware")
    result = tm("--output", "json", *args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deployment"]["routing"] == "prefix_aware"
    create = next(r for r in standin.state.requests if r["method"] == "POST")
    assert create["body"] == {"modelName": "chat", "replicas": 2, "routing": "prefix_aware"}


def test_update_changes_routing_and_default_clears_it(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    assert tm("deployments", "create", "--name", "chat").exit_code == 0
    result = tm("--output", "json", "deployments", "update", "dep-1", "--routing", "session_affinity")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deployment"]["routing"] == "session_affinity"
    assert tm("deployments", "update", "dep-1", "--routing", "default").exit_code == 0
    patches = [r["body"] for r in standin.state.requests if r["method"] == "PATCH"]
    assert patches == [{"routing": "session_affinity"}, {"routing": None}]


def test_an_unknown_routing_policy_is_a_usage_error(tm: Invoke, standin: Standin, tmp_path: Path) -> None:
    signed_in(tmp_path, standin)
    result = tm("deployments", "create", "--routing", "random")
    assert result.exit_code == 2
    assert "prefix_aware" in result.stderr
