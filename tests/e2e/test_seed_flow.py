"""The docs' first-request flow, verbatim, against a real local stack (`tm local up`) and the real model.

`tm local up` starts Control Plane, Gateway and the embedded llama.cpp engine with SmolLM2-135M and
creates the owner account. The test then signs out and runs `tm auth login --no-open-browser`,
approving its code in headless Chromium with the owner's password, and after that every seed
command word for word in the docs' order, each as a fresh `tm` process with TM_CONFIG_HOME in a
temp dir. The `signed_in` fixture (login + `tm init --sync`) is what the later commands depend on.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from approve_page import approve_on_page

from kvmesh.local.layout import OWNER_EMAIL, SERVED_NAME, SERVERLESS_MODEL

pytestmark = [pytest.mark.engine, pytest.mark.browser]

TM = [sys.executable, "-m", "kvmesh"]
SAY_HELLO = '[{"role":"user","content":"Say hello."}]'
STREAM_TOKENS = '[{"role":"user","content":"Stream tokens."}]'
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
# The seed commands cannot set max_tokens and SmolLM2 may ramble to the end of its context (~75 s on
# 2 cores); llama-server's own default-length knob, inherited by the engine, keeps each answer short.
ENGINE_ENV = {"LLAMA_ARG_N_PREDICT": "128"}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORMESH_")}
    return {**env, "TM_CONFIG_HOME": str(state)}


def tm(state: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TM, *args], env=_env(state), input=stdin or "", capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running local stack in its own state root; torn down after the module."""
    from kvmesh.engines.llamacpp_build import find_llama_server

    if find_llama_server() is None:
        pytest.skip("llama-server is not built (kvmesh.engines.llamacpp_build)")
    state = tmp_path_factory.mktemp("tm-home")
    ports = ["--controlplane-port", str(_free_port()), "--gateway-port", str(_free_port())]
    up = subprocess.run(
        [*TM, "local", "up", *ports, "--quiet"],
        env={**_env(state), **ENGINE_ENV},
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield state
    finally:
        subprocess.run([*TM, "local", "down"], env=_env(state), capture_output=True, timeout=120)


def approve_in_chromium(auth_url: str, email: str, password: str) -> str:
    """Sign in on the approve page in headless Chromium and press Approve; returns the result title."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            return approve_on_page(browser.new_page(), auth_url, email, password)
        finally:
            browser.close()


def read_open_browser_url(login: subprocess.Popen[str]) -> str:
    assert login.stderr is not None
    seen = []
    for line in login.stderr:
        seen.append(line)
        match = re.match(r"Open browser: (\S+)", line)
        if match:
            return match.group(1)
    raise AssertionError(f"`tm auth login` printed no URL: {''.join(seen)!r}")


@pytest.fixture(scope="module")
def logged_in(home: Path) -> dict[str, Any]:
    """`tm auth login` from a signed-out state, approved by the owner in headless Chromium."""
    logout = tm(home, "auth", "logout", "--yes")
    assert logout.returncode == 0, logout.stderr
    assert not (home / "auth.json").exists()
    password = (home / "local" / "owner-password").read_text().strip()
    login = subprocess.Popen(
        [*TM, "auth", "login", "--no-open-browser", "--max-wait-seconds", "120"],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = read_open_browser_url(login)
        title = approve_in_chromium(url, OWNER_EMAIL, password)
        rest_of_stderr = login.stderr.read() if login.stderr else ""
        stdout = login.stdout.read() if login.stdout else ""
        returncode = login.wait(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
            login.wait()
    return {"url": url, "title": title, "returncode": returncode, "stdout": stdout, "stderr": rest_of_stderr}


@pytest.fixture(scope="module")
def signed_in(home: Path, logged_in: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """The seed's `Set Gateway Credentials` step: a browser login, then `tm init --sync`."""
    assert logged_in["returncode"] == 0, logged_in["stderr"]
    return tm(home, "init", "--sync")


def test_login_is_approved_in_the_browser_and_saves_tokens(home: Path, logged_in: dict[str, Any]) -> None:
    assert logged_in["title"] == "CLI login approved"
    assert logged_in["returncode"] == 0, logged_in["stderr"]
    auth_json = home / "auth.json"
    assert f"Login success. Tokens saved to {auth_json}" in logged_in["stderr"]
    assert auth_json.stat().st_mode & 0o777 == 0o600
    assert json.loads(auth_json.read_text())["access_token"]


def test_init_sync_stores_the_served_model(home: Path, signed_in: subprocess.CompletedProcess[str]) -> None:
    assert signed_in.returncode == 0, signed_in.stderr
    assert "Synced managed config:" in signed_in.stdout
    assert f"model_id={SERVED_NAME}" in signed_in.stdout
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600


def test_whoami_shows_the_owner(home: Path, signed_in: subprocess.CompletedProcess[str]) -> None:
    result = tm(home, "auth", "whoami")
    assert result.returncode == 0, result.stderr
    assert OWNER_EMAIL in result.stdout


def test_chat_answers(home: Path, signed_in: subprocess.CompletedProcess[str]) -> None:
    result = tm(home, "infer", "chat", "--json", SAY_HELLO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_chat_streams_from_stdin(home: Path, signed_in: subprocess.CompletedProcess[str]) -> None:
    result = tm(home, "infer", "chat", "--stream", stdin=STREAM_TOKENS + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and result.stdout.strip()


def test_chat_streams_with_a_longer_idle_timeout(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    args = ("infer", "chat", "--stream", "--stream-idle-timeout", "600")
    result = tm(home, *args, stdin=STREAM_TOKENS + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_chat_with_latest_model(home: Path, signed_in: subprocess.CompletedProcess[str]) -> None:
    result = tm(home, "infer", "chat", "--model", "@latest", "--json", SAY_HELLO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_serverless_pricing_lists_the_embedded_model(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    result = tm(home, "billing", "pricing", "serverless", "list")
    assert result.returncode == 0, result.stderr
    listed = yaml.safe_load(result.stdout)
    assert SERVERLESS_MODEL in [item["model"] for item in listed["pricing"]]


def test_serverless_shortcut_with_a_real_key_and_a_listed_model(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    pricing = tm(home, "--output", "json", "billing", "pricing", "serverless", "list")
    assert pricing.returncode == 0, pricing.stderr
    model = json.loads(pricing.stdout)["pricing"][0]["model"]
    keys = tm(home, "--output", "json", "users", "api-keys", "list")
    assert keys.returncode == 0, keys.stderr
    api_key = json.loads(keys.stdout)["apiKeys"][0]["id"]
    result = tm(
        home, "infer", "chat", "--surface", "serverless", "--api-key", api_key, "--model", model,
        "--json", SAY_HELLO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert api_key not in result.stdout + result.stderr


def test_infer_doctor_is_ready(home: Path, signed_in: subprocess.CompletedProcess[str]) -> None:
    result = tm(home, "infer", "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    live = tm(home, "infer", "doctor", "--live", "--exit-status")
    assert live.returncode == 0, live.stdout + live.stderr


def _served_deployment_id(home: Path) -> str:
    listed = tm(home, "--output", "json", "models", "list")
    assert listed.returncode == 0, listed.stderr
    ready = [m for m in json.loads(listed.stdout)["models"] if m["modelName"] == SERVED_NAME]
    return str(ready[0]["deploymentId"])


def test_models_chat_answers_through_the_gateway(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    result = tm(home, "models", "chat", _served_deployment_id(home), "--message", "Say hello.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_logs_show_the_engine_replicas_output(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    result = tm(home, "--output", "json", "logs", _served_deployment_id(home), "--limit", "500")
    assert result.returncode == 0, result.stderr
    sources = {line["source"] for line in json.loads(result.stdout)["logs"]}
    assert "replica-0" in sources


def test_metrics_count_the_requests_this_module_sent(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    import time

    deployment = _served_deployment_id(home)
    assert tm(home, "infer", "chat", "--json", SAY_HELLO).returncode == 0
    deadline = time.monotonic() + 30
    while True:  # the Gateway writes usage in batches
        result = tm(home, "--output", "json", "metrics", "deployment", deployment)
        assert result.returncode == 0, result.stderr
        series = {m["name"]: m["data"] for m in json.loads(result.stdout)["metrics"]}
        if sum(p["value"] for p in series["request_count"]) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sum(p["value"] for p in series["request_count"]) >= 1
    assert sum(p["value"] for p in series["completion_tokens"]) > 0
    assert max(p["value"] for p in series["latency_ms_p50"]) > 0


def test_the_browser_sign_in_is_in_the_activity_log(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    result = tm(home, "--output", "json", "activities", "list", "--action", "ACTIVITY_ACTION_USER_SIGNED_IN")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] >= 1


def test_logs_follow_prints_each_line_once_until_interrupted(
    home: Path, signed_in: subprocess.CompletedProcess[str]
) -> None:
    import signal
    import time

    from child_signals import default_sigint

    follow = subprocess.Popen(
        [*TM, "logs", _served_deployment_id(home), "-f", "--interval", "0.5", "--limit", "50"],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    time.sleep(4)  # several polls of the same lines
    follow.send_signal(signal.SIGINT)
    stdout, stderr = follow.communicate(timeout=30)
    assert follow.returncode == 0, stderr
    lines = stdout.splitlines()
    assert "Traceback" not in stderr
    assert 50 <= len(lines) < 100  # ~8 polls of the same 50 lines: printed once, plus any new ones
