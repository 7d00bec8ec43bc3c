"""`make demo`: start the local stack, then walk the Tensormesh first-request flow with the real `tm`.

Run as `python -m kvmesh.local.demo`. Uses `$TM_CONFIG_HOME` when set, else `.demo/` in the
current directory, so a developer's own ~/.config/tensormesh is never touched. The stack is
left running at the end; the last line says how to stop it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HELLO = '[{"role":"user","content":"Say hello."}]'
CHAT = ("infer", "chat")
STREAM = '[{"role":"user","content":"Write one short sentence about the sea."}]'


@dataclass(frozen=True)
class DemoStep:
    args: tuple[str, ...]
    stdin: str | None = None
    command_path: tuple[str, ...] = ()  # the click path that must exist, e.g. ("infer", "chat")

    def shown(self) -> str:
        command = "tm " + " ".join(shlex.quote(a) for a in self.args)
        return f"echo {shlex.quote(self.stdin.strip())} | {command}" if self.stdin else command


STEPS = (
    DemoStep(("init", "--sync"), command_path=("init",)),
    DemoStep(("auth", "whoami"), command_path=("auth", "whoami")),
    DemoStep(("infer", "chat", "--json", HELLO), command_path=CHAT),
    DemoStep(("infer", "chat", "--stream"), stdin=HELLO + "\n", command_path=CHAT),
    DemoStep(("billing", "pricing", "serverless", "list"), command_path=("billing", "pricing", "serverless")),
    DemoStep(("infer", "doctor"), command_path=("infer", "doctor")),
    DemoStep(("infer", "chat", "--stream", "--max-tokens", "64"), stdin=STREAM + "\n", command_path=CHAT),
)


def tm_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kvmesh", *args]


def missing_command(path: tuple[str, ...]) -> str | None:
    """Why `tm <path>` cannot run in this build (None when `--help` works)."""
    probe = subprocess.run(tm_argv(*path, "--help"), capture_output=True, text=True, timeout=60)
    if probe.returncode == 0:
        return None
    lines = [line for line in (probe.stderr or probe.stdout).strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {probe.returncode}"


def run_step(step: DemoStep) -> bool:
    print(f"\n$ {step.shown()}", flush=True)
    problem = missing_command(step.command_path)
    if problem is not None:
        name = " ".join(step.command_path)
        print(f"[demo] skipped: `tm {name}` is not available in this build yet ({problem})")
        return False
    result = subprocess.run(tm_argv(*step.args), input=step.stdin, text=True, timeout=300)
    if result.returncode != 0:
        print(f"[demo] `{step.shown()}` exited with status {result.returncode}", flush=True)
    return result.returncode == 0


def main() -> int:
    if not os.environ.get("TM_CONFIG_HOME", "").strip():
        os.environ["TM_CONFIG_HOME"] = str(Path.cwd() / ".demo")
    root = os.environ["TM_CONFIG_HOME"]
    print(f"[demo] state root (TM_CONFIG_HOME): {root}", flush=True)
    print("\n$ tm local up", flush=True)
    if subprocess.run(tm_argv("local", "up"), timeout=1800).returncode != 0:
        print("[demo] the local stack did not start; see `tm local logs`.", file=sys.stderr)
        return 1
    results = [run_step(step) for step in STEPS]
    passed = sum(results)
    print(f"\n[demo] {passed}/{len(results)} steps succeeded.")
    stop_command = f"TM_CONFIG_HOME={shlex.quote(root)} tm local down"
    print(f"[demo] The stack is still running. Stop it with:  {stop_command}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
