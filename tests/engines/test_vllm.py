"""vLLM provider: command construction (prefix caching, LMCache offload, GPUs) and /metrics parsing."""

from __future__ import annotations

import json

import pytest

from kvmesh.engines.processes import EngineStartError
from kvmesh.engines.provider import ReplicaSpec
from kvmesh.engines.settings import EngineSettings
from kvmesh.engines.vllm import LMCACHE_CONNECTOR, VllmLoad, VllmProvider, parse_prometheus, vllm_command

METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="0",model_name="m"} 2.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 200.0
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 150.0
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} NaN
garbage line without a value
"""


def test_command_serves_the_model_under_its_served_name_with_prefix_caching() -> None:
    spec = ReplicaSpec("d", "my-llama", model_source="meta-llama/Llama-3.1-8B-Instruct")
    argv, env = vllm_command(spec, 9000)
    assert argv[:3] == ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
    assert argv[argv.index("--port") + 1] == "9000"
    assert argv[argv.index("--served-model-name") + 1] == "my-llama"
    assert "--enable-prefix-caching" in argv and "--kv-transfer-config" not in argv
    assert env == {}


def test_lmcache_adds_the_connector_and_cpu_offload_environment() -> None:
    config = {"model": "m", "lmcache": {"cpu_offload_gb": 40, "chunk_size": 512}, "tensor_parallel_size": 2}
    argv, env = vllm_command(ReplicaSpec("d", "s", engine_config=config), 1)
    transfer = json.loads(argv[argv.index("--kv-transfer-config") + 1])
    assert transfer == {"kv_connector": LMCACHE_CONNECTOR, "kv_role": "kv_both"}
    assert env["LMCACHE_LOCAL_CPU"] == "True" and env["LMCACHE_MAX_LOCAL_CPU_SIZE"] == "40"
    assert env["LMCACHE_CHUNK_SIZE"] == "512"
    assert argv[argv.index("--tensor-parallel-size") + 1] == "2"


def test_each_replica_gets_its_own_gpus() -> None:
    spec = ReplicaSpec("d", "s", engine_config={"model": "m", "gpus": [["0", "1"], ["2", "3"]]})
    assert vllm_command(spec, 1, ordinal=0)[1]["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert vllm_command(spec, 1, ordinal=1)[1]["CUDA_VISIBLE_DEVICES"] == "2,3"


def test_prometheus_text_is_summed_per_metric_skipping_nan_and_junk() -> None:
    metrics = parse_prometheus(METRICS + 'vllm:num_requests_running{engine="1",model_name="m"} 1\n')
    assert metrics["vllm:num_requests_running"] == 4.0
    assert "vllm:time_to_first_token_seconds_bucket" not in metrics
    assert "garbage" not in metrics


def test_load_reads_running_waiting_cache_usage_and_hit_rate() -> None:
    load = VllmLoad.from_metrics(parse_prometheus(METRICS))
    assert load == VllmLoad(running=3, waiting=2, kv_cache_usage=0.25, prefix_cache_hit_rate=0.75)


def test_older_vllm_gpu_cache_metric_is_understood() -> None:
    load = VllmLoad.from_metrics(parse_prometheus("vllm:gpu_cache_usage_perc 0.5\n"))
    assert load.kv_cache_usage == 0.5 and load.prefix_cache_hit_rate is None


async def test_missing_vllm_binary_is_a_clear_start_error(tmp_path: object) -> None:
    provider = VllmProvider(EngineSettings(data_dir=tmp_path))
    spec = ReplicaSpec("d", "s", engine_config={"model": "m", "vllm_binary": "/nonexistent/vllm"})
    with pytest.raises(EngineStartError, match="install vLLM"):
        await provider.start_replica(spec, 0)
