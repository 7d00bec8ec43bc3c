"""Embedded llama.cpp provider: one `llama-server` process per replica on a free loopback port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kvmesh.engines.llamacpp_build import find_llama_server
from kvmesh.engines.model_files import ModelFileError, resolve_model_file
from kvmesh.engines.processes import (
    EngineStartError,
    free_port,
    tail_lines,
)
from kvmesh.engines.provider import (
    LocalProcessProvider,
    ReplicaHandle,
    ReplicaSpec,
    start_engine_process,
)
from kvmesh.engines.settings import DEFAULT_LLAMA_PARALLEL, EngineSettings

DEFAULT_PARALLEL = DEFAULT_LLAMA_PARALLEL
DEFAULT_CTX_PER_SLOT = 2048
DEFAULT_CACHE_REUSE = 256


def default_threads(cpu_count: int | None = None) -> int:
    """One thread per replica on small machines (<= 2 cores), else half the cores (at most 8)."""
    cores = cpu_count or os.cpu_count() or 1
    return 1 if cores <= 2 else min(8, cores // 2)


def llama_server_args(
    binary: Path, model: Path, port: int, spec: ReplicaSpec, settings: EngineSettings
) -> list[str]:
    """The `llama-server` command line for one replica; engine_config keys override settings.

    `--threads-http` is left at llama-server's default (slots + 4): every idle keep-alive
    connection holds one HTTP thread for up to 5 s, and health checks need threads of their own.
    """
    config = spec.engine_config
    parallel = int(config.get("parallel", settings.llama_parallel))
    threads = int(config.get("threads", settings.llama_threads or default_threads()))
    ctx_default = min(spec.context_length, DEFAULT_CTX_PER_SLOT) * parallel
    ctx_size = int(config.get("ctx_size", settings.llama_ctx_size or ctx_default))
    cache_reuse = int(config.get("cache_reuse", DEFAULT_CACHE_REUSE))
    argv = [
        str(binary),
        "--model", str(model),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--alias", spec.served_name,
        "--parallel", str(parallel),
        "--ctx-size", str(ctx_size),
        "--threads", str(threads),
        "--cache-reuse", str(cache_reuse),
        "--metrics",
        "--slots",
        "--no-webui",
    ]  # fmt: skip
    # The GGUF's chat template is Jinja; the legacy matcher only knows a fixed list of templates.
    if config.get("jinja", True):
        argv.append("--jinja")
    # Default answer length for requests that send no max_tokens (-1 = until EOS or context end).
    if "n_predict" in config:
        argv.extend(["--n-predict", str(int(config["n_predict"]))])
    argv.extend(str(arg) for arg in config.get("extra_args", []))
    return argv


class LlamaCppProvider(LocalProcessProvider):
    name = "llamacpp"

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.start_timeout_s = settings.engine_start_timeout_s

    async def start_replica(self, spec: ReplicaSpec, ordinal: int) -> ReplicaHandle:
        binary = find_llama_server()
        if binary is None:
            raise EngineStartError(
                "llama-server binary not found: run `make llama-server` "
                "(or `python -m kvmesh.engines.llamacpp_build`), or set KVMESH_LLAMA_SERVER"
            )
        try:
            model = resolve_model_file(str(spec.engine_config.get("model", "")) or spec.model_source)
        except ModelFileError as exc:
            raise EngineStartError(f"model not found: {exc}") from exc
        log_path = self.settings.engines_dir / spec.deployment_id / f"replica-{ordinal}.log"
        last_error: EngineStartError | None = None
        for _attempt in range(2):  # a second try covers losing the free port to another process
            port = free_port()
            argv = llama_server_args(binary, model, port, spec, self.settings)
            try:
                return await start_engine_process(
                    self.name, spec, ordinal, port, argv, log_path, self.start_timeout_s
                )
            except EngineStartError as exc:
                last_error = exc
                if "bind" not in exc.log_tail and "address already in use" not in exc.log_tail.lower():
                    break
        assert last_error is not None
        raise last_error

    async def describe(self, handle: ReplicaHandle) -> dict[str, Any]:
        return {
            "provider": self.name,
            "url": handle.url,
            "pid": handle.pid,
            "running": handle.exited() is None,
            "exit_status": handle.exited(),
            "log_path": str(handle.log_path) if handle.log_path else None,
            "log_tail": tail_lines(handle.log_path, 10),
            "command": handle.command,
        }
