"""Card payments through Stripe (`/v1/billing/stripe/...`), done by the official `stripe` library.

Only when the operator configures a Stripe secret key (the Control Plane reads
KVMESH_STRIPE_SECRET_KEY); otherwise every route answers 400 with one clear message saying how an
admin adds credit instead. A confirmed payment intent that Stripe reports `succeeded` credits the
balance exactly once (the ledger row names the intent id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from kvmesh.controlplane import activities
from kvmesh.controlplane.access import resolve_user_id
from kvmesh.controlplane.activities import record_activity
from kvmesh.controlplane.deps import ControlPlaneServices, CurrentUser, DbSession, Services
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.inputs import ShortText, UserIdQuery
from kvmesh.controlplane.money import MoneyError, amount_to_micros
from kvmesh.controlplane.wire_models import EmptyResult, error_responses
from kvmesh.store.models import LedgerEntry, StripeCustomer, User

if TYPE_CHECKING:
    import stripe

router = APIRouter(tags=["stripe"], responses=error_responses(502))

NOT_CONFIGURED = (
    "card payments are not set up on this server (no Stripe secret key configured); "
    "an admin adds credit with `tm admin billing balances add --target-user-id <id> --amount <USD> --yes` "
    "or `kvmesh controlplane grant-credit`"
)
MAX_PAYMENT_MICROS = 100_000 * 1_000_000


class PaymentMethodBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    stripePaymentMethodId: ShortText
    userId: ShortText | None = None


class PaymentIntentBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    amount: dict[str, Any] | ShortText | int | float
    stripePaymentMethodId: ShortText | None = None
    userId: ShortText | None = None


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    stripePaymentIntentId: ShortText
    userId: ShortText | None = None


class SetupIntentBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    userId: ShortText | None = None


def _client(services: ControlPlaneServices) -> stripe.StripeClient:
    settings = services.settings
    if not settings.stripe_secret_key:
        raise ApiError(400, NOT_CONFIGURED, "stripe_not_configured")
    import stripe

    bases: dict[str, str] = {}
    if settings.stripe_api_base:
        bases = {"api": settings.stripe_api_base.rstrip("/")}
    return stripe.StripeClient(settings.stripe_secret_key, base_addresses=bases, max_network_retries=0)  # type: ignore[arg-type]


def _stripe_call(action: Any) -> Any:
    import stripe

    try:
        return action()
    except stripe.StripeError as exc:
        text = str(exc).strip()
        message = getattr(exc, "user_message", None) or (text.splitlines()[0] if text else type(exc).__name__)
        status = getattr(exc, "http_status", None)
        code = 400 if isinstance(status, int) and 400 <= status < 500 else 502
        raise ApiError(code, f"Stripe: {message}", "stripe_error") from None


def _customer_id(session: Session, client: stripe.StripeClient, user: User) -> str:
    row = session.get(StripeCustomer, user.id)
    if row is not None:
        return row.stripe_customer_id
    customer = _stripe_call(
        lambda: client.v1.customers.create(
            params={"email": user.email, "metadata": {"kvmesh_user_id": user.id}}
        )
    )
    session.add(StripeCustomer(user_id=user.id, stripe_customer_id=customer.id))
    session.commit()
    return str(customer.id)


def _target(session: Session, caller: User, requested: str | None) -> User:
    found = session.get(User, resolve_user_id(caller, requested))
    if found is None:
        raise ApiError(404, f"no such user: {requested}", "user_not_found")
    return found


@router.get("/v1/billing/stripe/customers")
def get_or_create_customer(
    user: CurrentUser, session: DbSession, services: Services, userId: UserIdQuery = None
) -> dict[str, Any]:
    client = _client(services)
    return {"stripeCustomerId": _customer_id(session, client, _target(session, user, userId))}


@router.get("/v1/billing/stripe/customers/payment-methods")
def list_payment_methods(
    user: CurrentUser, session: DbSession, services: Services, userId: UserIdQuery = None
) -> dict[str, Any]:
    client = _client(services)
    customer = _customer_id(session, client, _target(session, user, userId))
    listed = _stripe_call(lambda: client.v1.customers.payment_methods.list(customer, params={"type": "card"}))
    methods = []
    for method in listed.data:
        card = getattr(method, "card", None)
        methods.append(
            {
                "stripePaymentMethodId": method.id,
                "type": method.type,
                "brand": getattr(card, "brand", None),
                "last4": getattr(card, "last4", None),
                "expMonth": getattr(card, "exp_month", None),
                "expYear": getattr(card, "exp_year", None),
                "isDefault": False,
            }
        )
    return {
        "stripePaymentMethodIds": [m["stripePaymentMethodId"] for m in methods],
        "paymentMethods": methods,
    }


@router.post("/v1/billing/stripe/customers/payment-methods", response_model=EmptyResult)
def attach_payment_method(
    body: PaymentMethodBody, user: CurrentUser, session: DbSession, services: Services
) -> EmptyResult:
    client = _client(services)
    customer = _customer_id(session, client, _target(session, user, body.userId))
    _stripe_call(
        lambda: client.v1.payment_methods.attach(body.stripePaymentMethodId, params={"customer": customer})
    )
    return EmptyResult()


@router.delete("/v1/billing/stripe/customers/payment-methods", response_model=EmptyResult)
def detach_payment_method(
    user: CurrentUser,
    session: DbSession,
    services: Services,
    stripePaymentMethodId: Annotated[ShortText, Query(min_length=1)],
    userId: UserIdQuery = None,
) -> EmptyResult:
    """Detach a card; only one attached to the caller's own Stripe customer (404 otherwise)."""
    client = _client(services)
    customer = _customer_id(session, client, _target(session, user, userId))
    method = _stripe_call(lambda: client.v1.payment_methods.retrieve(stripePaymentMethodId))
    if getattr(method, "customer", None) != customer:
        raise ApiError(404, f"no such payment method: {stripePaymentMethodId}", "payment_method_not_found")
    _stripe_call(lambda: client.v1.payment_methods.detach(stripePaymentMethodId))
    return EmptyResult()


