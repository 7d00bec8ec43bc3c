"""The web console in headless Chromium against a real local stack (`tm local up`: Control Plane,
Gateway, llama.cpp with SmolLM2-135M). One stack per module; screenshots of every page are saved
under build/test-artifacts/console/ (KVMESH_TEST_ARTIFACTS overrides the folder).

Every page must render with no browser console error and no failed request; the playground streams
a real answer; a key created in the console is listed, works on the Gateway, and is refused there
once revoked; the usage chart is drawn from the traffic the playground just made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kvmesh.local.layout import OWNER_EMAIL, SERVERLESS_MODEL

pytestmark = [pytest.mark.engine, pytest.mark.browser]

TM = [sys.executable, "-m", "kvmesh"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
ARTIFACTS = Path(os.environ.get("KVMESH_TEST_ARTIFACTS", "build/test-artifacts")) / "console"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from kvmesh.engines.llamacpp_build import find_llama_server

    if find_llama_server() is None:
        pytest.skip("llama-server is not built (kvmesh.engines.llamacpp_build)")
    state = tmp_path_factory.mktemp("tm-console")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORMESH_")}
    env["TM_CONFIG_HOME"] = str(state)
    ports = ["--controlplane-port", str(_free_port()), "--gateway-port", str(_free_port())]
    up = subprocess.run(
        [*TM, "local", "up", *ports, "--engine-default-max-tokens", "48"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        urls = json.loads((state / "local" / "state.json").read_text())
        yield {
            "up": up.stdout,
            "cp": urls["controlplane"]["url"],
            "gateway": urls["gateway"]["url"],
            "password": (state / "local" / "owner-password").read_text().strip(),
        }
    finally:
        subprocess.run([*TM, "local", "down"], env=env, capture_output=True, timeout=120)


class Watched:
    """A signed-in Chromium page that records console errors and failed requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", lambda req: self.problems.append(f"failed: {req.url} {req.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def visit(self, url: str, shot: str) -> Any:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        self.screenshot(shot)
        return self.page

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser(stack: dict[str, Any]) -> Iterator[Watched]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
            watched = Watched(page)
            page.goto(f"{stack['cp']}/console/usage")
            assert "/console/signin" in page.url  # signed out: sent to sign in
            watched.screenshot("signin")
            page.fill("#email", OWNER_EMAIL)
            page.fill("#password", stack["password"])
            page.click("#signin")
            page.wait_for_selector("#period-form")  # back on the page asked for
            yield watched
        finally:
            chromium.close()


def test_local_up_prints_the_console_url(stack: dict[str, Any]) -> None:
    assert f"Console:       {stack['cp']}/console" in stack["up"]
    assert stack["password"] not in stack["up"]


def test_playground_streams_a_real_answer_from_the_embedded_model(
    browser: Watched, stack: dict[str, Any]
) -> None:
    page = browser.visit(f"{stack['cp']}/console/playground", "playground-empty")
    page.select_option("#target", f"serverless|{SERVERLESS_MODEL}")
    page.fill("#prompt", "Name one colour of the sky.")
    page.click("#send")
    reply = page.wait_for_selector(
        ".turn.assistant[data-state=done], .turn.assistant[data-state=error]", timeout=180_000
    )
    assert reply.get_attribute("data-state") == "done", reply.inner_text()
    assert reply.query_selector(".text").inner_text().strip()
    assert int(reply.get_attribute("data-completion-tokens")) > 0
    assert int(reply.get_attribute("data-ttft-ms")) > 0
    assert "TTFT" in reply.inner_text() and "cached" in reply.inner_text()
    browser.screenshot("playground")
    assert browser.problems == []


def _gateway_status(stack: dict[str, Any], key: str) -> int:
    response = httpx.post(
        f"{stack['gateway']}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": SERVERLESS_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1},
        timeout=120,
    )
    return response.status_code


def test_key_created_in_the_console_is_listed_then_refused_by_the_gateway_once_revoked(
    browser: Watched, stack: dict[str, Any]
) -> None:
    page = browser.visit(f"{stack['cp']}/console/keys", "keys-before")
    page.fill("#key-name", "browser-test")
    page.click("#create-key")
    key = page.inner_text("#new-key").strip()
    browser.screenshot("keys-created")
    row = page.locator("tr", has=page.locator("td.key-name", has_text="browser-test"))
    assert row.count() == 1
    assert _gateway_status(stack, key) == 200
    row.locator("a.revoke").click()
    page.wait_for_selector("#confirm-title")
    browser.screenshot("keys-revoke-confirm")
    page.click("#confirm")
    page.wait_for_selector("#message")
    assert page.locator("td.key-name", has_text="browser-test").count() == 0
    deadline = time.monotonic() + 30  # the Gateway's key cache serves an entry at most hard_ttl (4 s)
    while (status := _gateway_status(stack, key)) != 401 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status == 401
    assert browser.problems == []


def test_usage_chart_is_drawn_from_real_traffic(browser: Watched, stack: dict[str, Any]) -> None:
    page = browser.page
    deadline = time.monotonic() + 30  # the Gateway writes usage (and its rollup) every 0.5 s
    while True:
        page.goto(f"{stack['cp']}/console/usage?period=7d")
        if int(page.inner_text("#total-requests").replace(",", "")) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    page.wait_for_selector("#chart[data-drawn] canvas")
    series = json.loads(page.inner_text("#chart-data"))["series"]
    assert series["completion"][-1] > 0 and series["uncached"][-1] + series["cached"][-1] > 0
    assert SERVERLESS_MODEL in page.inner_text("#by-model")
    assert "period=7d" in page.url and page.get_attribute("#csv-export", "href").startswith(
        "/console/usage.csv?period=7d"
    )
    browser.screenshot("usage")
    assert browser.problems == []


@pytest.mark.parametrize(
    ("path", "shot", "selector"),
    [
        ("/console", "overview", "#balance"),
        ("/console/savings", "cost-saving", "#chart[data-drawn] canvas"),
        ("/console/billing", "billing", "#transactions"),
        ("/console/keys", "keys", "#keys"),
        ("/console/deployments", "deployments", "#deployments"),
        ("/console/admin/users", "admin-users", "#users"),
    ],
)
def test_every_page_renders_without_console_errors_or_failed_requests(
    browser: Watched, stack: dict[str, Any], path: str, shot: str, selector: str
) -> None:
    page = browser.visit(f"{stack['cp']}{path}", shot)
    page.wait_for_selector(selector)
    assert browser.problems == []


def test_deployment_page_shows_events_and_engine_log_lines(browser: Watched, stack: dict[str, Any]) -> None:
    page = browser.visit(f"{stack['cp']}/console/deployments", "deployments")
    page.click("#deployments a")
    page.wait_for_selector("#events")
    assert page.inner_text("#deployment-status") == "ready"
    assert page.inner_text("#log-0").strip() not in ("", "(empty)")
    browser.screenshot("deployment")
    assert browser.problems == []


def test_sign_out_ends_the_session(browser: Watched, stack: dict[str, Any]) -> None:
    page = browser.visit(f"{stack['cp']}/console", "overview")
    page.click("#logout")
    page.wait_for_selector("#signin")
    page.goto(f"{stack['cp']}/console/keys")
    assert "/console/signin" in page.url
