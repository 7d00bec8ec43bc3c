"""The Gateway's server and upstream-client layers: CPU per request of each candidate, measured here.

    .venv/bin/python bench/gateway_stack_choices.py

(1) upstream client: aiohttp vs httpx vs kvmesh's own pool (kvmesh.gateway.upstream_http), 2,000
sequential streamed requests (19 SSE chunks) to the stand-in upstream of bench/gateway_overhead.py,
CPU time of this process per request;
(2) server: a bare ASGI app under uvicorn (uvloop + httptools), the same endpoint in Starlette under
uvicorn, and the bare app under kvmesh's own server (kvmesh.gateway.http_server), each in a child
process, 3,000 JSON POSTs from one aiohttp client, server CPU per request.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).parent))
import gateway_overhead as overhead

BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}).encode()
N_CLIENT = 2000
N_SERVER = 3000

BARE_APP = """
import json
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = (await receive())["body"]
    payload = json.dumps({"model": json.loads(body)["model"]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
"""
STARLETTE_APP = """
import json
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def chat(request):
    return JSONResponse({"model": json.loads(await request.body())["model"]})
app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
"""


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def with_aiohttp(url: str, count: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            async with session.post(url, data=BODY, headers={"Content-Type": "application/json"}) as response:
                async for _ in response.content.iter_any():
                    pass


async def with_httpx(url: str, count: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(count):
            async with client.stream(
                "POST", url, content=BODY, headers={"Content-Type": "application/json"}
            ) as r:
                async for _ in r.aiter_raw():
                    pass


async def with_kvmesh_pool(url: str, count: int) -> None:
    from kvmesh.gateway.upstream_http import UpstreamPool

    pool = UpstreamPool(connect_timeout=3.0, keepalive_seconds=4.0)
    headers = [("content-type", "application/json")]
    for _ in range(count):
        response = await pool.request("POST", url, headers, BODY, 30.0, 30.0)
        while await response.readany():
            pass
        response.close()
    pool.close()


def compare_clients() -> None:
    port = overhead.free_port()
    upstream = subprocess.Popen([sys.executable, overhead.UPSTREAM_SCRIPT, str(port)])
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        overhead.wait_http(f"http://127.0.0.1:{port}/v1/models", upstream)
        print("upstream client, streamed request with 19 chunks, CPU of the client per request")
        clients = (("aiohttp", with_aiohttp), ("httpx", with_httpx), ("kvmesh pool", with_kvmesh_pool))
        for name, run in clients * 2:
            uvloop.run(run(url, 100))
            before = cpu_self()
            uvloop.run(run(url, N_CLIENT))
            print(f"  {name:12s} {(cpu_self() - before) / N_CLIENT * 1e6:7.0f} us")
    finally:
        upstream.terminate()
        upstream.wait()


async def post_many(url: str, count: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            async with session.post(url, data=BODY, headers={"Content-Type": "application/json"}) as response:
                await response.read()


UVICORN = [
    "-m",
    "uvicorn",
    "stack_choice_app:app",
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
    "--port",
]
KVMESH_SERVER = [
    "-c",
    "import sys, asyncio, uvloop\n"
    "from stack_choice_app import app\n"
    "from kvmesh.gateway.http_server import serve_sockets\n"
    "from kvmesh.gateway.server import listening_socket\n"
    "async def main():\n"
    "    sock = listening_socket('127.0.0.1', int(sys.argv[1]), False)\n"
    "    await serve_sockets(app, [sock], asyncio.Event())\n"
    "uvloop.run(main())\n",
]


def compare_servers(tmp: Path) -> None:
    print("server, JSON POST, CPU of the server process per request")
    candidates = (
        ("bare ASGI on uvicorn", BARE_APP, UVICORN),
        ("Starlette on uvicorn", STARLETTE_APP, UVICORN),
        ("bare ASGI on kvmesh http_server", BARE_APP, KVMESH_SERVER),
    )
    for name, source, command in candidates * 2:
        module = tmp / "stack_choice_app.py"
        module.write_text(source)
        port = overhead.free_port()
        server = subprocess.Popen([sys.executable, *command, str(port)], cwd=tmp)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    uvloop.run(post_many(url, 1))
                    break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            uvloop.run(post_many(url, 200))
            before = overhead.proc_cpu_seconds(server.pid)
            uvloop.run(post_many(url, N_SERVER))
            spent = overhead.proc_cpu_seconds(server.pid) - before
            print(f"  {name:32s} {spent / N_SERVER * 1e6:7.0f} us")
        finally:
            server.terminate()
            server.wait()


def main() -> None:
    import tempfile

    compare_clients()
    with tempfile.TemporaryDirectory() as tmp:
        compare_servers(Path(tmp))


if __name__ == "__main__":
    main()
