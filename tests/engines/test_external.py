"""External provider: any OpenAI-compatible base URL becomes a replica; health via /v1/models or /health."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kvmesh.engines.external import ExternalProvider, openai_base
from kvmesh.engines.processes import EngineStartError, free_port, launch, terminate, wait_until_healthy
from kvmesh.engines.provider import ReplicaSpec, create_provider
from kvmesh.engines.settings import EngineSettings

STANDIN = Path(__file__).with_name("standin_engine.py")


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    process = launch([sys.executable, str(STANDIN), str(port)], tmp_path / "standin.log")
    await wait_until_healthy(f"http://127.0.0.1:{port}/health", process, tmp_path / "standin.log", 20)
    yield f"http://127.0.0.1:{port}"
    await terminate(process)


def test_base_urls_are_normalised_to_the_v1_base() -> None:
    assert openai_base("http://h:1/") == "http://h:1/v1"
    assert openai_base("http://h:1/v1/") == "http://h:1/v1"


async def test_external_endpoint_becomes_a_healthy_replica_with_its_key(upstream: str) -> None:
    provider = create_provider("external", EngineSettings())
    spec = ReplicaSpec("d", "s", engine_config={"base_url": upstream, "api_key": "sk-upstream"})
    handle = await provider.start_replica(spec, 0)
    assert handle.url == f"{upstream}/v1"
    assert handle.headers == {"Authorization": "Bearer sk-upstream"}
    assert "sk-upstream" not in repr(handle)
    assert await provider.check_health(handle)
    assert (await provider.describe(handle))["authenticated"] is True
    await provider.stop_replica(handle)


async def test_unreachable_endpoint_is_a_start_error() -> None:
    provider = ExternalProvider(EngineSettings())
    spec = ReplicaSpec("d", "s", engine_config={"base_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(EngineStartError, match="answers neither"):
        await provider.start_replica(spec, 0)


async def test_missing_base_url_is_a_start_error() -> None:
    with pytest.raises(EngineStartError, match="base_url"):
        await ExternalProvider(EngineSettings()).start_replica(ReplicaSpec("d", "s"), 0)


def test_the_controller_decrypts_the_stored_upstream_key_in_memory() -> None:
    from kvmesh.engines.deployment_rows import readable_engine_config
    from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY, encrypt_secret

    secret = b"s" * 32
    stored = {"base_url": "http://h:1", ENCRYPTED_UPSTREAM_KEY: encrypt_secret(secret, "sk-upstream")}
    assert readable_engine_config(stored, secret) == {"base_url": "http://h:1", "api_key": "sk-upstream"}
    assert readable_engine_config(stored, b"t" * 32) == stored
    assert readable_engine_config(stored, None) == stored


async def test_an_upstream_key_that_cannot_be_decrypted_is_a_start_error() -> None:
    from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY

    spec = ReplicaSpec(
        "d", "s", engine_config={"base_url": "http://127.0.0.1:9", ENCRYPTED_UPSTREAM_KEY: "x"}
    )
    with pytest.raises(EngineStartError, match="cannot decrypt the upstream API key"):
        await ExternalProvider(EngineSettings()).start_replica(spec, 0)
