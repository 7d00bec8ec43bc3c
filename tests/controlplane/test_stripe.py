"""Card payments: with a Stripe key the official `stripe` library does the calls (here against a local
stand-in of Stripe's API); without one, every Stripe route is one clear 400 naming the admin path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from records_harness import sign_up
from stripe_standin import StripeStandin

SECRET = "sk_test_kvmesh_0123456789"


@pytest.fixture
def stripe_api() -> Iterator[StripeStandin]:
    standin = StripeStandin()
    yield standin
    standin.close()


def test_without_a_key_every_stripe_route_says_card_payments_are_not_set_up(control_plane: Any) -> None:
    live = control_plane()
    alice = sign_up(live, "alice@example.com")
    for method, path in (
        ("GET", "/v1/billing/stripe/customers"),
        ("GET", "/v1/billing/stripe/customers/payment-methods"),
        ("POST", "/v1/billing/stripe/setup-intents"),
    ):
        response = alice.client.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "stripe_not_configured"
        assert "tm admin billing balances add" in error["message"]


def test_a_confirmed_card_payment_credits_the_balance_once(
    control_plane: Any, stripe_api: StripeStandin
) -> None:
    live = control_plane(stripe_secret_key=SECRET, stripe_api_base=stripe_api.base)
    alice = sign_up(live, "alice@example.com")
    before = alice.client.get("/v1/billing/balance").json()["balance"]
    customer = alice.client.get("/v1/billing/stripe/customers").json()["stripeCustomerId"]
    assert alice.client.get("/v1/billing/stripe/customers").json()["stripeCustomerId"] == customer
    attach = alice.client.post(
        "/v1/billing/stripe/customers/payment-methods", json={"stripePaymentMethodId": "pm_card_visa"}
    )
    assert attach.json() == {"empty": {}}
    methods = alice.client.get("/v1/billing/stripe/customers/payment-methods").json()
    assert methods["stripePaymentMethodIds"] == ["pm_card_visa"]
    assert methods["paymentMethods"][0]["last4"] == "4242"
    intent = alice.client.post(
        "/v1/billing/stripe/payment-intents",
        json={"amount": "12.50", "stripePaymentMethodId": "pm_card_visa"},
    ).json()
    assert intent["clientSecret"].startswith(intent["stripePaymentIntentId"])
    for _ in range(2):
        confirmed = alice.client.post(
            "/v1/billing/stripe/payment-intents/confirm",
            json={"stripePaymentIntentId": intent["stripePaymentIntentId"]},
        )
        assert confirmed.status_code == 200, confirmed.text
    after = alice.client.get("/v1/billing/balance").json()["balance"]
    assert (
        int(after["units"]) * 10**9 + after["nanos"] - (int(before["units"]) * 10**9 + before["nanos"])
        == 12_500_000_000
    )
    assert all(auth == f"Bearer {SECRET}" for _, _, auth in stripe_api.requests)
    actions = [a["action"] for a in alice.client.get("/v1/activities").json()["activities"]]
    assert "ACTIVITY_ACTION_CREDIT_GRANTED" in actions


def test_another_users_card_cannot_be_detached(control_plane: Any, stripe_api: StripeStandin) -> None:
    live = control_plane(stripe_secret_key=SECRET, stripe_api_base=stripe_api.base)
    alice, bob = sign_up(live, "alice@example.com"), sign_up(live, "bob@example.com")
    alice.client.post(
        "/v1/billing/stripe/customers/payment-methods", json={"stripePaymentMethodId": "pm_card_visa"}
    )
    bob.client.get("/v1/billing/stripe/customers")
    response = bob.client.delete(
        "/v1/billing/stripe/customers/payment-methods", params={"stripePaymentMethodId": "pm_card_visa"}
    )
    assert response.status_code == 404
    assert stripe_api.methods["pm_card_visa"]["customer"] is not None


def test_setup_intents_and_stripe_errors_are_clean(control_plane: Any, stripe_api: StripeStandin) -> None:
    live = control_plane(stripe_secret_key=SECRET, stripe_api_base=stripe_api.base)
    alice = sign_up(live, "alice@example.com")
    setup = alice.client.post("/v1/billing/stripe/setup-intents", json={}).json()
    assert setup["stripeSetupIntentId"].startswith("seti_")
    missing = alice.client.post(
        "/v1/billing/stripe/customers/payment-methods", json={"stripePaymentMethodId": "pm_nope"}
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "stripe_error"
