"""The published tensormesh 0.1.9 `tm`, unchanged, reads our inventory, keys and pricing: `init --sync`
picks a ready NEBIUS-labelled deployment (or falls back to the newest account key for ONPREM),
and `models list` / `billing pricing serverless list` and friends print our bodies without error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from records_harness import Account, deploy, mark_ready, sign_up

pytestmark = pytest.mark.reference


def _reference_tm() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        from reference_client import ensure_reference_tm
    finally:
        sys.path.pop(0)
    return str(ensure_reference_tm())


class ReferenceTm:
    """Runs the 0.1.9 `tm` with its state root in a temp dir, signed in with `account`'s tokens."""

    def __init__(self, state_root: Path, account: Account, base_url: str) -> None:
        self.tm = _reference_tm()
        self.base_url = base_url
        self.state_root = state_root
        state_root.mkdir(parents=True, exist_ok=True)
        auth = state_root / "auth.json"
        auth.write_text(json.dumps(account.tokens, indent=2) + "\n")
        auth.chmod(0o600)
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith(("TENSORMESH_", "TM_"))
        }
        self.env["TM_CONFIG_HOME"] = str(state_root)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.tm, "--controlplane-base", self.base_url, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"tm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def managed(self) -> dict[str, Any]:
        config = tomllib.loads((self.state_root / "config.toml").read_text())
        managed: dict[str, Any] = config["managed"]
        assert config["controlplane_base"] == self.base_url
        return managed


