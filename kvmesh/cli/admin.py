"""`tm admin ...`: operator commands over the Control Plane API (admins only; 403 for everyone else)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import (
    YES_OPTION,
    body_options,
    body_or_flags,
    confirm,
    load_body,
    require_strings,
    require_text,
)
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call


@click.group(name="admin")
def admin() -> None:
    """Admin-only Control Plane commands (users, models, products, billing, support).

    \b
    Examples:
      tm admin users list
      tm admin billing balances add --target-user-id USER_ID --amount 25 --yes
    """


def _segment(value: str, label: str) -> str:
    from kvmesh.client import path_segment

    return path_segment(require_text(value, label))


@admin.group(name="users")
def users() -> None:
    """All users and their roles."""


@users.command(name="list")
@TIMEOUT_OPTION
@pass_cli
def list_users(cli: CliContext, timeout: float | None) -> None:
    """List users (GET /v1/admin/users)."""
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", "/v1/admin/users", None, timeout)


@users.command(name="change-role")
@click.option("--target-user-id", default=None, help="User whose role changes.")
@click.option("--target-user-role", default=None, help="USER_ROLE_USER or USER_ROLE_ADMIN.")
@click.option("--user-id", default=None, help="Optional acting admin user id.")
@YES_OPTION
@body_options("JSON request body or @file.json (overrides flags).")
@TIMEOUT_OPTION
@pass_cli
def change_role(
    cli: CliContext,
    target_user_id: str | None,
    target_user_role: str | None,
    user_id: str | None,
    yes: bool,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Change a user's role (POST /v1/admin/users/change_role).

    \b
    Example:
      tm admin users change-role --target-user-id USER_ID --target-user-role USER_ROLE_ADMIN --yes
    """
    check_timeout(timeout)
    flags = {"targetUserId": target_user_id, "targetUserRole": target_user_role, "userId": user_id}
    body = body_or_flags(json_arg, file_arg, flags)
    message = "Missing required fields. Provide --target-user-id and --target-user-role (or JSON)."
    require_strings(body, ("targetUserId", "targetUserRole"), message)
    confirm(yes, f"Change role of {body['targetUserId']} to {body['targetUserRole']}?")
    emit_controlplane_call(cli, "POST", "/v1/admin/users/change_role", "user", timeout, json_body=body)


@admin.group(name="models")
def models() -> None:
    """Every user's models."""


@models.command(name="list")
@click.option("--user-id", default=None, help="Only this user's models.")
@click.option("--page", type=int, default=None, help="Page number (from 1).")
@click.option("--size", type=int, default=None, help="Page size.")
@TIMEOUT_OPTION
@pass_cli
def list_models(
    cli: CliContext, user_id: str | None, page: int | None, size: int | None, timeout: float | None
) -> None:
    """List all models (GET /v1/admin/models)."""
    check_timeout(timeout)
    params = {"userId": user_id, "page": page, "size": size}
    emit_controlplane_call(cli, "GET", "/v1/admin/models", None, timeout, params=params)


@models.command(name="delete")
@click.argument("model_id")
@click.option("--user-id", default=None, help="Optional owner user id.")
@YES_OPTION
@body_options()
@TIMEOUT_OPTION
@pass_cli
def delete_model(
    cli: CliContext,
    model_id: str,
    user_id: str | None,
    yes: bool,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Delete any user's model (DELETE /v1/admin/models/{modelId})."""
    check_timeout(timeout)
    path = f"/v1/admin/models/{_segment(model_id, 'MODEL_ID')}"
    body = body_or_flags(json_arg, file_arg, {"userId": user_id})
    confirm(yes, f"Delete model {model_id.strip()!r}? This stops its inference.")
    emit_controlplane_call(cli, "DELETE", path, None, timeout, params={"userId": body.get("userId")})


@admin.group(name="products")
def products() -> None:
    """The product list users see with `tm products list`."""


@products.command(name="list")
@TIMEOUT_OPTION
@pass_cli
def list_products(cli: CliContext, timeout: float | None) -> None:
    """List all products, active or not (GET /v1/admin/products)."""
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", "/v1/admin/products", "products", timeout)


@products.command(name="upsert")
@click.option("--id", "product_id", default=None, help="Product id.")
@click.option("--name", default=None, help="Display name.")
@click.option("--required-gpu-num", type=int, default=None, help="GPUs one replica needs.")
@click.option("--family", default=None, help="Product family (e.g. llamacpp, vllm).")
@click.option("--active/--inactive", default=None, help="Whether users see it.")
@click.option("--spec-json", default=None, help="Product spec as a JSON object.")
@YES_OPTION
@body_options("JSON request body or @file.json (overrides flags).")
@TIMEOUT_OPTION
@pass_cli
def upsert_product(
    cli: CliContext,
    product_id: str | None,
    name: str | None,
    required_gpu_num: int | None,
    family: str | None,
    active: bool | None,
    spec_json: str | None,
    yes: bool,
    json_arg: str | None,
    file_arg: str | None,
    timeout: float | None,
) -> None:
    """Create or update a product (POST /v1/admin/products).

    \b
    Example:
      tm admin products upsert --id smollm2 --name "SmolLM2 135M" --family llamacpp --yes
    """
    import json

    check_timeout(timeout)
    body = load_body(json_arg, file_arg)
    if body is None:
        spec = None
        if spec_json is not None:
            try:
                spec = json.loads(spec_json)
            except ValueError as exc:
                raise usage_error(f"--spec-json is not valid JSON: {exc}") from None
            if not isinstance(spec, dict):
                raise usage_error("--spec-json must be a JSON object.")
        flags = {"id": product_id, "name": name, "requiredGpuNum": required_gpu_num, "family": family}
        product = {key: value for key, value in flags.items() if value is not None}
        if active is not None:
            product["isActive"] = active
        if spec is not None:
            product["spec"] = spec
        body = {"product": product}
    if not isinstance(body.get("product"), dict) or not body["product"].get("id"):
        raise usage_error('Missing product id. Provide --id or JSON {"product": {"id": ...}}.')
    confirm(yes, f"Upsert product {body['product']['id']!r}?")
    emit_controlplane_call(cli, "POST", "/v1/admin/products", "product", timeout, json_body=body)


@products.command(name="delete")
@click.argument("product_id")
@YES_OPTION
@TIMEOUT_OPTION
@pass_cli
def delete_product(cli: CliContext, product_id: str, yes: bool, timeout: float | None) -> None:
    """Delete (or, when catalog-backed, deactivate) a product (DELETE /v1/products/{productId})."""
    check_timeout(timeout)
    path = f"/v1/products/{_segment(product_id, 'PRODUCT_ID')}"
    confirm(yes, f"Delete product {product_id.strip()!r}?")
    emit_controlplane_call(cli, "DELETE", path, None, timeout)


from kvmesh.cli import admin_billing as _admin_billing  # noqa: E402,F401  (registers billing, support)
