"""`tm reserved-deployments submit`: ask the operator for reserved capacity (stored for `tm admin`)."""

from __future__ import annotations

import click

from kvmesh.cli._context import CliContext, pass_cli
from kvmesh.cli._cp_body import body_options, body_or_flags
from kvmesh.cli._errors import usage_error
from kvmesh.cli._remote import TIMEOUT_OPTION, check_timeout, emit_controlplane_call

FIELDS = (
    ("full_name", "fullName", "Your full name."),
    ("work_email", "workEmail", "Work email."),
    ("company", "company", "Company."),
    ("job_title", "jobTitle", "Job title."),
    ("preferred_gpu", "preferredGpu", "Preferred GPU type."),
    ("total_gpus_needed", "totalGpusNeeded", "Total GPUs needed."),
    ("deployment_timeline", "deploymentTimeline", "When you need it."),
    ("workload_use_case", "workloadUseCase", "Workload / use case."),
    ("networking_storage", "networkingStorage", "Networking and storage needs."),
    ("other_notes", "otherNotes", "Anything else."),
)


@click.group(name="reserved-deployments")
def reserved_deployments() -> None:
    """Reserved deployment requests (Control Plane). On a self-hosted server the operator answers them.

    \b
    Example:
      tm reserved-deployments submit --full-name "Ada" --work-email ada@example.com --total-gpus-needed 8
    """


def _submit_options(func: click.decorators.FC) -> click.decorators.FC:
    for name, _, help_text in reversed(FIELDS):
        func = click.option(f"--{name.replace('_', '-')}", name, default=None, help=help_text)(func)
    return func


@reserved_deployments.command(name="submit")
@_submit_options
@body_options("JSON request body or @file.json (overrides flags).")
@TIMEOUT_OPTION
@pass_cli
def submit(
    cli: CliContext, /, json_arg: str | None, file_arg: str | None, timeout: float | None, **flags: str | None
) -> None:
    """Submit a reserved deployment request (POST /v1/support/reserved-deployments).

    \b
    Example:
      tm reserved-deployments submit --json @request.json
    """
    check_timeout(timeout)
    body = body_or_flags(json_arg, file_arg, {wire: flags.get(name) for name, wire, _ in FIELDS})
    if not body:
        raise usage_error("Provide at least one field (e.g. --full-name, --work-email) or a JSON body.")
    emit_controlplane_call(cli, "POST", "/v1/support/reserved-deployments", None, timeout, json_body=body)
