"""CLI start-up time: ours (`.venv/bin/tm`) against the reference tensormesh 0.1.9 `tm`, side by side.

Runs `tm --version` and `tm --help` for both CLIs interleaved (ours, reference, ours, ...) so
machine noise hits both alike, and prints the median wall time of each and the ratio ours/reference.

    .venv/bin/python bench/cli_startup.py [RUNS]      # RUNS defaults to 30
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_client import ensure_reference_tm

OURS = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tm"
COMMANDS = (["--version"], ["--help"])


def _time_once(executable: Path, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(executable), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - start


def main(runs: int) -> None:
    reference = ensure_reference_tm()
    with tempfile.TemporaryDirectory() as state_root:
        env = {**os.environ, "TM_CONFIG_HOME": state_root}
        for executable in (OURS, reference):  # warm the OS page cache and .pyc files
            for args in COMMANDS:
                _time_once(executable, args, env)
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(runs):
            for args in COMMANDS:
                for label, executable in (("ours", OURS), ("reference", reference)):
                    samples.setdefault((label, args[0]), []).append(_time_once(executable, args, env))
    print(f"tm start-up, median of {runs} runs each (interleaved), wall time per process")
    print(f"{'command':<14}{'ours':>10}{'reference':>12}{'ours/ref':>10}")
    for args in COMMANDS:
        ours = statistics.median(samples[("ours", args[0])]) * 1000
        ref = statistics.median(samples[("reference", args[0])]) * 1000
        print(f"{'tm ' + args[0]:<14}{ours:>8.1f}ms{ref:>10.1f}ms{ours / ref:>9.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
