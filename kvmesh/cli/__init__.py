"""The `tm` / `kvmesh` command line: a lazy click group; every command group lives in its own module.

The group is defined in `_group.py` and imported on first use (`from kvmesh.cli import cli` still
works), so `tm --version` answers before click is even imported. The operator groups (`controlplane`,
`gateway`, `db`, `local`) live in `kvmesh.ops` and are mounted here by name only: nothing in this
package imports them or any other server code (tests/test_import_rules.py checks it).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `typing` costs ~10 ms of start-up; mypy honours this name all the same
if TYPE_CHECKING:
    from typing import Any

    from kvmesh.cli._group import cli as cli

COMMANDS: dict[str, tuple[str, str]] = {
    "auth": ("kvmesh.cli.auth:auth", "Sign in to the Control Plane and manage tokens."),
    "init": ("kvmesh.cli.init:init", "Show local setup, or sync gateway settings (--sync)."),
    "infer": ("kvmesh.cli.infer:infer", "Send inference requests to the Gateway."),
    "billing": ("kvmesh.cli.billing:billing", "Balance, usage and pricing."),
    "cost": ("kvmesh.cli.cost:cost", "Spend and cache savings per model over a window."),
    "models": ("kvmesh.cli.models:models", "Served models (deployments) in the Control Plane inventory."),
    "deployments": ("kvmesh.cli.deployments:deployments", "Create, list, wait for and delete deployments."),
    "users": ("kvmesh.cli.users:users", "Your user and its API keys."),
    "config": ("kvmesh.cli.config:config", "Show and edit config.toml."),
    "doctor": ("kvmesh.cli.doctor:doctor", "Check the whole local install (no network)."),
    "local": ("kvmesh.ops.local:local", "Run Control Plane, Gateway and an embedded engine on this machine."),
    "logs": ("kvmesh.cli.logs:logs", "Fetch deployment logs (GET /v1/observability/deployments/{id}/logs)."),
    "metrics": ("kvmesh.cli.metrics:metrics", "Observability metrics (Control Plane)."),
    "activities": ("kvmesh.cli.activities:activities", "Account activity log (Control Plane)."),
    "products": ("kvmesh.cli.products:products", "Product catalog (Control Plane)."),
    "tickets": ("kvmesh.cli.tickets:tickets", "Support tickets (Control Plane)."),
    "reserved-deployments": (
        "kvmesh.cli.reserved_deployments:reserved_deployments",
        "Reserved deployment requests (Control Plane).",
    ),
    "admin": ("kvmesh.cli.admin:admin", "Admin-only Control Plane commands."),
    "version": ("kvmesh.cli.version:version", "Print the version."),
    "completion": ("kvmesh.cli.completion:completion", "Print a shell completion script."),
    "controlplane": (
        "kvmesh.ops.controlplane:controlplane",
        "Serve and administer the Control Plane (operator).",
    ),
    "gateway": ("kvmesh.ops.gateway:gateway", "Serve the inference Gateway (operator)."),
    "db": ("kvmesh.ops.db:db", "Database migrations (operator)."),
}

_VERSION_ARGS = (["--version"], ["-V"])


def __getattr__(name: str) -> Any:
    if name == "cli":
        from kvmesh.cli._group import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    if sys.argv[1:] in _VERSION_ARGS:  # the common probe, answered without importing click
        from kvmesh import __version__

        sys.stdout.write(f"tm, version {__version__}\n")
        return
    from kvmesh.cli._group import cli

    cli(prog_name="tm")
