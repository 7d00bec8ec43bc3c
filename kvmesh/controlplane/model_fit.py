"""Whether a catalog model fits some infrastructure: host memory for llama.cpp, GPU memory for vLLM.

llama.cpp (CPU) needs the GGUF file in memory plus a KV cache for its context: the estimate is the
file size plus `KV_OVERHEAD` of it plus a fixed runtime allowance. vLLM needs the weights on the
GPUs: `weights_gib` from the catalog entry's options (or `parameters_b` x 2 bytes for 16-bit
weights) plus `KV_OVERHEAD` for the KV cache; LMCache's CPU tier is `lmcache.cpu_offload_gb`.
Host memory is read from /proc/meminfo (the machine running the Control Plane and its engines).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from kvmesh.store.models import CatalogModel

GIB = 1024**3
KV_OVERHEAD = 0.2
RUNTIME_ALLOWANCE_GIB = 0.25
GPU_MEMORY_GIB = {
    "GPU_TYPE_L4": 24.0,
    "GPU_TYPE_L40S": 48.0,
    "GPU_TYPE_A10G": 24.0,
    "GPU_TYPE_A100_40GB": 40.0,
    "GPU_TYPE_A100_80GB": 80.0,
    "GPU_TYPE_H100": 80.0,
    "GPU_TYPE_H200": 141.0,
    "GPU_TYPE_B200": 180.0,
}
"""Memory per GPU for the GPU types the pricing list knows (GiB, as sold)."""


@dataclass(frozen=True)
class FitReport:
    model: str
    engine: str
    required_gpu_memory_gib: float
    required_lmcache_memory_gib: float
    required_host_memory_gib: float
    available_gib: float | None
    fits: bool | None
    reason: str

    def as_wire(self) -> dict[str, Any]:
        return {
            "requiredGpuMemoryGib": round(self.required_gpu_memory_gib, 3),
            "requiredLmCacheMemoryGib": round(self.required_lmcache_memory_gib, 3),
            "requiredHostMemoryGib": round(self.required_host_memory_gib, 3),
            "availableMemoryGib": None if self.available_gib is None else round(self.available_gib, 3),
            "fits": self.fits,
            "engine": self.engine,
            "modelPath": self.model,
            "reason": self.reason,
        }


def host_memory_gib() -> float | None:
    """MemAvailable from /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / GIB
    except OSError:
        return None
    return None


def _gguf_gib(source: str) -> float:
    from kvmesh.engines.model_files import ModelFileError, resolve_model_file

    try:
        return os.path.getsize(resolve_model_file(source)) / GIB
    except (ModelFileError, OSError) as exc:
        raise FitError(f"cannot size the model file: {exc}") from None


class FitError(ValueError):
    """The model's size is unknown (no GGUF file, no weights size in the catalog entry)."""


def _vllm_weights_gib(options: dict[str, Any]) -> float:
    if isinstance(options.get("weights_gib"), int | float):
        return float(options["weights_gib"])
    if isinstance(options.get("parameters_b"), int | float):
        return float(options["parameters_b"]) * 2 * 1e9 / GIB
    raise FitError("the catalog entry gives neither weights_gib nor parameters_b")


def check_fit(row: CatalogModel, gpu_type: str = "", gpu_count: int = 0) -> FitReport:
    """How much memory `row` needs and whether this host (llama.cpp) or the GPUs (vLLM) have it."""
    options = dict(row.options or {})
    if row.engine == "llamacpp":
        need = _gguf_gib(row.source) * (1 + KV_OVERHEAD) + RUNTIME_ALLOWANCE_GIB
        have = host_memory_gib()
        fits = None if have is None else need <= have
        reason = f"llama.cpp on CPU needs ~{need:.2f} GiB of host memory; {have or 0:.2f} GiB available"
        return FitReport(row.name, row.engine, 0.0, 0.0, need, have, fits, reason)
    if row.engine == "vllm":
        need = _vllm_weights_gib(options) * (1 + KV_OVERHEAD)
        lmcache = options.get("lmcache")
        offload = float(lmcache.get("cpu_offload_gb", 0)) if isinstance(lmcache, dict) else 0.0
        per_gpu = GPU_MEMORY_GIB.get(gpu_type.strip().upper()) if gpu_type else None
        have = per_gpu * max(gpu_count, 1) if per_gpu is not None else None
        fits = None if have is None else need <= have
        where = f"{max(gpu_count, 1)} x {gpu_type}" if per_gpu is not None else "GPUs (give gpuType to check)"
        reason = f"vLLM needs ~{need:.2f} GiB of GPU memory on {where}"
        return FitReport(row.name, row.engine, need, offload, 0.0, have, fits, reason)
    return FitReport(
        row.name, row.engine, 0.0, 0.0, 0.0, None, True, "an external endpoint needs no local memory"
    )
