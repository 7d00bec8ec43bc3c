"""Fault: a read-only or full state root. `tm` prints one `Error:` line, exits 1 and loses nothing.

Each case runs `tm` in a private mount namespace (`unshare --user --map-root-user --mount`) with
a 256 KiB tmpfs mounted over the state root: remounted read-only (EROFS), or filled to the last
block with a scratch file (ENOSPC). Both are the real kernel errors, not simulated ones. After
the command the script reports what the state root then holds, so the test can check that the
old files are intact and no temporary file is left behind; for the disk-full cases it frees the
space and runs the command again, which must then succeed with the tokens that were kept.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kvmesh.engines.processes import free_port

ADMIN = [sys.executable, "-m", "kvmesh", "controlplane"]
UNSHARE = ["unshare", "--user", "--map-root-user", "--mount"]
EMAIL = "owner@example.com"
SCRIPT = r"""
set -e
mount -t tmpfs -o size=256k,mode=0700 tmpfs "$ROOT"
cp -a "$SEED"/. "$ROOT"/
cd /
if [ "$FAULT" = read-only ]; then
  mount -o remount,ro "$ROOT"
else
  dd if=/dev/zero of="$ROOT/.filler" bs=4k 2>/dev/null || true
fi
set +e
"$PY" -m kvmesh "$@" > "$OUT/stdout" 2> "$OUT/stderr"
echo $? > "$OUT/exit"
ls -A "$ROOT" > "$OUT/files"
cat "$ROOT/config.toml" > "$OUT/config.toml" 2>/dev/null
cat "$ROOT/auth.json" > "$OUT/auth.json" 2>/dev/null
if [ "$FAULT" = disk-full ]; then
  rm -f "$ROOT/.filler"
  "$PY" -m kvmesh "$@" > "$OUT/again.stdout" 2> "$OUT/again.stderr"
  echo $? > "$OUT/again.exit"