@router.post("/v1/billing/stripe/payment-intents")
def create_payment_intent(
    body: PaymentIntentBody, user: CurrentUser, session: DbSession, services: Services
) -> dict[str, Any]:
    """A payment intent for `amount` USD (Money object, decimal string or number), in cents."""
    client = _client(services)
    try:
        micros = amount_to_micros(body.amount)
    except MoneyError as exc:
        raise ApiError(400, f"amount: {exc}", "invalid_amount") from None
    if micros < 500_000 or micros > MAX_PAYMENT_MICROS or micros % 10_000:
        raise ApiError(400, "amount must be whole cents between 0.50 and 100000 USD", "invalid_amount")
    target = _target(session, user, body.userId)
    params: dict[str, Any] = {
        "amount": micros // 10_000,
        "currency": "usd",
        "customer": _customer_id(session, client, target),
        "metadata": {"kvmesh_user_id": target.id},
    }
    if body.stripePaymentMethodId:
        params["payment_method"] = body.stripePaymentMethodId
    intent = _stripe_call(lambda: client.v1.payment_intents.create(params=params))  # type: ignore[arg-type]
    return {"stripePaymentIntentId": intent.id, "clientSecret": intent.client_secret}


@router.post("/v1/billing/stripe/payment-intents/confirm", response_model=EmptyResult)
def confirm_payment_intent(
    body: ConfirmBody, user: CurrentUser, session: DbSession, services: Services
) -> EmptyResult:
    """Confirm the intent; once Stripe reports `succeeded`, credit its amount (once per intent)."""
    client = _client(services)
    target = _target(session, user, body.userId)
    customer = _customer_id(session, client, target)
    intent = _stripe_call(lambda: client.v1.payment_intents.retrieve(body.stripePaymentIntentId))
    if getattr(intent, "customer", None) != customer:
        raise ApiError(
            404, f"no such payment intent: {body.stripePaymentIntentId}", "payment_intent_not_found"
        )
    if intent.status in ("requires_confirmation", "requires_payment_method") and getattr(
        intent, "payment_method", None
    ):
        intent = _stripe_call(lambda: client.v1.payment_intents.confirm(intent.id))
    if intent.status != "succeeded":
        raise ApiError(
            409, f"payment intent {intent.id} is {intent.status}, not succeeded", "payment_not_succeeded"
        )
    marker = f"stripe payment {intent.id}"
    done = session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.user_id == target.id, LedgerEntry.description == marker)
    )
    if done is None:
        micros = int(intent.amount_received or intent.amount) * 10_000
        session.add(
            LedgerEntry(user_id=target.id, amount_micros=micros, kind="credit_grant", description=marker)
        )
        record_activity(
            session,
            user_id=target.id,
            action=activities.CREDIT_GRANTED,
            actor=user,
            resource_type=activities.RESOURCE_BALANCE,
            resource_id=intent.id,
            description=marker,
            details={"amountMicros": micros},
        )
        session.commit()
    return EmptyResult()


@router.post("/v1/billing/stripe/setup-intents")
def create_setup_intent(
    body: SetupIntentBody, user: CurrentUser, session: DbSession, services: Services
) -> dict[str, Any]:
    client = _client(services)
    customer = _customer_id(session, client, _target(session, user, body.userId))
    intent = _stripe_call(lambda: client.v1.setup_intents.create(params={"customer": customer}))
    return {"stripeSetupIntentId": intent.id, "clientSecret": intent.client_secret}
