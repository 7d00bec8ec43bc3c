"""`tm local up | down | status | logs`: Control Plane, Gateway and an embedded model on this machine."""

from __future__ import annotations

import click

from kvmesh.cli._errors import CliError

LOG_PARTS = ("controlplane", "gateway", "engine")


@click.group()
def local() -> None:
    """Run Control Plane, Gateway and an embedded engine on this machine, like a dev cluster.

    \b
    Example:
      tm local up        # start everything and sign the CLI in
      tm init --sync     # then follow the first-request docs
      tm local down      # stop everything `up` started
    """


@local.command()
@click.option("--controlplane-port", type=click.IntRange(1, 65535), help="Control Plane port (default 8080).")
@click.option("--gateway-port", type=click.IntRange(1, 65535), help="Gateway port (default 8081).")
@click.option(
    "--timeout", "timeout_s", default=180.0, show_default=True, help="Seconds to wait for each part."
)
@click.option("--engine-threads", type=click.IntRange(1, 256), help="CPU threads of the embedded engine.")
@click.option(
    "--engine-slots", default=4, show_default=True, type=click.IntRange(1, 64), help="Parallel request slots."
)
@click.option(
    "--engine-default-max-tokens",
    default=512,
    show_default=True,
    type=click.IntRange(-1, 1_000_000),
    help="Answer length for requests without max_tokens (-1: until end of text or context; "
    "the 135M model tends to loop, so unbounded answers run to the context limit).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the final summary.")
def up(
    controlplane_port: int | None,
    gateway_port: int | None,
    timeout_s: float,
    engine_threads: int | None,
    engine_slots: int,
    engine_default_max_tokens: int,
    quiet: bool,
) -> None:
    """Start the whole stack and sign the CLI in (no-op if running).

    Runs `kvmesh controlplane serve` and `kvmesh gateway serve` in the background (pid and log
    files under <state root>/local/), deploys the embedded SmolLM2-135M-Instruct model, signs
    the CLI in and points config.toml at the local servers. Ports 8080/8081 are used when free,
    otherwise free ports are picked and remembered.

    \b
    Example:
      tm local up
      tm init --sync
      tm infer chat --json '[{"role":"user","content":"Say hello."}]'
    """
    from kvmesh.local.bootstrap import LocalStackError
    from kvmesh.local.layout import LocalLayout
    from kvmesh.local.progress import Progress
    from kvmesh.local.stack import UpOptions
    from kvmesh.local.stack import up as stack_up

    options = UpOptions(
        controlplane_port, gateway_port, timeout_s, engine_threads, engine_slots, engine_default_max_tokens
    )
    try:
        state = stack_up(LocalLayout.from_env(), options, Progress(quiet=quiet))
    except LocalStackError as exc:
        raise CliError(str(exc), exc.hints) from None
    click.echo(f"Control Plane: {state['controlplane']['url']}")
    if "gateway" in state:
        click.echo(f"Gateway:       {state['gateway']['url']}")
    click.echo(f"Console:       {state['controlplane']['url']}/console  ({console_sign_in_hint()})")
    click.echo("Stop it with:  tm local down")
    click.echo("Next:          tm init --sync")


@local.command()
def down() -> None:
    """Stop everything `tm local up` started (and only that).

    \b
    Example:
      tm local down
    """
    from kvmesh.local.layout import LocalLayout
    from kvmesh.local.progress import Progress
    from kvmesh.local.stack import down as stack_down

    stopped = stack_down(LocalLayout.from_env(), Progress())
    click.echo(f"Stopped: {', '.join(stopped)}." if stopped else "Nothing was running.")


@local.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Show each part: running, stopped or stale.

    \b
    Example:
      tm local status
    """
    import json

    from kvmesh.local.layout import LocalLayout
    from kvmesh.local.stack import deployment_summary, part_statuses

    layout = LocalLayout.from_env()
    parts = part_statuses(layout)
    model = deployment_summary(layout)
    if as_json:
        rows = [{"part": p.part, "state": p.state, "pid": p.pid, "url": p.url} for p in parts]
        click.echo(json.dumps({"parts": rows, "model": model}, indent=2))
        return
    for part in parts:
        where = f"  {part.url}" if part.url and part.state == "running" else ""
        pid = f"  pid {part.pid}" if part.pid else ""
        click.echo(f"{part.part:<13} {part.state}{pid}{where}")
    click.echo(f"{'model':<13} {model['status'] if model else 'not deployed'}")


@local.command()
@click.argument("part", required=False, type=click.Choice(LOG_PARTS))
@click.option("-n", "--lines", default=40, show_default=True, type=click.IntRange(1, 100000), help="Lines.")
def logs(part: str | None, lines: int) -> None:
    """Print the last log lines (all parts, or one).

    \b
    Example:
      tm local logs engine -n 100
    """
    from kvmesh.engines.processes import tail_lines
    from kvmesh.local.layout import LocalLayout

    layout = LocalLayout.from_env()
    for name in [part] if part else LOG_PARTS:
        engine_logs = layout.engine_logs
        path = (engine_logs[0] if engine_logs else None) if name == "engine" else layout.log_file(name)
        if path is None or not path.is_file():
            click.echo(f"==> {name}: no log yet")
            continue
        click.echo(f"==> {name}: {path}")
        click.echo(tail_lines(path, lines))


def console_sign_in_hint() -> str:
    """How to sign in to the web console of the local stack (the password itself is never printed)."""
    from kvmesh.local.layout import OWNER_EMAIL, LocalLayout

    return f"sign in as {OWNER_EMAIL}, password in {LocalLayout.from_env().password_file}"
