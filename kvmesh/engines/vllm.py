"""vLLM provider: `vllm serve` processes with prefix caching and optional LMCache CPU offload.

engine_config keys: `model` (HF id or path; default the catalog model name), `gpus` (list of
CUDA device ids per replica, e.g. [["0"], ["1"]]), `tensor_parallel_size`, `gpu_memory_utilization`,
`max_model_len`, `vllm_binary`, `extra_args`, and `lmcache` ({"cpu_offload_gb": 20, "chunk_size": 256})
which turns on the LMCache connector through `--kv-transfer-config` and LMCACHE_* env vars.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

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
from kvmesh.engines.settings import EngineSettings

LMCACHE_CONNECTOR = "LMCacheConnectorV1"


def vllm_command(spec: ReplicaSpec, port: int, ordinal: int = 0) -> tuple[list[str], dict[str, str]]:
    """The `vllm serve` argv and extra environment for one replica."""
    config = spec.engine_config
    model = str(config.get("model") or spec.model_source or spec.served_name)
    argv = [
        str(config.get("vllm_binary", "vllm")), "serve", model,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--served-model-name", spec.served_name,
        "--enable-prefix-caching",
    ]  # fmt: skip
    if "tensor_parallel_size" in config:
        argv += ["--tensor-parallel-size", str(int(config["tensor_parallel_size"]))]
    if "gpu_memory_utilization" in config:
        argv += ["--gpu-memory-utilization", str(float(config["gpu_memory_utilization"]))]
    if "max_model_len" in config:
        argv += ["--max-model-len", str(int(config["max_model_len"]))]
    env: dict[str, str] = {}
    gpus = config.get("gpus")
    if gpus:
        devices = gpus[ordinal % len(gpus)]
        device_list = devices if isinstance(devices, list) else [devices]
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(d) for d in device_list)
    lmcache = config.get("lmcache")
    if lmcache:
        options = lmcache if isinstance(lmcache, Mapping) else {}
        transfer = {"kv_connector": LMCACHE_CONNECTOR, "kv_role": "kv_both"}
        argv += ["--kv-transfer-config", json.dumps(transfer)]
        env.update(
            {
                "LMCACHE_LOCAL_CPU": "True",
                "LMCACHE_MAX_LOCAL_CPU_SIZE": str(options.get("cpu_offload_gb", 5)),
                "LMCACHE_CHUNK_SIZE": str(options.get("chunk_size", 256)),
                "LMCACHE_USE_EXPERIMENTAL": "True",
            }
        )
    argv.extend(str(arg) for arg in config.get("extra_args", []))
    return argv, env


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_prometheus(text: str) -> dict[str, float]:
    """Sum each metric's samples over their label sets (comments, NaN and bad lines skipped)."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        if math.isnan(value):
            continue
        totals[match.group(1)] = totals.get(match.group(1), 0.0) + value
    return totals


@dataclass(frozen=True)
class VllmLoad:
    """The load figures a router needs from one vLLM replica's /metrics."""

    running: int
    waiting: int
    kv_cache_usage: float
    prefix_cache_hit_rate: float | None

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, float]) -> VllmLoad:
        usage = metrics.get("vllm:kv_cache_usage_perc", metrics.get("vllm:gpu_cache_usage_perc", 0.0))
        queries = metrics.get("vllm:prefix_cache_queries_total", 0.0)
        hits = metrics.get("vllm:prefix_cache_hits_total", 0.0)
        return cls(
            running=int(metrics.get("vllm:num_requests_running", 0)),
            waiting=int(metrics.get("vllm:num_requests_waiting", 0)),
            kv_cache_usage=usage,
            prefix_cache_hit_rate=(hits / queries) if queries else None,
        )


class VllmProvider(LocalProcessProvider):
    name = "vllm"
    stop_grace_s = 20.0

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.start_timeout_s = settings.vllm_start_timeout_s

    async def start_replica(self, spec: ReplicaSpec, ordinal: int) -> ReplicaHandle:
        port = free_port()
        argv, env = vllm_command(spec, port, ordinal)
        log_path = self.settings.engines_dir / spec.deployment_id / f"replica-{ordinal}.log"
        try:
            return await start_engine_process(
                self.name,
                spec,
                ordinal,
                port,
                argv,
                log_path,
                self.start_timeout_s,
                env=env,
                grace_s=self.stop_grace_s,
            )
        except FileNotFoundError as exc:
            raise EngineStartError(f"cannot run {argv[0]!r}: install vLLM on this host ({exc})") from exc

    async def load(self, handle: ReplicaHandle) -> VllmLoad | None:
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(f"{handle.root_url}/metrics")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return VllmLoad.from_metrics(parse_prometheus(response.text))

    async def describe(self, handle: ReplicaHandle) -> dict[str, Any]:
        load = await self.load(handle)
        return {
            "provider": self.name,
            "url": handle.url,
            "pid": handle.pid,
            "running": handle.exited() is None,
            "command": handle.command,
            "load": None if load is None else load.__dict__,
            "log_tail": tail_lines(handle.log_path, 10),
        }