def test_init_sync_selects_the_ready_nebius_labelled_deployment(control_plane: Any, tmp_path: Path) -> None:
    live = control_plane(gateway_cloud_provider="CLOUD_PROVIDER_NEBIUS")
    alice = sign_up(live, "alice@example.com")
    deploy(alice, "not-ready-yet")
    record = deploy(alice, "smollm2-135m-instruct")
    mark_ready(live, record["deploymentId"])
    tm = ReferenceTm(tmp_path / "tm", alice, live.base_url)

    synced = json.loads(tm("--output", "json", "init", "--sync").stdout)
    assert synced["gateway_provider"] == "nebius" and synced["gateway_model_id"] == "smollm2-135m-instruct"
    managed = tm.managed()
    assert managed["gateway_api_key"] == record["apiKey"]
    assert managed["gateway_user_id"] == alice.user_id
    assert managed["gateway_model_id"] == "smollm2-135m-instruct"

    models = json.loads(tm("--output", "json", "models", "list").stdout)["models"]
    assert {m["modelName"]: m["status"] for m in models} == {
        "smollm2-135m-instruct": "MODEL_STATUS_UP",
        "not-ready-yet": "MODEL_STATUS_PENDING",
    }
    got = json.loads(tm("--output", "json", "models", "get", record["deploymentId"]).stdout)
    assert got["model"]["apiKey"] == record["apiKey"]

    pricing = yaml.safe_load(tm("billing", "pricing", "serverless", "list").stdout)["pricing"]
    smol = next(p for p in pricing if p["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert smol["inputTokenPrice"] == {"currencyCode": "USD", "units": "0", "nanos": 20_000_000}
    active = tm(
        "--output",
        "json",
        "billing",
        "pricing",
        "serverless",
        "list",
        "--active-only",
        "--model",
        smol["model"],
    )
    assert [p["id"] for p in json.loads(active.stdout)["pricing"]] == [smol["id"]]
    table = tm("--output", "table", "billing", "pricing", "serverless", "list").stdout
    assert table.splitlines()[0].split()[:3] == ["id", "name", "model"]


def test_init_sync_falls_back_to_the_newest_account_key_for_onprem(
    control_plane: Any, tmp_path: Path
) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    record = deploy(alice)
    mark_ready(live, record["deploymentId"])
    newer = alice.client.post("/v1/users/api-keys", json={"name": "newer"}).json()["apiKey"]
    tm = ReferenceTm(tmp_path / "tm", alice, live.base_url)

    out = tm("init", "--sync").stdout
    assert "provider=unset" in out and "model_id=unset" in out
    managed = tm.managed()
    assert managed["gateway_api_key"] == newer["id"]
    assert managed["gateway_user_id"] == alice.user_id
    assert "gateway_provider" not in managed and "gateway_model_id" not in managed


def test_read_commands_parse_our_bodies(control_plane: Any, tmp_path: Path) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    tm = ReferenceTm(tmp_path / "tm", alice, live.base_url)
    keys = json.loads(tm("--output", "json", "users", "api-keys", "list", "--user-id", alice.user_id).stdout)
    assert [key["id"] for key in keys["apiKeys"]] == [alice.account_key]
    balance = json.loads(tm("--output", "json", "billing", "balance", "--user-id", alice.user_id).stdout)
    assert balance == {"balance": {"currencyCode": "USD", "units": "10", "nanos": 0}}
    tm("billing", "transactions", "list", "--user-id", alice.user_id)
    tm("billing", "spending", "summary", "--user-id", alice.user_id)
    tm("billing", "pricing", "list", "--active-only")
    assert json.loads(tm("--output", "json", "models", "list").stdout) == {"models": []}


def test_write_commands_create_and_delete_our_records(control_plane: Any, tmp_path: Path) -> None:
    live = control_plane()
    root = sign_up(live, "root@example.com", admin=True)
    alice = sign_up(live, "alice@example.com")
    tm = ReferenceTm(tmp_path / "alice", alice, live.base_url)
    created = tm(
        "--output", "json", "users", "api-keys", "create", "--user-id", alice.user_id, "--name", "ci", "--yes"
    )
    key = json.loads(created.stdout)["apiKey"]["id"]
    tm("users", "api-keys", "delete", "--api-key", key, "--user-id", alice.user_id, "--yes")
    listed = json.loads(tm("--output", "json", "users", "api-keys", "list", "--include-deleted").stdout)[
        "apiKeys"
    ]
    assert [k["name"] for k in listed if k["deletedAt"]] == ["ci"]
    valid = json.loads(tm("--output", "json", "models", "validate-name", "--name", "fresh-name").stdout)
    assert valid["isValid"] is True
    record = deploy(alice, "fresh-name")
    assert (
        json.loads(tm("--output", "json", "models", "validate-name", "--name", "fresh-name").stdout)[
            "isValid"
        ]
        is False
    )
    tm("models", "delete", record["deploymentId"], "--yes")
    assert json.loads(tm("--output", "json", "models", "list").stdout) == {"models": []}

    admin = ReferenceTm(tmp_path / "root", root, live.base_url)
    added = admin(
        "--output",
        "json",
        "admin",
        "billing",
        "balances",
        "add",
        "--target-user-id",
        alice.user_id,
        "--amount",
        "2.5",
        "--yes",
    )
    assert json.loads(added.stdout) == {
        "balance": {"currencyCode": "USD", "units": "12", "nanos": 500_000_000}
    }
    body = json.dumps(
        {
            "pricing": {
                "model": "org/extra",
                "name": "Extra",
                "inputTokenPrice": {"units": "0", "nanos": 100_000_000},
            }
        }
    )
    upserted = admin(
        "--output", "json", "admin", "billing", "pricing", "serverless", "upsert", "--json", body, "--yes"
    )
    pricing_id = json.loads(upserted.stdout)["pricing"]["id"]
    admin("admin", "billing", "pricing", "serverless", "delete", "--id", pricing_id, "--yes")
    remaining = json.loads(
        admin("--output", "json", "admin", "billing", "pricing", "serverless", "list").stdout
    )
    assert [p["model"] for p in remaining["pricing"]] == ["HuggingFaceTB/SmolLM2-135M-Instruct"]


def test_reference_latest_resolution_picks_the_newest_ready_deployment(
    control_plane: Any, tmp_path: Path
) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    for name in ("first", "second"):
        mark_ready(live, deploy(alice, name)["deploymentId"])
    deploy(alice, "third-still-pending")
    tm = ReferenceTm(tmp_path / "tm", alice, live.base_url)
    inventory = tm("--output", "json", "models", "list").stdout
    python = str(Path(tm.tm).with_name("python"))
    select = (
        "import json, sys; from tensormesh_cli.controlplane_models import select_latest_controlplane_model; "
        "print(select_latest_controlplane_model(controlplane_data=json.load(sys.stdin)))"
    )
    chosen = subprocess.run(
        [python, "-c", select], input=inventory, capture_output=True, text=True, timeout=60
    )
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.strip() == "second"
