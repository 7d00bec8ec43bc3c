"""`tm products list`: the deployable offerings (from the catalog; admins edit them in `tm admin`)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call


@click.group(name="products")
def products() -> None:
    """Product catalog (Control Plane).

    \b
    Example:
      tm --output table products list
    """


@products.command(name="list")
@TIMEOUT_OPTION
@pass_cli
def list_products(cli: CliContext, timeout: float | None) -> None:
    """List products (GET /v1/products).

    \b
    Example:
      tm products list
    """
    check_timeout(timeout)
    emit_controlplane_call(cli, "GET", "/v1/products", "products", timeout)
