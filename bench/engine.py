"""Engine benchmark: the embedded llama-server direct vs through the kvmesh Gateway, in one run.

Starts the local stack (`tm local up`) in a throw-away state root on free ports, so both paths
hit the very same llama-server process and model file, then measures (medians over --reps):
  1. decode tokens/s and TTFT, concurrency 1 and 4, raw vs Gateway (interleaved);
  2. 4 streams at once vs the same 4 one after another (wall time);
  3. TTFT with a repeated ~800-token prefix (prompt-cache hit) vs a fresh prefix each time.
Every request generates exactly --max-tokens tokens (`ignore_eos`). Stops the stack at the end.

    .venv/bin/python bench/engine.py [--reps 3] [--max-tokens 32] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FILLER = (
    "The harbour town wakes slowly: fishing boats knock against the pier, gulls argue over the "
    "morning catch, and the baker opens shutters to let the smell of bread drift down the lane. "
)


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str  # OpenAI base, ends in /v1
    headers: dict[str, str]
    model: str


@dataclass(frozen=True)
class StreamResult:
    ttft_s: float
    total_s: float
    tokens: int

    @property
    def decode_tps(self) -> float:
        decode_time = self.total_s - self.ttft_s
        return (self.tokens - 1) / decode_time if self.tokens > 1 and decode_time > 0 else 0.0


FAILURES: dict[str, list[str]] = {}


async def stream_chat(
    client: httpx.AsyncClient, target: Target, prompt: str, max_tokens: int
) -> StreamResult:
    """One streamed request; a failed try is recorded in FAILURES and retried (3 tries in all)."""
    for attempt in range(3):
        try:
            return await _stream_once(client, target, prompt, max_tokens)
        except (RuntimeError, httpx.HTTPError) as exc:
            FAILURES.setdefault(target.name, []).append(str(exc)[:200])
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _stream_once(
    client: httpx.AsyncClient, target: Target, prompt: str, max_tokens: int
) -> StreamResult:
    body = {
        "model": target.model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
    }
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    usage_tokens: int | None = None
    async with client.stream(
        "POST", f"{target.base_url}/chat/completions", json=body, headers=target.headers
    ) as r:
        if r.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {r.status_code}: {(await r.aread())[:300]!r}")
        async for line in r.aiter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if chunk.get("usage"):
                usage_tokens = chunk["usage"].get("completion_tokens")
            for choice in chunk.get("choices", []):
                if choice.get("delta", {}).get("content"):
                    tokens += 1
                    if first is None:
                        first = time.perf_counter()
    ended = time.perf_counter()
    return StreamResult((first or ended) - started, ended - started, usage_tokens or tokens)


def tm(state_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TM_CONFIG_HOME": str(state_root)}
    return subprocess.run([sys.executable, "-m", "kvmesh", *args], env=env, capture_output=True, text=True)


def start_stack(state_root: Path, threads: int | None) -> tuple[Target, Target | None]:
    from kvmesh.engines.processes import free_port

    args = ["local", "up", "--controlplane-port", str(free_port()), "--gateway-port", str(free_port())]
    if threads:
        args += ["--engine-threads", str(threads)]
    result = tm(state_root, *args)
    if result.returncode != 0:
        raise SystemExit(f"tm local up failed:\n{result.stderr}")
    state = json.loads((state_root / "local" / "state.json").read_text())
    raw = Target("raw", replica_url(state_root, state["deployment_id"]), {}, "smollm2-135m-instruct")
    if "gateway" not in state:
        return raw, None
    synced = tm(state_root, "init", "--sync")
    if synced.returncode != 0:
        print(f"tm init --sync failed; Gateway path skipped:\n{synced.stderr}", file=sys.stderr)
        return raw, None
    import tomllib

    managed = tomllib.loads((state_root / "config.toml").read_text()).get("managed", {})
    headers = {
        "Authorization": f"Bearer {managed['gateway_api_key']}",
        "X-User-Id": managed["gateway_user_id"],
    }
    gateway = Target("gateway", f"{state['gateway']['url']}/v1", headers, managed["gateway_model_id"])
    return raw, gateway


def replica_url(state_root: Path, deployment_id: str) -> str:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from kvmesh.store.models import Replica

    engine = create_engine(f"sqlite:///{state_root / 'server' / 'kvmesh.db'}")
    with Session(engine) as session:
        url = session.scalar(select(Replica.url).where(Replica.deployment_id == deployment_id))
    engine.dispose()
    if not url:
        raise SystemExit("no replica URL recorded for the embedded deployment")
    return str(url)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def decode_round(
    client: httpx.AsyncClient, target: Target, concurrency: int, max_tokens: int
) -> dict[str, float]:
    prompts = [f"Story {uuid.uuid4().hex[:6]}: tell me about the harbour town." for _ in range(concurrency)]
    started = time.perf_counter()
    results = await asyncio.gather(*(stream_chat(client, target, p, max_tokens) for p in prompts))
    wall = time.perf_counter() - started
    return {
        "ttft_s": median([r.ttft_s for r in results]),
        "decode_tps_per_stream": median([r.decode_tps for r in results]),
        "aggregate_tps": sum(r.tokens for r in results) / wall,
        "wall_s": wall,
    }


async def run(args: argparse.Namespace, raw: Target, gateway: Target | None) -> dict[str, Any]:
    targets = [raw] + ([gateway] if gateway else [])
    report: dict[str, Any] = {"max_tokens": args.max_tokens, "reps": args.reps}
    # llama-server drops reused keep-alive connections now and then (the client sees "Server
    # disconnected without sending a response"), so every request gets a fresh connection.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        for target in targets:  # warm-up
            await stream_chat(client, target, "Hi", 4)
        for concurrency in (1, 4):
            rounds: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
            for _ in range(args.reps):
                for target in targets:
                    rounds[target.name].append(
                        await decode_round(client, target, concurrency, args.max_tokens)
                    )
            for name, items in rounds.items():
                report[f"{name}_c{concurrency}"] = {k: median([i[k] for i in items]) for k in items[0]}

        sequential, concurrent = [], []
        for _ in range(args.reps):
            started = time.perf_counter()
            for _ in range(4):
                await stream_chat(client, raw, f"Story {uuid.uuid4().hex[:6]}: the harbour.", args.max_tokens)
            sequential.append(time.perf_counter() - started)
            concurrent.append((await decode_round(client, raw, 4, args.max_tokens))["wall_s"])
        report["four_sequential_wall_s"] = median(sequential)
        report["four_concurrent_wall_s"] = median(concurrent)

        prefix_words = FILLER * 22  # about 800 tokens with the SmolLM2 tokenizer
        shared = f"{prefix_words}\nQuestion: what wakes first in the town?"
        await stream_chat(client, raw, shared, 1)  # fill the cache
        hits, misses = [], []
        for _ in range(args.reps):
            hits.append((await stream_chat(client, raw, shared, 1)).ttft_s)
            fresh = f"[{uuid.uuid4().hex}] {prefix_words}\nQuestion: what wakes first in the town?"
            misses.append((await stream_chat(client, raw, fresh, 1)).ttft_s)
        report["prefix_hit_ttft_s"] = median(hits)
        report["prefix_miss_ttft_s"] = median(misses)
        if gateway:
            await stream_chat(client, gateway, shared, 1)
            report["gateway_prefix_hit_ttft_s"] = median(
                [(await stream_chat(client, gateway, shared, 1)).ttft_s for _ in range(args.reps)]
            )
    report["failed_requests"] = {name: len(items) for name, items in FAILURES.items()}
    report["failure_samples"] = {name: items[:3] for name, items in FAILURES.items()}
    return report


def print_report(report: dict[str, Any], gateway: bool) -> None:
    print(
        f"\nEngine benchmark (SmolLM2-135M-Instruct Q4_1, max_tokens={report['max_tokens']}, "
        f"median of {report['reps']})"
    )
    print(f"{'path':<10}{'conc':>5}{'TTFT ms':>10}{'tok/s/stream':>14}{'agg tok/s':>11}")
    for name in ("raw", "gateway") if gateway else ("raw",):
        for concurrency in (1, 4):
            row = report[f"{name}_c{concurrency}"]
            print(
                f"{name:<10}{concurrency:>5}{row['ttft_s'] * 1000:>10.1f}"
                f"{row['decode_tps_per_stream']:>14.1f}{row['aggregate_tps']:>11.1f}"
            )
    if gateway:
        for concurrency in (1, 4):
            ratio = (
                report[f"gateway_c{concurrency}"]["aggregate_tps"]
                / report[f"raw_c{concurrency}"]["aggregate_tps"]
            )
            print(f"through kvmesh / raw tok/s at concurrency {concurrency}: {ratio:.3f}x (target >= 0.95x)")
    else:
        print("Gateway: not available in this build; only the raw path was measured.")
    speedup = report["four_sequential_wall_s"] / report["four_concurrent_wall_s"]
    print(
        f"4 sequential {report['four_sequential_wall_s']:.2f}s vs 4 concurrent "
        f"{report['four_concurrent_wall_s']:.2f}s: {speedup:.2f}x sooner (target >= 2x)"
    )
    cut = report["prefix_miss_ttft_s"] / report["prefix_hit_ttft_s"]
    print(
        f"~800-token prefix TTFT: new {report['prefix_miss_ttft_s'] * 1000:.1f} ms, repeated "
        f"{report['prefix_hit_ttft_s'] * 1000:.1f} ms: {cut:.1f}x lower on a cache hit (target >= 10x)"
    )
    for name, count in report["failed_requests"].items():
        print(
            f"{name}: {count} request(s) failed and were retried, e.g. {report['failure_samples'][name][0]}"
        )
    if "gateway_prefix_hit_ttft_s" in report:
        print(f"repeated prefix through the Gateway: {report['gateway_prefix_hit_ttft_s'] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=3, help="Repetitions per measurement (median reported).")
    parser.add_argument("--max-tokens", type=int, default=32, help="Tokens generated per request.")
    parser.add_argument("--threads", type=int, default=None, help="Engine threads (default: tm local up's).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the raw numbers to this file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kvmesh-bench-engine-") as tmp:
        state_root = Path(tmp)
        try:
            raw, gateway = start_stack(state_root, args.threads)
            report = asyncio.run(run(args, raw, gateway))
        finally:
            tm(state_root, "local", "down")
    print_report(report, gateway is not None)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
