"""Prompt-text vs token-id hashing for prefix_aware routing: what each costs per request, measured.

Text: render the messages and hash 256-character blocks in the Gateway process (what kvmesh does).
Token ids: ask the engine to apply the chat template and tokenize (llama-server /apply-template +
/tokenize, the cheapest tokenizer the Gateway can reach without loading one itself), then hash
64-token blocks. Both measured on the same prompts, the engine idle and while it generates.

    .venv/bin/python bench/prefix_hashing.py [--reps 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from hashlib import blake2b
from pathlib import Path
from typing import Any

import httpx
from prefix_bench_parts import EngineReplicas

from kvmesh.gateway.routing.prompt_blocks import block_hashes, rendered_prompt

SYSTEM = (
    "You are the assistant of a bakery. Opening hours, bread, cakes, allergens and orders are your "
    "topics; answer briefly and kindly, and never invent prices you were not given. "
) * 14


def conversation(turns: int) -> dict[str, Any]:
    messages = [{"role": "system", "content": SYSTEM}]
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Question {turn}: do you bake rye bread on Sundays?"})
        messages.append({"role": "assistant", "content": "Yes, every Sunday morning from seven o'clock."})
    messages.append({"role": "user", "content": "And do you deliver?"})
    return {"model": "m", "messages": messages}


def text_cost_us(body: dict[str, Any], reps: int) -> tuple[float, int]:
    samples = []
    blocks = 0
    for _ in range(reps):
        started = time.perf_counter()
        blocks = len(block_hashes(rendered_prompt(body), 256))
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples), blocks


def token_cost_ms(client: httpx.Client, origin: str, body: dict[str, Any], reps: int) -> tuple[float, int]:
    samples = []
    tokens: list[int] = []
    for _ in range(reps):
        started = time.perf_counter()
        prompt = client.post(origin + "/apply-template", json={"messages": body["messages"]}).json()["prompt"]
        tokens = client.post(origin + "/tokenize", json={"content": prompt}).json()["tokens"]
        previous = b""
        for start in range(0, len(tokens) - 63, 64):
            chunk = b"".join(t.to_bytes(4, "little") for t in tokens[start : start + 64])
            previous = blake2b(previous + chunk, digest_size=8).digest()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), len(tokens)


def keep_busy(origin: str, stop: threading.Event) -> None:
    body = {"messages": [{"role": "user", "content": "Tell a long story."}], "max_tokens": 400}
    with httpx.Client(timeout=300) as client:
        while not stop.is_set():
            client.post(origin + "/v1/chat/completions", json={**body, "ignore_eos": True})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineReplicas(1, threads=1, parallel=2, logs=Path(tmp))
        engine.restart()
        origin = engine.origins[0]
        rows = []
        try:
            with httpx.Client(timeout=60) as client:
                for turns in (0, 4, 12):
                    body = conversation(turns)
                    text_us, blocks = text_cost_us(body, 2000)
                    idle_ms, n_tokens = token_cost_ms(client, origin, body, args.reps)
                    stop = threading.Event()
                    busy = threading.Thread(target=keep_busy, args=(origin, stop))
                    busy.start()
                    time.sleep(1.0)
                    busy_ms, _ = token_cost_ms(client, origin, body, args.reps)
                    stop.set()
                    busy.join()
                    chars = len(rendered_prompt(body))
                    rows.append((turns, chars, n_tokens, blocks, text_us, idle_ms, busy_ms))
        finally:
            engine.stop()
    print("| history turns | prompt chars | prompt tokens | text blocks | text hash, µs | tokenize idle, ms "
          "| tokenize while generating, ms | tokenize / text (idle) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for turns, chars, n_tokens, blocks, text_us, idle_ms, busy_ms in rows:
        print(
            f"| {turns} | {chars} | {n_tokens} | {blocks} | {text_us:.1f} | {idle_ms:.2f} | {busy_ms:.2f} "
            f"| {idle_ms * 1000 / text_us:.0f}x |"
        )


if __name__ == "__main__":
    main()
