"""The `tm` / `kvmesh` command line: a lazy click group; every command group lives in its own module."""

from __future__ import annotations

import click

from kvmesh import __version__
from kvmesh.cli._lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "auth": ("kvmesh.cli.auth:auth", "Sign in to the Control Plane and manage tokens."),
    "init": ("kvmesh.cli.init:init", "Show local setup, or sync gateway settings (--sync)."),
    "infer": ("kvmesh.cli.infer:infer", "Send inference requests to the Gateway."),
    "billing": ("kvmesh.cli.billing:billing", "Balance, usage and pricing."),
    "models": ("kvmesh.cli.models:models", "Served models (deployments) in the Control Plane inventory."),
    "deployments": ("kvmesh.cli.deployments:deployments", "Create, list, wait for and delete deployments."),
    "users": ("kvmesh.cli.users:users", "Your user and its API keys."),
    "config": ("kvmesh.cli.config:config", "Show and edit config.toml."),
    "doctor": ("kvmesh.cli.doctor:doctor", "Check the whole local install (no network)."),
    "local": ("kvmesh.cli.local:local", "Run Control Plane, Gateway and an embedded engine on this machine."),
    "version": ("kvmesh.cli.version:version", "Print the version."),
    "completion": ("kvmesh.cli.completion:completion", "Print a shell completion script."),
    "controlplane": ("kvmesh.cli.servers:controlplane", "Serve and administer the Control Plane (operator)."),
    "gateway": ("kvmesh.cli.servers:gateway", "Serve the inference Gateway (operator)."),
    "db": ("kvmesh.cli.db:db", "Database migrations (operator)."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="tm")
def cli() -> None:
    """kvmesh: the Tensormesh-compatible CLI for a self-hosted LLM serving platform."""


def main() -> None:
    cli()
