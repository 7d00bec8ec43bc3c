"""`make demo`: start the local stack, then walk the Tensormesh first-request flow with the real `tm`.

Run as `python -m kvmesh.local.demo`. Uses `$TM_CONFIG_HOME` when set, else `.demo/` in the
current directory, so a developer's own ~/.config/tensormesh is never touched. `tm local up`
signs the CLI in (it stands in for the browser step of `tm auth login`); every later command is
the docs' own, in the docs' order, ending with a streamed answer from the embedded model. The
stack is left running; the last line says how to stop it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HELLO = '[{"role":"user","content":"Say hello."}]'
STREAM = '[{"role":"user","content":"Stream tokens."}]'
SERVERLESS_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class DemoStep:
    args: tuple[str, ...]
    stdin: str | None = None
    secret: str | None = None  # shown redacted when the command line is echoed

    def shown(self) -> str:
        words = [shlex.quote(a) for a in self.args]
        command = "tm " + " ".join(words)
        if self.secret:
            command = command.replace(self.secret, self.secret[:8] + "...")
        return f"echo {shlex.quote(self.stdin.strip())} | {command}" if self.stdin else command


def tm_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kvmesh", *args]


def run_step(step: DemoStep) -> bool:
    print(f"\n$ {step.shown()}", flush=True)
    result = subprocess.run(tm_argv(*step.args), input=step.stdin or "", text=True, timeout=600)
    if result.returncode != 0:
        print(f"[demo] `{step.shown()}` exited with status {result.returncode}", flush=True)
    return result.returncode == 0


def inference_api_key() -> str | None:
    """The user's gateway key, read the way a user would: `tm --output json users api-keys list`."""
    listing = subprocess.run(
        tm_argv("--output", "json", "users", "api-keys", "list"), capture_output=True, text=True, timeout=60
    )
    if listing.returncode != 0:
        return None
    keys = json.loads(listing.stdout).get("apiKeys") or []
    return str(keys[0]["id"]) if keys else None


def seed_flow_steps(api_key: str | None) -> list[DemoStep]:
    steps = [
        DemoStep(("init", "--sync")),
        DemoStep(("auth", "whoami")),
        DemoStep(("infer", "chat", "--json", HELLO)),
        DemoStep(("infer", "chat", "--stream", "--stream-idle-timeout", "600"), stdin=STREAM + "\n"),
        DemoStep(("infer", "chat", "--model", "@latest", "--json", HELLO)),
        DemoStep(("billing", "pricing", "serverless", "list")),
    ]
    if api_key:
        serverless = ("infer", "chat", "--surface", "serverless", "--api-key", api_key)
        steps.append(DemoStep((*serverless, "--model", SERVERLESS_MODEL, "--json", HELLO), secret=api_key))
    steps += [
        DemoStep(("infer", "doctor")),
        DemoStep(("infer", "chat", "--stream"), stdin=STREAM + "\n"),
    ]
    return steps


def main() -> int:
    if not os.environ.get("TM_CONFIG_HOME", "").strip():
        os.environ["TM_CONFIG_HOME"] = str(Path.cwd() / ".demo")
    root = os.environ["TM_CONFIG_HOME"]
    print(f"[demo] state root (TM_CONFIG_HOME): {root}", flush=True)
    print("\n$ tm local up", flush=True)
    if subprocess.run(tm_argv("local", "up"), timeout=1800).returncode != 0:
        print("[demo] the local stack did not start; see `tm local logs`.", file=sys.stderr)
        return 1
    results = [run_step(step) for step in seed_flow_steps(inference_api_key())]
    passed = sum(results)
    print(f"\n[demo] {passed}/{len(results)} steps succeeded.")
    stop_command = f"TM_CONFIG_HOME={shlex.quote(root)} tm local down"
    print(f"[demo] The stack is still running. Stop it with:  {stop_command}")
    print(f"[demo] {console_line()}", flush=True)
    return 0 if all(results) else 1


def console_line() -> str:
    """Where the web console of the running stack is and how to sign in (never the password itself)."""
    from kvmesh.local.layout import OWNER_EMAIL, LocalLayout

    layout = LocalLayout.from_env()
    url = layout.read_state().get("controlplane", {}).get("url", "http://127.0.0.1:8080")
    return f"Web console: {url}/console  (sign in as {OWNER_EMAIL}; password in {layout.password_file})"


if __name__ == "__main__":
    sys.exit(main())
