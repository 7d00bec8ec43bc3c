"""KV-cache-aware routing, side by side: kvmesh round_robin, least_outstanding, session_affinity and
prefix_aware (the Gateway), and the Rust `vllm-router --policy cache_aware`, on the same two real
llama-server replicas (1 thread each) and the same seeded multi-turn workload, in one run.

    .venv/bin/python bench/prefix_routing.py [--conversations 4] [--turns 11] [--json out.json]

Before each policy both replicas are restarted on the same ports, so every policy starts from cold
engine caches and gets identical traffic: `--conversations` concurrent conversations (starts
staggered by --stagger s), each `--turns` user turns, sharing `--system-prompts` system prompts;
each conversation's first message carries its own document (`--document-words`), as in "chat
with a document" or a RAG session; greedy decoding with `ignore_eos`, so every answer is exactly
--max-tokens tokens and the conversations replay identically. Between turns each user "thinks"
for a seeded 0.5x-1.5x --think seconds, so turns of different conversations interleave as they
would with real users (without it, a closed loop makes least-outstanding accidentally sticky).

Each replica's cache holds `--parallel` conversations (its slots; llama-server's host-RAM prompt
cache is off unless --cache-ram is set): with more conversations than one replica can hold,
routing decides whether a follow-up finds its prefix.

Reported per policy: TTFT p50/p90 (all requests, and follow-up turns only), completion tokens/s
over the policy's wall time, cached-token ratio (engine-reported `cached_tokens` / prompt
tokens) and each replica's share of requests (its generated tokens / max-tokens, from
llama-server's /metrics). vllm-router runs from its own venv under ~/.cache/kvmesh.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from gateway_bench_targets import ensure_venv, free_port, wait_http
from prefix_bench_parts import (
    GATEWAY_POLICIES,
    EngineReplicas,
    seed_gateway_store,
    start_gateway,
)

WORD_TEXT = (
    "bread flour oven crust dough yeast butter sugar salt water morning baker window street market "
    "order cake cream chocolate almond lemon honey wheat rye seed grain slice loaf bake warm fresh "
    "shop counter price delivery friday saturday sunday holiday allergy gluten nut milk egg vegan "
    "recipe kitchen table chair customer question answer hour minute early late open close weekly "
    "special offer discount gift birthday wedding party box paper bag coffee tea juice fruit apple "
    "pear cherry berry jam spread cheese ham tomato olive garden river bridge harbour village town"
)
WORDS = WORD_TEXT.split()


@dataclass
class Turn:
    conversation: int
    turn: int
    ttft_s: float
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


@dataclass
class PolicyRun:
    name: str
    turns: list[Turn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    replica_tokens: list[float] = field(default_factory=list)


def workload(args: argparse.Namespace) -> tuple[list[str], list[list[str]]]:
    """Seeded system prompts and, per conversation, its user messages."""
    rng = random.Random(args.seed)
    systems = [
        f"System prompt {i}: you are the assistant of bakery number {i}. Reference notes follow. "
        + " ".join(rng.choice(WORDS) for _ in range(args.system_words))
        for i in range(args.system_prompts)
    ]
    users = []
    for _ in range(args.conversations):
        document = " ".join(rng.choice(WORDS) for _ in range(args.document_words))
        questions = [
            f"Question {t + 1}: " + " ".join(rng.choice(WORDS) for _ in range(args.user_words)) + "?"
            for t in range(args.turns)
        ]
        questions[0] = f"Here is my document:\n{document}\n\n{questions[0]}"
        users.append(questions)
    return systems, users


async def one_turn(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[float, str, dict[str, Any]]:
    started = time.perf_counter()
    ttft = 0.0
    text: list[str] = []
    usage: dict[str, Any] = {}
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    if not ttft:
                        ttft = time.perf_counter() - started
                    text.append(piece)
            if chunk.get("usage"):
                usage = chunk["usage"]
                timings = chunk.get("timings") or {}
                usage.setdefault("_cache_n", timings.get("cache_n"))
    return ttft, "".join(text), usage


async def conversation(
    index: int,
    client: httpx.AsyncClient,
    target: tuple[str, dict[str, str], str],
    system: str,
    questions: list[str],
    args: argparse.Namespace,
    run: PolicyRun,
) -> None:
    url, headers, model = target
    pauses = random.Random(args.seed * 1000 + index)
    await asyncio.sleep(index * args.stagger)
    messages: list[dict[str, str]] = [{"role": "system", "content": system}]
    for turn, question in enumerate(questions):
        if turn:
            await asyncio.sleep(args.think * pauses.uniform(0.5, 1.5))
        messages.append({"role": "user", "content": question})
        body = {
            "model": model,
            "messages": messages,
            "max_tokens": args.max_tokens,
            "temperature": 0,
            "seed": 7,
            "ignore_eos": True,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        try:
            ttft, text, usage = await one_turn(
                client, url, {**headers, "X-Session-Id": f"conversation-{index}"}, body
            )
        except Exception as exc:  # reported in the table, never hidden
            run.errors.append(f"conversation {index} turn {turn}: {type(exc).__name__}: {exc}")
            return
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens")
        if cached is None:
            cached = usage.get("_cache_n") or 0
        run.turns.append(
            Turn(
                index,
                turn,
                ttft,
                int(usage.get("prompt_tokens") or 0),
                int(cached or 0),
                int(usage.get("completion_tokens") or 0),
            )
        )
        messages.append({"role": "assistant", "content": text})


async def drive(target: tuple[str, dict[str, str], str], args: argparse.Namespace, name: str) -> PolicyRun:
    systems, users = workload(args)
    run = PolicyRun(name)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    timeout = httpx.Timeout(args.request_timeout, connect=10)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                conversation(i, client, target, systems[i % len(systems)], users[i], args, run)
                for i in range(args.conversations)
            )
        )
        run.wall_s = time.perf_counter() - started
    return run


def predicted_tokens(origin: str) -> float:
    text = httpx.get(origin + "/metrics", timeout=10).text
    found = re.search(r"^llamacpp:tokens_predicted_total\s+(\S+)", text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def start_vllm_router(origins: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    venv = ensure_venv("vllm-router")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(venv / "bin" / "vllm-router"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--worker-urls",
            *origins,
            "--policy",
            "cache_aware",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=120)
    return proc, f"http://127.0.0.1:{port}"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(run: PolicyRun, args: argparse.Namespace) -> dict[str, Any]:
    ttfts = [t.ttft_s for t in run.turns]
    follow = [t.ttft_s for t in run.turns if t.turn > 0]
    prompt = sum(t.prompt_tokens for t in run.turns)
    cached = sum(t.cached_tokens for t in run.turns)
    completion = sum(t.completion_tokens for t in run.turns)
    total = sum(run.replica_tokens)
    exact = all(t.completion_tokens == args.max_tokens for t in run.turns)
    return {
        "policy": run.name,
        "requests": len(run.turns),
        "errors": len(run.errors),
        "ttft_p50": pct(ttfts, 0.5),
        "ttft_p90": pct(ttfts, 0.9),
        "follow_p50": pct(follow, 0.5),
        "follow_p90": pct(follow, 0.9),
        "tokens_per_s": completion / run.wall_s if run.wall_s else 0.0,
        "cached_ratio": cached / prompt if prompt else 0.0,
        "shares": [tokens / total if total else float("nan") for tokens in run.replica_tokens],
        "exact_lengths": exact,
        "wall_s": run.wall_s,
        "error_samples": run.errors[:3],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if r["policy"] == "round_robin"), rows[0])
    print(
        "| policy | requests | errors | TTFT p50 s | TTFT p90 s | p50 / rr | p90 / rr | follow-up p50 s "
        "| follow-up p90 s | completion tok/s | tok/s / rr | cached-token ratio | requests per replica "
        "| wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        shares = " / ".join(f"{share:.0%}" for share in r["shares"])
        print(
            f"| {r['policy']} | {r['requests']} | {r['errors']} | {r['ttft_p50']:.2f} | {r['ttft_p90']:.2f} "
            f"| {r['ttft_p50'] / base['ttft_p50']:.2f} | {r['ttft_p90'] / base['ttft_p90']:.2f} "
            f"| {r['follow_p50']:.2f} | {r['follow_p90']:.2f} | {r['tokens_per_s']:.2f} "
            f"| {r['tokens_per_s'] / base['tokens_per_s']:.2f} | {r['cached_ratio']:.2f} | {shares} "
            f"| {r['wall_s']:.0f} |"
        )
    for r in rows:
        for sample in r["error_samples"]:
            print(f"- {r['policy']} error: {sample}")
        if not r["exact_lengths"]:
            print(
                f"- {r['policy']}: some answers were not exactly --max-tokens long; shares are token shares"
            )


def check_targets(rows: list[dict[str, Any]]) -> None:
    by = {r["policy"]: r for r in rows}
    pa, rr, vr = by.get("prefix_aware"), by.get("round_robin"), by.get("vllm-router cache_aware")
    if pa is None or rr is None:
        return
    lines = [
        ("prefix_aware TTFT p50 <= 0.3x round_robin", pa["ttft_p50"] <= 0.3 * rr["ttft_p50"],
         f"{pa['ttft_p50'] / rr['ttft_p50']:.2f}x"),
        ("prefix_aware TTFT p90 <= 0.5x round_robin", pa["ttft_p90"] <= 0.5 * rr["ttft_p90"],
         f"{pa['ttft_p90'] / rr['ttft_p90']:.2f}x"),
        ("no replica serves > 70% (prefix_aware)", max(pa["shares"]) <= 0.70,
         f"max share {max(pa['shares']):.0%}"),
        ("prefix_aware tokens/s >= round_robin", pa["tokens_per_s"] >= rr["tokens_per_s"],
         f"{pa['tokens_per_s'] / rr['tokens_per_s']:.2f}x"),
    ]  # fmt: skip
    if vr is not None and vr["requests"]:
        lines.append(
            ("prefix_aware TTFT p50 <= vllm-router cache_aware", pa["ttft_p50"] <= vr["ttft_p50"],
             f"{pa['ttft_p50']:.2f} s vs {vr['ttft_p50']:.2f} s")
        )  # fmt: skip
    print("\nTargets:")
    for label, met, detail in lines:
        print(f"- {label}: {'met' if met else 'NOT met'} ({detail})")


async def run_all(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    replicas = EngineReplicas(
        2, threads=args.threads, parallel=args.parallel, logs=workdir, cache_ram_mib=args.cache_ram
    )
    names = [p for p in GATEWAY_POLICIES if p not in args.skip] + (
        [] if "vllm-router" in args.skip else ["vllm-router cache_aware"]
    )
    rows = []
    store = seed_gateway_store(workdir, replicas.origins)
    try:
        for name in names:
            replicas.restart()
            gateway = router = None
            try:
                if name in GATEWAY_POLICIES:
                    gateway = start_gateway(store)
                    target = (gateway.base + "/v1/chat/completions", store.headers, f"bench-{name}")
                else:
                    router, origin = start_vllm_router(replicas.origins)
                    target = (origin + "/v1/chat/completions", {}, "bench")
                print(f"[{time.strftime('%H:%M:%S')}] running {name} ...", file=sys.stderr, flush=True)
                run = await drive(target, args, name)
                run.replica_tokens = [predicted_tokens(origin) for origin in replicas.origins]
            finally:
                for proc in (gateway.proc if gateway else None, router):
                    if proc is not None:
                        proc.terminate()
                        proc.wait(timeout=30)
            row = summarise(run, args)
            print(f"  {name}: {json.dumps(row)}", file=sys.stderr, flush=True)
            rows.append(row)
    finally:
        replicas.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--turns", type=int, default=11)
    parser.add_argument("--system-prompts", type=int, default=3)
    parser.add_argument(
        "--document-words", type=int, default=150, help="words of each conversation's document"
    )
    parser.add_argument(
        "--system-words", type=int, default=60, help="words per system prompt (~1.3 tokens each)"
    )
    parser.add_argument("--user-words", type=int, default=14)
    parser.add_argument("--max-tokens", type=int, default=12)
    parser.add_argument("--stagger", type=float, default=1.5, help="seconds between conversation starts")
    parser.add_argument("--think", type=float, default=3.0, help="mean seconds a user pauses between turns")
    parser.add_argument("--threads", type=int, default=1, help="threads per llama-server replica")
    parser.add_argument("--parallel", type=int, default=2, help="slots per llama-server replica")
    parser.add_argument("--cache-ram", type=int, default=0, help="llama-server --cache-ram MiB (0: off)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--request-timeout", type=float, default=240.0)
    parser.add_argument("--skip", default="", help="comma-separated policies to skip (e.g. vllm-router)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kvmesh-prefix-bench-") as tmp:
        rows = asyncio.run(run_all(args, Path(tmp)))
    print(
        f"\nprefix_routing: {args.conversations} conversations x {args.turns} turns, "
        f"{args.system_prompts} system prompts of {args.system_words} words, documents of "
        f"{args.document_words} words, max_tokens {args.max_tokens}, 2 llama-server replicas x "
        f"{args.threads} thread(s), {args.parallel} slots, --cache-ram {args.cache_ram}, think "
        f"{args.think} s; "
        f"total {time.perf_counter() - started:.0f} s; machine load {os.getloadavg()[0]:.1f}\n"
    )
    print_table(rows)
    check_targets(rows)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
