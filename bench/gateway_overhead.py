"""Gateway overhead: direct vs kvmesh vs LiteLLM proxy vs vllm-router, same stand-in upstream, one run.

    .venv/bin/python bench/gateway_overhead.py [--quick] [--skip litellm,vllm-router] [--baseline DIR]

Starts a fast stand-in OpenAI upstream (raw asyncio on uvloop, 19 content chunks per stream, no delay
or 20 ms per token), then each target in its own process, and drives it from this process at
concurrency 1 and 32, JSON and streamed. Reports added p50/p99 latency and TTFT against direct, req/s,
target CPU time per request (utime+stime from /proc/<pid>/stat, children included) and RSS.
LiteLLM and vllm-router run from their own venvs under ~/.cache/kvmesh/ (created on first use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from gateway_bench_targets import (
    Target,
    free_port,
    start_kvmesh,
    start_litellm,
    start_vllm_router,
    wait_http,
)
from gateway_bench_upstream import CHUNKS, MODEL

CLK_TCK = os.sysconf("SC_CLK_TCK")
UPSTREAM_SCRIPT = str(Path(__file__).with_name("gateway_bench_upstream.py"))


# ---------------------------------------------------------------- load


@dataclass
class RunResult:
    latencies: list[float]
    ttfts: list[float]
    errors: int
    seconds: float
    cpu_seconds: float
    rss_mb: float

    @property
    def requests(self) -> int:
        return len(self.latencies)


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    total = utime + stime + cutime + cstime
    for child in _children(pid):
        total += _own_ticks(child)
    return total / CLK_TCK


def _own_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in map(int, kids):
            found.append(kid)
            found.extend(_children(kid))
    return found


def rss_mb(pid: int) -> float:
    total = 0
    for each in [pid, *_children(pid)]:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def drive(
    target: Target, stream: bool, concurrency: int, requests: int, max_seconds: float
) -> RunResult:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": CHUNKS}
    if stream:
        body["stream"] = True
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **target.headers}
    url = target.base + "/chat/completions"
    latencies: list[float] = []
    ttfts: list[float] = []
    errors = 0
    remaining = requests
    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=3.0)

    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            async with session.post(url, data=payload, headers=headers) as response:
                if stream:
                    first = None
                    async for _ in response.content.iter_any():
                        if first is None:
                            first = time.perf_counter()
                    ttfts.append((first or time.perf_counter()) - started)
                else:
                    await response.read()
                if response.status != 200:
                    errors += 1
                else:
                    target.sent_ok += 1
                    target.sent_ok_streamed += stream
            latencies.append(time.perf_counter() - started)

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                await one()

        for _ in range(min(concurrency * 2, 20)):  # warm-up: connections, caches
            await one()
        latencies.clear()
        ttfts.clear()
        errors = 0
        pid = target.proc.pid if target.proc else None
        cpu_before = proc_cpu_seconds(pid) if pid else 0.0
        started = time.perf_counter()
        deadline = started + max_seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        cpu = (proc_cpu_seconds(pid) - cpu_before) if pid else 0.0
    return RunResult(latencies, ttfts, errors, seconds, cpu, rss_mb(pid) if pid else 0.0)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests per run")
    parser.add_argument("--skip", default="", help="comma-separated targets to skip (litellm, vllm-router)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="cap on one run's duration")
    parser.add_argument("--profiles", default="0,20", help="upstream ms per token to run, comma-separated")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another kvmesh checkout (e.g. a worktree of an older commit) measured as `kvmesh-baseline`",
    )
    args = parser.parse_args()
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    scale = 0.25 if args.quick else 1.0
    print(
        f"# gateway_overhead  python={sys.version.split()[0]}  cpus={os.cpu_count()}  "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"
    )
    for per_token_ms in (float(ms) for ms in args.profiles.split(",")):
        asyncio.run(run_profile(per_token_ms, skip, scale, args.max_seconds, args.baseline))


async def run_profile(
    per_token_ms: float, skip: set[str], scale: float, max_seconds: float, baseline: Path | None
) -> None:
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, UPSTREAM_SCRIPT, str(up_port), str(per_token_ms)])
    upstream_base = f"http://127.0.0.1:{up_port}/v1"
    wait_http(upstream_base + "/models", upstream)
    targets = [Target("direct", upstream_base, None, {})]
    with tempfile.TemporaryDirectory(prefix="kvmesh-bench-") as tmp:
        workdir = Path(tmp)
        starters: dict[str, Callable[[str, Path], Target]] = {"kvmesh": start_kvmesh}
        if baseline is not None:
            starters["kvmesh-baseline"] = partial(start_kvmesh, source=baseline, name="kvmesh-baseline")
        starters.update({"litellm": start_litellm, "vllm-router": start_vllm_router})
        for name, start in starters.items():
            if name in skip:
                continue
            try:
                targets.append(start(upstream_base, workdir))
            except Exception as exc:  # report and go on: (a)/(b) are always measured
                print(f"!! {name} could not be started: {type(exc).__name__}: {exc}")
        try:
            await measure(targets, per_token_ms, scale, max_seconds)
        finally:
            for target in targets:
                if target.proc is not None:
                    target.proc.terminate()
                    try:
                        target.proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        target.proc.kill()
            upstream.terminate()
            upstream.wait()
        for target in targets:
            if target.database_url:
                print(usage_check(target))


async def measure(targets: list[Target], per_token_ms: float, scale: float, max_seconds: float) -> None:
    profile = f"{per_token_ms:g} ms/token"
    print(f"\n## upstream: {CHUNKS} tokens per reply, {profile}")
    print(
        "| target | mode | c | req | req/s | x direct | p50 ms | +p50 ms | p99 ms | +p99 ms | TTFT p50 ms "
        "| +TTFT ms | CPU ms/req | RSS MB | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for stream in (False, True):
        for concurrency in (1, 32):
            counts = (40, 640) if per_token_ms else (400, 3000)
            count = counts[0] if concurrency == 1 else counts[1]
            count = max(int(count * scale), 10)
            baseline: RunResult | None = None
            for target in targets:
                result = await drive(target, stream, concurrency, count, max_seconds)
                if baseline is None:
                    baseline = result
                rate = result.requests / result.seconds
                base_rate = baseline.requests / baseline.seconds
                p50, p99 = pct(result.latencies, 0.5) * 1000, pct(result.latencies, 0.99) * 1000
                b50, b99 = pct(baseline.latencies, 0.5) * 1000, pct(baseline.latencies, 0.99) * 1000
                ttft = pct(result.ttfts, 0.5) * 1000 if stream else float("nan")
                bttft = pct(baseline.ttfts, 0.5) * 1000 if stream else float("nan")
                cpu = result.cpu_seconds / result.requests * 1000 if target.proc else float("nan")
                print(
                    f"| {target.name} | {'stream' if stream else 'json'} | {concurrency} | {result.requests} "
                    f"| {rate:.0f} | {rate / base_rate:.3f} | {p50:.2f} | {p50 - b50:+.2f} | {p99:.2f} "
                    f"| {p99 - b99:+.2f} | {ttft:.2f} | {ttft - bttft:+.2f} | {cpu:.3f} "
                    f"| {result.rss_mb:.0f} | {result.errors} |",
                    flush=True,
                )


def usage_check(target: Target) -> str:
    """After the Gateway's clean shutdown: usage rows in its store against the 200s it answered."""
    from sqlalchemy import create_engine, text

    engine = create_engine(target.database_url)
    with engine.connect() as conn:
        rows, streamed, completion = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(streamed), 0), coalesce(sum(completion_tokens), 0)"
                " FROM usage_records"
            )
        ).one()
    engine.dispose()
    return (
        f"\n{target.name} usage_records after shutdown: {rows} rows for {target.sent_ok} answered requests "
        f"({streamed} streamed rows for {target.sent_ok_streamed} streamed requests); completion tokens "
        f"{completion} = {CHUNKS} x {target.sent_ok} -> {completion == CHUNKS * target.sent_ok}"
    )


if __name__ == "__main__":
    main()
