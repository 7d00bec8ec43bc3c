"""`tm billing address get|update` and `tm billing stripe ...` (card payments, when the server has Stripe)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import body_options, body_or_flags, load_body, require_strings
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call
from kvmesh.cli.billing import billing

USER_ID_OPTION = click.option("--user-id", default=None, help="Optional user id to scope authorization.")
METHODS = "/v1/billing/stripe/customers/payment-methods"


@billing.group(name="address")
def address() -> None:
    """Billing address (Control Plane).

    \b
    Example:
      tm billing address update --json '{"address":{"line1":"1 Main St","city":"Lyon","country":"FR"}}'
    """


@address.command(name="get")
@USER_ID_OPTION
@TIMEOUT_OPTION
@pass_cli
def get_address(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """Get billing address (GET /v1/billing/address)."""
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", "/v1/billing/address", "address", timeout, params={"userId": user_id})


@address.command(name="update")
@body_options()
@TIMEOUT_OPTION
@pass_cli
def update_address(
    cli: CliContext, json_arg: str | None, file_arg: str | None, timeout: float | None
) -> None:
    """Update billing address (PUT /v1/billing/address)."""
    check_timeout(timeout)
    body = load_body(json_arg, file_arg)
    if body is None:
        raise usage_error("Billing address update request must be a JSON object.")
    emit_controlplane_call(cli, "PUT", "/v1/billing/address", None, timeout, json_body=body)


@billing.group(name="stripe")
def stripe() -> None:
    """Stripe card payments. Only on servers whose operator configured Stripe; otherwise one clear error.

    \b
    Example:
      tm billing stripe customer get
    """


@stripe.group(name="customer")
def customer() -> None:
    """Stripe customer."""


@customer.command(name="get")
@USER_ID_OPTION
@TIMEOUT_OPTION
@pass_cli
def get_customer(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """Get or create Stripe customer (GET /v1/billing/stripe/customers)."""
    check_timeout(timeout)
    emit_controlplane_call(
        cli, "GET", "/v1/billing/stripe/customers", None, timeout, params={"userId": user_id}
    )


@stripe.group(name="payment-methods")
def payment_methods() -> None:
    """Stripe payment methods."""


@payment_methods.command(name="list")
@USER_ID_OPTION
@TIMEOUT_OPTION
@pass_cli
def list_methods(cli: CliContext, user_id: str | None, timeout: float | None) -> None:
    """List Stripe payment methods (GET /v1/billing/stripe/customers/payment-methods)."""
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", METHODS, None, timeout, params={"userId": user_id})


@payment_methods.command(name="attach")
@click.option("--stripe-payment-method-id", default=None, help="Stripe payment method id to attach.")
@USER_ID_OPTION
@body_options("JSON request body or @file.json (overrides scalar flags).")
@TIMEOUT_OPTION
@pass_cli
def attach_method(
    cli: CliContext,
    stripe_payment_method_id: str | None,
    user_id: str | None,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Attach Stripe payment method (POST /v1/billing/stripe/customers/payment-methods)."""
    check_timeout(timeout)
    body = body_or_flags(
        json_arg, file_arg, {"stripePaymentMethodId": stripe_payment_method_id, "userId": user_id}
    )
    message = "Missing Stripe payment method id. Provide --stripe-payment-method-id or a JSON body."
    require_strings(body, ("stripePaymentMethodId",), message)
    emit_controlplane_call(cli, "POST", METHODS, "empty", timeout, json_body=body)


@payment_methods.command(name="detach")
@click.option("--stripe-payment-method-id", default=None, help="Stripe payment method id to detach.")
@USER_ID_OPTION
@TIMEOUT_OPTION
@pass_cli
def detach_method(
    cli: CliContext, stripe_payment_method_id: str | None, user_id: str | None, timeout: float | None
) -> None:
    """Detach Stripe payment method (DELETE /v1/billing/stripe/customers/payment-methods)."""
    check_timeout(timeout)
    if not stripe_payment_method_id or not stripe_payment_method_id.strip():
        raise usage_error("Missing Stripe payment method id. Provide --stripe-payment-method-id.")
    params = {"stripePaymentMethodId": stripe_payment_method_id.strip(), "userId": user_id}
    emit_controlplane_call(cli, "DELETE", METHODS, "empty", timeout, params=params)


@stripe.group(name="payment-intents")
def payment_intents() -> None:
    """Stripe payment intents."""


@payment_intents.command(name="create")
@body_options()
@TIMEOUT_OPTION
@pass_cli
def create_intent(cli: CliContext, json_arg: str | None, file_arg: str | None, timeout: float | None) -> None:
    """Create payment intent (POST /v1/billing/stripe/payment-intents).

    \b
    Example:
      tm billing stripe payment-intents create --json '{"amount":"25.00"}'
    """
    check_timeout(timeout)
    body = load_body(json_arg, file_arg)
    if body is None:
        raise usage_error("Payment intent request must be a JSON object.")
    emit_controlplane_call(cli, "POST", "/v1/billing/stripe/payment-intents", None, timeout, json_body=body)


@payment_intents.command(name="confirm")
@click.option("--stripe-payment-intent-id", default=None, help="Stripe payment intent id to confirm.")
@USER_ID_OPTION
@body_options("JSON request body or @file.json (overrides scalar flags).")
@TIMEOUT_OPTION
@pass_cli
def confirm_intent(
    cli: CliContext,
    stripe_payment_intent_id: str | None,
    user_id: str | None,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Confirm payment intent and credit the balance (POST /v1/billing/stripe/payment-intents/confirm)."""
    check_timeout(timeout)
    body = body_or_flags(
        json_arg, file_arg, {"stripePaymentIntentId": stripe_payment_intent_id, "userId": user_id}
    )
    message = "Missing Stripe payment intent id. Provide --stripe-payment-intent-id or a JSON body."
    require_strings(body, ("stripePaymentIntentId",), message)
    emit_controlplane_call(
        cli, "POST", "/v1/billing/stripe/payment-intents/confirm", "empty", timeout, json_body=body
    )


@stripe.group(name="setup-intents")
def setup_intents() -> None:
    """Stripe setup intents."""


@setup_intents.command(name="create")
@USER_ID_OPTION
@body_options()
@TIMEOUT_OPTION
@pass_cli
def create_setup_intent(
    cli: CliContext, user_id: str | None, json_arg: str | None, file_arg: str | None, timeout: float | None
) -> None:
    """Create setup intent (POST /v1/billing/stripe/setup-intents)."""
    check_timeout(timeout)
    body = body_or_flags(json_arg, file_arg, {"userId": user_id})
    emit_controlplane_call(cli, "POST", "/v1/billing/stripe/setup-intents", None, timeout, json_body=body)
