"""Console admin views: every user with usage, balance and deployments; grant credit. Admins only,
checked on every route."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from kvmesh.controlplane.console.rendering import ConsoleCtx, html_errors
from kvmesh.controlplane.console.usage_views import admin_users
from kvmesh.controlplane.errors import ApiError
from kvmesh.controlplane.money import MoneyError, decimal_to_micros
from kvmesh.store.models import User
from kvmesh.store.users import grant_credit

router = APIRouter()
FormField = Annotated[str, Form()]
MAX_GRANT_MICROS = 1_000_000 * 1_000_000  # one million dollars per grant


@router.get("/admin/users")
@html_errors
def users_page(console: ConsoleCtx, granted: str = "") -> Response:
    console.require_admin()
    message = f"Granted ${granted} of credit." if granted.replace(".", "", 1).isdigit() else ""
    return console.page("admin_users.html", rows=admin_users(console.db), message=message)


@router.post("/admin/users/{user_id}/credit")
@html_errors
def grant(
    console: ConsoleCtx,
    user_id: str,
    amount: FormField = "",
    description: FormField = "",
    csrf_token: FormField = "",
) -> Response:
    console.require_admin()
    console.check_csrf(csrf_token)
    try:
        target = console.db.get(User, str(uuid.UUID(user_id)))
    except ValueError:
        target = None
    if target is None:
        raise ApiError(404, "No such user.")
    try:
        micros = decimal_to_micros(amount.strip())
    except MoneyError as exc:
        raise ApiError(400, f"Amount: {exc}.") from None
    if not 0 < micros <= MAX_GRANT_MICROS:
        raise ApiError(400, "Amount must be more than 0 and at most 1000000 USD.")
    note = description.strip()[:200] or f"granted by {console.user.email} in the console"
    grant_credit(console.db, target.id, micros, note)
    console.db.commit()
    return RedirectResponse(f"/console/admin/users?granted={amount.strip()}", status_code=303)