fi
"""


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*UNSHARE, "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _namespaces_work(), reason="needs unshare with user + mount namespaces to mount a tiny tmpfs"
)


@dataclass
class Outcome:
    exit_code: int
    stderr: str
    files: list[str]
    config: str
    auth: str
    again_exit: int | None
    again_stderr: str

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]


def run_tm(tmp_path: Path, fault: str, seed: dict[str, str], *args: str, stdin: str = "") -> Outcome:
    """Run `tm ARGS` with the state root on a tiny tmpfs holding `seed`, under `fault`."""
    root, seed_dir, out = tmp_path / "root", tmp_path / "seed", tmp_path / "out"
    for folder in (root, seed_dir, out):
        folder.mkdir()
    for name, text in seed.items():
        (seed_dir / name).write_text(text)
        (seed_dir / name).chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENSORMESH_", "TM_"))}
    env.update(ROOT=str(root), SEED=str(seed_dir), OUT=str(out), FAULT=fault, PY=sys.executable)
    env["TM_CONFIG_HOME"] = str(root)
    subprocess.run(
        [*UNSHARE, "bash", "-c", SCRIPT, "tm-fault", *args], env=env, input=stdin, text=True, timeout=180
    )

    def read(name: str) -> str:
        path = out / name
        return path.read_text() if path.exists() else ""

    again = read("again.exit").strip()
    return Outcome(
        exit_code=int(read("exit")),
        stderr=read("stderr"),
        files=read("files").split(),
        config=read("config.toml"),
        auth=read("auth.json"),
        again_exit=int(again) if again else None,
        again_stderr=read("again.stderr"),
    )


@dataclass(frozen=True)
class ControlPlane:
    base: str
    database_url: str
    data_dir: Path

    def tokens(self) -> str:
        """A fresh token object for the account, as `tm auth login --with-token` takes it."""
        issued = subprocess.run(
            [*ADMIN, "issue-tokens", "--email", EMAIL, "--database-url", self.database_url],
            env={**os.environ, "KVMESH_DATA_DIR": str(self.data_dir)},
            check=True,
            capture_output=True,
            text=True,
        )
        return issued.stdout


@pytest.fixture(scope="module")
def controlplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A real Control Plane (no engines) with one account."""
    data = tmp_path_factory.mktemp("cp-data")
    db = f"sqlite:///{data}/kvmesh.db"
    env = {**os.environ, "KVMESH_DATA_DIR": str(data)}
    kvmesh = ADMIN
    port = free_port()
    with (data / "cp.log").open("w") as log:
        server = subprocess.Popen(
            [*kvmesh, "serve", "--port", str(port), "--database-url", db, "--no-engines"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, (data / "cp.log").read_text()
                time.sleep(0.2)
        create = [
            *kvmesh,
            "create-user",
            "--email",
            EMAIL,
            "--password",
            "pw-123456789",
            "--database-url",
            db,
        ]
        subprocess.run(create, env=env, check=True, capture_output=True)
        yield ControlPlane(base, db, data)
    finally:
        server.terminate()
        server.wait(timeout=20)


OLD_CONFIG = 'controlplane_base = "http://127.0.0.1:9"\n'
FAULTS = [("read-only", "Read-only file system"), ("disk-full", "No space left on device")]


def _assert_one_error_line(outcome: Outcome, *needles: str) -> None:
    assert outcome.exit_code == 1, outcome.stderr
    assert "Traceback" not in outcome.stderr, outcome.stderr
    errors = outcome.error_lines()
    assert len(errors) == 1 and all(n in errors[0] for n in needles), outcome.stderr


def _no_temp_files(outcome: Outcome) -> None:
    leftovers = [name for name in outcome.files if name.endswith((".tmp", ".room"))]
    assert not leftovers, outcome.files


@pytest.mark.parametrize(("fault", "reason"), FAULTS)
def test_config_set_keeps_the_old_file_and_says_why(tmp_path: Path, fault: str, reason: str) -> None:
    outcome = run_tm(
        tmp_path,
        fault,
        {"config.toml": OLD_CONFIG},
        "config",
        "set",
        "controlplane_base",
        "http://127.0.0.1:1",
    )
    _assert_one_error_line(outcome, "config.toml", reason)
    assert outcome.config == OLD_CONFIG
    _no_temp_files(outcome)
    if fault == "disk-full":
        assert outcome.again_exit == 0, outcome.again_stderr


@pytest.mark.parametrize(("fault", "reason"), FAULTS)
def test_login_token_save_fails_with_one_line(
    tmp_path: Path, controlplane: ControlPlane, fault: str, reason: str
) -> None:
    outcome = run_tm(
        tmp_path,
        fault,
        {"config.toml": OLD_CONFIG},
        "--controlplane-base",
        controlplane.base,
        "auth",
        "login",
        "--with-token",
        stdin=controlplane.tokens(),
    )
    _assert_one_error_line(outcome, "auth.json", reason)
    assert "auth.json" not in outcome.files
    _no_temp_files(outcome)


@pytest.mark.parametrize(("fault", "reason"), FAULTS)
def test_init_sync_cannot_save_its_config_and_says_why(
    tmp_path: Path, controlplane: ControlPlane, fault: str, reason: str
) -> None:
    config = f'controlplane_base = "{controlplane.base}"\n'
    outcome = run_tm(
        tmp_path, fault, {"config.toml": config, "auth.json": controlplane.tokens()}, "init", "--sync"
    )
    _assert_one_error_line(outcome, "config.toml", reason)
    assert outcome.config == config
    _no_temp_files(outcome)
    if fault == "disk-full":
        assert outcome.again_exit == 0, outcome.again_stderr


def test_a_refresh_on_a_full_disk_does_not_spend_the_refresh_token(
    tmp_path: Path, controlplane: ControlPlane
) -> None:
    """The refresh token is spent only once the new tokens can be saved, so nobody is signed out."""
    tokens = json.loads(controlplane.tokens())
    stale = json.dumps({**tokens, "access_token": "refused.access.token"})
    config = f'controlplane_base = "{controlplane.base}"\n'
    outcome = run_tm(tmp_path, "disk-full", {"config.toml": config, "auth.json": stale}, "auth", "whoami")
    _assert_one_error_line(outcome, "auth.json", "No space left on device")
    assert json.loads(outcome.auth)["refresh_token"] == tokens["refresh_token"]
    _no_temp_files(outcome)
    assert outcome.again_exit == 0, outcome.again_stderr
