"""`tm infer chat` end to end: ours against the reference tensormesh 0.1.9 `tm`, same stand-in gateway.

Each sample is one fresh process, timed from spawn to exit (the last byte is written before exit),
for a non-stream and a `--stream` request. Runs are interleaved (ours, reference, ours, ...) so
machine noise hits both alike; the script prints medians and the ratio ours/reference. The gateway
is a loopback stdlib server that answers at once, so the numbers are the clients' own cost. It also
times `import` of the HTTP stacks we could have used (httpx, urllib3, http.client).

    .venv/bin/python bench/cli_chat.py [RUNS]      # RUNS defaults to 20
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_client import ensure_reference_tm

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / ".venv" / "bin" / "tm"
KEY = "tmk_bench_key_0123456789"
USER = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
MESSAGES = '[{"role":"user","content":"Say hello."}]'
REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
CHUNKS = ["Hel", "lo", " there"]


class _InstantGateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if body.get("stream"):
            events = [
                {
                    "id": "c",
                    "created": 1,
                    "model": "bench",
                    "choices": [{"index": 0, "delta": {"content": c}}],
                }
                for c in CHUNKS
            ]
            data = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
            content_type = "text/event-stream; charset=utf-8"
        else:
            data, content_type = json.dumps(REPLY).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _time_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or b"Hello there" not in done.stdout:
        raise RuntimeError(f"{argv[0]} failed: {done.stdout!r} {done.stderr!r}")
    return elapsed


def _import_time(python: str, module: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([python, "-c", f"import {module}"], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(runs: int) -> None:
    reference = ensure_reference_tm()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _InstantGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    modes = {"non-stream": [], "stream": ["--stream"]}
    with tempfile.TemporaryDirectory() as home:
        Path(home, "config.toml").write_text(
            f'[overrides]\ngateway_api_key = "{KEY}"\n'
            f'gateway_user_id = "{USER}"\ngateway_model_id = "bench"\n'
        )
        env = {**os.environ, "TM_CONFIG_HOME": home}
        clients = {"ours": str(OURS), "reference": str(reference)}
        argv = {
            (label, mode): [exe, "infer", "chat", "--base-url", base, *extra, "--json", MESSAGES]
            for label, exe in clients.items()
            for mode, extra in modes.items()
        }
        for command in argv.values():  # warm page cache and .pyc files
            _time_once(command, env)
        samples: dict[tuple[str, str], list[float]] = {key: [] for key in argv}
        for _ in range(runs):
            for mode in modes:
                for label in clients:
                    samples[(label, mode)].append(_time_once(argv[(label, mode)], env))
    server.shutdown()
    print(f"tm infer chat, process start to exit, median of {runs} runs each (interleaved)")
    print(f"{'mode':<12}{'ours':>10}{'reference':>12}{'ours/ref':>10}")
    for mode in modes:
        ours = statistics.median(samples[("ours", mode)]) * 1000
        ref = statistics.median(samples[("reference", mode)]) * 1000
        print(f"{mode:<12}{ours:>8.1f}ms{ref:>10.1f}ms{ours / ref:>9.2f}x")
    python = str(ROOT / ".venv" / "bin" / "python")
    print(f"\nimport cost in a fresh python ({python}), median of 10 runs, interpreter start included")
    for module in ("sys", "http.client", "urllib3", "httpx"):
        print(f"  import {module:<12}{_import_time(python, module, 10) * 1000:>8.1f}ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
