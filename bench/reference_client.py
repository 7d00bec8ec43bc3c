"""The published `tensormesh==0.1.9` client in its own throwaway Python 3.12 venv: a peer to measure
and test against, never a dependency of kvmesh. `ensure_reference_tm()` returns the path of its `tm`."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

REFERENCE_VERSION = "0.1.9"


def _python312() -> str:
    for candidate in ("python3.12",):
        found = shutil.which(candidate)
        if found and subprocess.run([found, "-V"], capture_output=True).returncode == 0:
            return found
    hits = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    hits += sorted(glob.glob("/usr/bin/python3.12")) + sorted(glob.glob("/usr/local/bin/python3.12"))
    if not hits:
        raise RuntimeError("Python 3.12 is needed for the reference tensormesh client and was not found")
    return hits[-1]


def reference_venv() -> Path:
    root = os.environ.get("KVMESH_CACHE_DIR") or os.path.expanduser("~/.cache/kvmesh")
    return Path(root) / f"tensormesh-{REFERENCE_VERSION}-venv"


def ensure_reference_tm() -> Path:
    """Create (once) the reference client's venv and return its `tm` executable."""
    venv = reference_venv()
    tm = venv / "bin" / "tm"
    stamp = venv / ".complete"
    if stamp.is_file() and tm.is_file():
        return tm
    shutil.rmtree(venv, ignore_errors=True)  # scripts embed absolute paths: build in place, stamp when done
    subprocess.run([_python312(), "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"tensormesh=={REFERENCE_VERSION}"],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    stamp.write_text(REFERENCE_VERSION + "\n")
    return tm


if __name__ == "__main__":
    print(ensure_reference_tm())
