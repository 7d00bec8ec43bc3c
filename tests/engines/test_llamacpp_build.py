"""The llama-server build: cached by version and flags, progress shown, never a half-written binary."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from kvmesh.engines import llamacpp_build
from kvmesh.engines.llamacpp_build import LLAMA_CPP_PYTHON_VERSION, build, build_key, cached_binary

PREFIX = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
GOOD_CMAKE = """cmake_minimum_required(VERSION 3.14)
project(fake C)
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
add_executable(llama-server main.c)
"""


def fake_sdist(tmp_path: Path, files: dict[str, str]) -> Path:
    """A source distribution laid out like llama-cpp-python's, holding only `files`."""
    sdist = tmp_path / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(PREFIX + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return sdist


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KVMESH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_key_names_the_version_and_hashes_the_flags(cache_dir: Path) -> None:
    assert build_key().startswith(f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}-")
    assert cached_binary() == cache_dir / "llama-server" / build_key() / "llama-server"


def test_build_installs_the_binary_with_progress_and_then_reuses_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sdist = fake_sdist(tmp_path, {"CMakeLists.txt": GOOD_CMAKE, "main.c": "int main(void) { return 0; }\n"})
    built = build(jobs=1, sdist=sdist)
    assert built == cached_binary() and os.access(built, os.X_OK)
    err = capfd.readouterr().err
    assert "[llama-server build] configuring" in err and "100%" in err and "built " in err
    assert build(sdist=tmp_path / "not-read.tar.gz") == built  # cached: nothing rebuilt


def test_failed_build_leaves_no_binary_or_temp_file(tmp_path: Path) -> None:
    sdist = fake_sdist(tmp_path, {"CMakeLists.txt": GOOD_CMAKE, "main.c": "this is not C\n"})
    with pytest.raises(RuntimeError, match="llama-server build failed"):
        build(jobs=1, sdist=sdist)
    assert not cached_binary().exists()
    assert [p.name for p in cached_binary().parent.iterdir()] == [".build.lock"]


def test_failed_configure_is_a_one_line_runtime_error(tmp_path: Path) -> None:
    sdist = fake_sdist(tmp_path, {"CMakeLists.txt": 'message(FATAL_ERROR "boom")\n'})
    with pytest.raises(RuntimeError, match="build step failed"):
        llamacpp_build.build(jobs=1, sdist=sdist)
    assert not cached_binary().exists()
