"""Engine settings are typed Control Plane settings (`engines: EngineSettings`) with the engines' defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kvmesh.controlplane.settings import ControlPlaneSettings
from kvmesh.engines.controller import DeploymentController
from kvmesh.engines.llamacpp import DEFAULT_PARALLEL, LlamaCppProvider, default_threads, llama_server_args
from kvmesh.engines.provider import ReplicaSpec
from kvmesh.engines.settings import EngineSettings
from kvmesh.engines.vllm import VllmProvider


def _settings(tmp_path: Path, **engine: Any) -> EngineSettings:
    cp = ControlPlaneSettings(database_url="sqlite://", data_dir=tmp_path, engines=EngineSettings(**engine))
    return cp.engine_settings()


def test_llama_settings_reach_the_llama_server_command_line(tmp_path: Path) -> None:
    settings = _settings(tmp_path, llama_threads=3, llama_parallel=2, llama_ctx_size=4096)
    argv = " ".join(llama_server_args(Path("/x"), tmp_path / "m.gguf", 1, ReplicaSpec("d", "s"), settings))
    assert "--threads 3" in argv and "--parallel 2" in argv and "--ctx-size 4096" in argv


def test_engine_config_still_overrides_the_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, llama_threads=3, llama_parallel=2)
    spec = ReplicaSpec("d", "s", engine_config={"threads": 1, "parallel": 5})
    argv = " ".join(llama_server_args(Path("/x"), tmp_path / "m.gguf", 1, spec, settings))
    assert "--threads 1" in argv and "--parallel 5" in argv


def test_defaults_match_the_engines_defaults(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    argv = " ".join(llama_server_args(Path("/x"), tmp_path / "m.gguf", 1, ReplicaSpec("d", "s"), settings))
    assert f"--threads {default_threads()}" in argv and f"--parallel {DEFAULT_PARALLEL}" in argv
    assert f"--ctx-size {2048 * DEFAULT_PARALLEL}" in argv
    controller = DeploymentController(lambda: None, settings)  # type: ignore[arg-type, return-value]
    assert (controller.poll_interval_s, controller.health_interval_s) == (2.0, 5.0)
    assert (controller.backoff_base_s, controller.backoff_cap_s, controller.unhealthy_threshold) == (
        1.0,
        60.0,
        3,
    )
    assert LlamaCppProvider(settings).start_timeout_s == 120.0
    assert VllmProvider(settings).start_timeout_s == 900.0


def test_controller_timing_settings_are_fields(tmp_path: Path) -> None:
    settings = _settings(tmp_path, engine_poll_interval_s=0.3, engine_unhealthy_threshold=5)
    controller = DeploymentController(lambda: None, settings)  # type: ignore[arg-type, return-value]
    assert controller.poll_interval_s == 0.3 and controller.unhealthy_threshold == 5


def test_replica_logs_go_under_the_control_plane_data_dir(tmp_path: Path) -> None:
    assert _settings(tmp_path).engines_dir == tmp_path / "engines"
    own = ControlPlaneSettings(
        database_url="sqlite://", data_dir=tmp_path, engines=EngineSettings(data_dir=tmp_path / "e")
    )
    assert own.engine_settings().engines_dir == tmp_path / "e" / "engines"


def test_a_misspelt_engine_setting_is_an_error_not_a_default() -> None:
    import pytest

    with pytest.raises(TypeError):
        EngineSettings(llama_thread=3)  # type: ignore[call-arg]
