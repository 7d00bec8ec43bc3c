"""Billing: pricing filters, exact Money, balance and credits, paged transactions/usage, spending, admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from records_harness import record_usage, sign_up

from kvmesh.store.models import utcnow

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _usd(units: str, nanos: int = 0) -> dict[str, Any]:
    return {"currencyCode": "USD", "units": units, "nanos": nanos}


def test_serverless_pricing_filters_by_model_and_active_flag(control_plane: Any) -> None:
    live = control_plane()
    admin = sign_up(live, "root@example.com", admin=True)
    alice = sign_up(live, "alice@example.com")
    upsert = admin.client.post(
        "/v1/admin/billing/serverless-pricing",
        json={
            "pricing": {
                "model": "org/retired",
                "name": "Retired",
                "inputTokenPrice": "1.25",
                "isActive": False,
            }
        },
    )
    assert upsert.status_code == 200, upsert.text
    everything = alice.client.get("/v1/billing/serverless-pricing").json()["pricing"]
    assert [p["model"] for p in everything] == [SMOL, "org/retired"]
    smol = alice.client.get("/v1/billing/serverless-pricing", params={"model": SMOL}).json()["pricing"]
    assert smol[0]["inputTokenPrice"] == _usd("0", 20_000_000)
    assert smol[0]["outputTokenPrice"] == _usd("0", 40_000_000)
    active = alice.client.get("/v1/billing/serverless-pricing", params={"activeOnly": "true"}).json()[
        "pricing"
    ]
    assert [p["model"] for p in active] == [SMOL]
    none = alice.client.get("/v1/billing/serverless-pricing", params={"model": "no/such"}).json()
    assert none == {"pricing": []}


def test_gpu_pricing_filters_by_provider_and_type(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    h100 = alice.client.get(
        "/v1/billing/gpu-pricing",
        params={"gpuType": "GPU_TYPE_H100", "cloudProvider": "CLOUD_PROVIDER_ONPREM"},
    ).json()["pricing"]
    assert h100 == [
        {
            "gpuType": "GPU_TYPE_H100",
            "cloudProvider": "CLOUD_PROVIDER_ONPREM",
            "hourlyRate": _usd("2", 100_000_000),
            "isActive": True,
        }
    ]


def test_balance_is_credits_minus_usage_and_admin_credit_adds_exactly(control_plane: Any) -> None:
    live = control_plane()
    admin = sign_up(live, "root@example.com", admin=True)
    alice = sign_up(live, "alice@example.com")
    assert alice.client.get("/v1/billing/balance").json() == {"balance": _usd("10")}
    record_usage(live, alice.user_id, cost_micros=250_000)
    assert alice.client.get("/v1/billing/balance").json() == {"balance": _usd("9", 750_000_000)}
    for amount, expected in [(10.1, _usd("19", 850_000_000)), ("0.02", _usd("19", 870_000_000))]:
        added = admin.client.post(
            "/v1/admin/billing/balances:add", json={"targetUserId": alice.user_id, "amount": amount}
        )
        assert added.status_code == 200, added.text
        assert added.json() == {"balance": expected}
    money = {"currencyCode": "USD", "units": "-1", "nanos": -870_000_000}
    debited = admin.client.post(
        "/v1/admin/billing/balances:add", json={"targetUserId": alice.user_id, "amount": money}
    )
    assert debited.json() == {"balance": _usd("18")}
    looked_up = admin.client.post(
        "/v1/admin/billing/balances", json={"targetUserIds": [alice.user_id]}
    ).json()
    assert looked_up == {"balances": [{"userId": alice.user_id, "balance": _usd("18")}]}


def test_bad_credit_amounts_are_400(control_plane: Any) -> None:
    live = control_plane()
    admin = sign_up(live, "root@example.com", admin=True)
    alice = sign_up(live, "alice@example.com")
    for amount in ["0.0000001", "lots", 0, "1e30", {"units": "1", "nanos": 5}]:
        response = admin.client.post(
            "/v1/admin/billing/balances:add", json={"targetUserId": alice.user_id, "amount": amount}
        )
        assert response.status_code == 400, (amount, response.text)
    unknown = admin.client.post(
        "/v1/admin/billing/balances:add",
        json={"targetUserId": "00000000-0000-0000-0000-000000000000", "amount": "1"},
    )
    assert unknown.status_code == 404


def test_transactions_page_newest_first_with_tokens(control_plane: Any) -> None:
    live = control_plane()
    admin = sign_up(live, "root@example.com", admin=True)
    alice = sign_up(live, "alice@example.com")
    for amount in ["1", "2", "3"]:
        admin.client.post(
            "/v1/admin/billing/balances:add", json={"targetUserId": alice.user_id, "amount": amount}
        )
    seen: list[str] = []
    token = None
    for _ in range(5):
        params: dict[str, Any] = {"pageSize": 2, **({"pageToken": token} if token else {})}
        page = alice.client.get("/v1/billing/transactions", params=params).json()
        seen += [t["amount"]["units"] for t in page["transactions"]]
        token = page["nextPageToken"]
        if not token:
            break
    assert seen == ["3", "2", "1", "10"]
    bad = alice.client.get("/v1/billing/transactions", params={"pageToken": "garbage!"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_page_token"


def test_spending_summary_and_history_sum_usage_by_window_and_day(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    now = utcnow()
    record_usage(live, alice.user_id, cost_micros=1_000, created_at=now - timedelta(hours=1))
    record_usage(live, alice.user_id, cost_micros=20_000, created_at=now - timedelta(days=3))
    record_usage(live, alice.user_id, cost_micros=300_000, created_at=now - timedelta(days=20))
    record_usage(live, alice.user_id, cost_micros=999_000_000, created_at=now - timedelta(days=40))
    record_usage(
        live, alice.user_id, model=SMOL, cost_micros=0, cached_tokens=1_000_000, surface="serverless"
    )
    summary = alice.client.get("/v1/billing/spending/summary").json()
    assert summary == {
        "spend24h": _usd("0", 1_000_000),
        "spend7d": _usd("0", 21_000_000),
        "spend30d": _usd("0", 321_000_000),
    }
    buckets = alice.client.get("/v1/billing/spending/history").json()["buckets"]
    assert len(buckets) == 30 and buckets[-1]["bucketStart"].endswith("T00:00:00Z")
    assert sum(int(b["amount"]["nanos"]) for b in buckets) == 321_000_000
    assert buckets[-1]["costSaving"] == _usd("0", 20_000_000)  # 1M cached tokens x (0.02 - 0 cached)


def test_usage_lists_the_callers_records_filtered_and_paged(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    bob = sign_up(live, "bob@example.com")
    now = utcnow()
    for minutes in (30, 20, 10):
        record_usage(live, alice.user_id, model="a", created_at=now - timedelta(minutes=minutes))
    record_usage(live, alice.user_id, model="b", created_at=now)
    record_usage(live, bob.user_id, model="a")
    first = alice.client.get("/v1/billing/usage", params={"model": "a", "pageSize": 2}).json()
    assert len(first["usage"]) == 2 and first["nextPageToken"]
    rest = alice.client.get(
        "/v1/billing/usage", params={"model": "a", "pageSize": 2, "pageToken": first["nextPageToken"]}
    ).json()
    assert len(rest["usage"]) == 1 and rest["nextPageToken"] == ""
    stamps = [u["createdAt"] for u in first["usage"] + rest["usage"]]
    assert stamps == sorted(stamps, reverse=True)
    assert rest["usage"][0]["cost"] == _usd("0", 1_000_000) and rest["usage"][0]["promptTokens"] == 10
    since = (now - timedelta(minutes=15)).isoformat()
    recent = alice.client.get("/v1/billing/usage", params={"since": since}).json()["usage"]
    assert sorted(u["model"] for u in recent) == ["a", "b"]
    assert alice.client.get("/v1/billing/usage", params={"since": "yesterday"}).status_code == 400


def test_admin_billing_routes_refuse_non_admins(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    calls = [
        ("POST", "/v1/admin/billing/balances:add", {"targetUserId": alice.user_id, "amount": "5"}),
        ("POST", "/v1/admin/billing/balances", {"targetUserIds": [alice.user_id]}),
        ("GET", "/v1/admin/billing/serverless-pricing", None),
        ("PUT", "/v1/admin/billing/serverless-pricing", {"pricing": {"model": "x"}}),
        ("POST", "/v1/admin/billing/gpu-pricing", {"pricing": {"gpuType": "G", "cloudProvider": "C"}}),
    ]
    for method, path, body in calls:
        response = alice.client.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["type"] == "permission_error"
    assert alice.client.delete("/v1/admin/billing/serverless-pricing", params={"id": "x"}).status_code == 403


def test_admin_edits_serverless_and_gpu_price_lists(control_plane: Any) -> None:
    live = control_plane()
    admin = sign_up(live, "root@example.com", admin=True)
    smol = admin.client.get("/v1/admin/billing/serverless-pricing", params={"model": SMOL}).json()["pricing"][
        0
    ]
    updated = admin.client.put(
        "/v1/admin/billing/serverless-pricing",
        json={"pricing": {"id": smol["id"], "outputTokenPrice": {"units": "0", "nanos": 50_000_000}}},
    ).json()["pricing"]
    assert updated["outputTokenPrice"] == _usd("0", 50_000_000) and updated["inputTokenPrice"] == _usd(
        "0", 20_000_000
    )
    created = admin.client.post(
        "/v1/admin/billing/serverless-pricing", json={"pricing": {"model": "org/new"}}
    )
    new_id = created.json()["pricing"]["id"]
    clash = admin.client.put(
        "/v1/admin/billing/serverless-pricing", json={"pricing": {"id": new_id, "model": SMOL}}
    )
    assert clash.status_code == 409
    deleted = admin.client.delete("/v1/admin/billing/serverless-pricing", params={"id": new_id})
    assert deleted.json() == {"empty": {}}
    assert (
        admin.client.delete("/v1/admin/billing/serverless-pricing", params={"id": new_id}).status_code == 404
    )
    gpu = admin.client.post(
        "/v1/admin/billing/gpu-pricing",
        json={
            "pricing": {
                "gpuType": "GPU_TYPE_B200",
                "cloudProvider": "CLOUD_PROVIDER_ONPREM",
                "hourlyRate": "4.5",
            }
        },
    ).json()["pricing"]
    assert gpu["hourlyRate"] == _usd("4", 500_000_000)
    assert (
        admin.client.delete("/v1/admin/billing/gpu-pricing/GPU_TYPE_B200/CLOUD_PROVIDER_ONPREM").status_code
        == 200
    )
