"""First-run setup of the local stack: owner account, CLI sign-in, embedded deployment, config.toml."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kvmesh.local.layout import OWNER_EMAIL, SERVED_NAME, SERVERLESS_MODEL, LocalLayout
from kvmesh.local.progress import Progress


class LocalStackError(RuntimeError):
    """A local-stack step failed; `hints` are fix suggestions for the user."""

    def __init__(self, message: str, hints: list[str] | None = None) -> None:
        super().__init__(message)
        self.hints = hints or []


def kvmesh_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kvmesh", *args]


def _run_admin(layout: LocalLayout, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = kvmesh_command(
        "controlplane", *args, "--database-url", layout.database_url, "--data-dir", str(layout.server_dir)
    )
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)


def ensure_owner(layout: LocalLayout, progress: Progress) -> None:
    """Create the owner account once; its generated password lives 0600 in the local dir."""
    from kvmesh.client import atomic_write_text

    if layout.password_file.is_file():
        return
    password = secrets.token_urlsafe(18)
    result = _run_admin(layout, "create-user", "--email", OWNER_EMAIL, "--admin", stdin=password + "\n")
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise LocalStackError(f"could not create the owner account: {_last_line(result.stderr)}")
    if result.returncode == 0:
        atomic_write_text(layout.password_file, password + "\n")
        progress.say(f"Created the owner account {OWNER_EMAIL} (password in {layout.password_file})")


def sign_in_cli(layout: LocalLayout) -> str:
    """Issue tokens for the owner and store them as auth.json; returns the access token."""
    from kvmesh.client import auth_json_path, write_token_file

    result = _run_admin(layout, "issue-tokens", "--email", OWNER_EMAIL)
    if result.returncode != 0:
        raise LocalStackError(f"could not sign the CLI in: {_last_line(result.stderr)}")
    try:
        tokens = json.loads(result.stdout)
        access_token = str(tokens["access_token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LocalStackError("`kvmesh controlplane issue-tokens` printed no token object") from exc
    write_token_file(auth_json_path(), tokens)
    return access_token


def ensure_deployment(controlplane_url: str, access_token: str, engine_config: dict[str, Any]) -> str:
    """The id of the owner's embedded deployment, creating it through the Control Plane API if needed."""
    import httpx

    headers = {"Authorization": f"Bearer {access_token}"}
    with httpx.Client(base_url=controlplane_url, headers=headers, timeout=30) as client:
        existing = _find_embedded(client)
        if existing is not None and existing.get("status") != "MODEL_STATUS_FAILED":
            return str(existing.get("deploymentId") or existing.get("modelId"))
        if existing is not None:  # a failed deployment is replaced by a fresh one
            old_id = str(existing.get("deploymentId") or existing.get("modelId"))
            client.delete(f"/v1/deployments/{old_id}")
            deadline = time.monotonic() + 60
            while _find_embedded(client) is not None and time.monotonic() < deadline:
                time.sleep(0.5)
        body = {
            "modelName": SERVED_NAME,
            "catalogModel": SERVERLESS_MODEL,
            "provider": "llamacpp",
            "replicas": 1,
            "engineConfig": engine_config,
            "description": "embedded SmolLM2-135M-Instruct (tm local up)",
        }
        created = client.post("/v1/deployments", json=body)
    if created.status_code not in (200, 201):
        detail = f"({created.status_code}): {created.text[:300]}"
        raise LocalStackError(f"the Control Plane refused the embedded deployment {detail}")
    record = created.json().get("deployment", {})
    return str(record.get("deploymentId") or record.get("modelId"))


def _find_embedded(client: Any) -> dict[str, Any] | None:
    listing = client.get("/v1/deployments")
    if listing.status_code != 200:
        return None
    for record in _records(listing.json()):
        if record.get("modelName") == SERVED_NAME:
            return record
    return None


def _records(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        for key in ("deployments", "models"):
            if isinstance(payload.get(key), list):
                return [r for r in payload[key] if isinstance(r, dict)]
    return []


def link_serverless(layout: LocalLayout, deployment_id: str) -> None:
    """Let the embedded deployment also back the serverless catalog entry of the same model."""
    from kvmesh.controlplane.deployments import back_serverless_model
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.models import Deployment

    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            deployment = session.get(Deployment, deployment_id)
            if deployment is not None:
                back_serverless_model(session, deployment, SERVERLESS_MODEL)
    finally:
        engine.dispose()


def deployment_state(layout: LocalLayout, deployment_id: str) -> tuple[str, str]:
    """(status, last_error) of a deployment, read from the store."""
    from kvmesh.store.engine import create_engine_for_url, make_session_factory
    from kvmesh.store.models import Deployment

    engine = create_engine_for_url(layout.database_url)
    try:
        with make_session_factory(engine)() as session:
            deployment = session.get(Deployment, deployment_id)
            return ("missing", "") if deployment is None else (deployment.status, deployment.last_error)
    finally:
        engine.dispose()


def wait_for_deployment(
    layout: LocalLayout, deployment_id: str, progress: Progress, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status, error = deployment_state(layout, deployment_id)
        progress.update(f"Waiting for the embedded model to load: {status}")
        if status == "ready":
            return
        if status in ("failed", "stopped", "missing"):
            raise LocalStackError(
                f"the embedded model deployment is {status}: {error.strip() or 'no detail'}",
                ["See the engine log: tm local logs engine", "Then retry: tm local down && tm local up"],
            )
        if time.monotonic() > deadline:
            raise LocalStackError(f"the embedded model is still {status} after {timeout_s:.0f}s")
        time.sleep(0.5)


def point_config_at(controlplane_url: str, gateway_url: str | None) -> Path:
    """Set top-level controlplane_base (and gateway_base, serverless_base) in config.toml, keeping comments.

    The local Gateway serves both surfaces, so On-Demand and serverless bases both point at it."""
    from kvmesh.client import default_config_path, load_config_document, save_config_document

    path = default_config_path()
    document = load_config_document(path)
    document["controlplane_base"] = controlplane_url
    if gateway_url:
        document["gateway_base"] = gateway_url
        document["serverless_base"] = gateway_url
    save_config_document(path, document)
    return path


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
