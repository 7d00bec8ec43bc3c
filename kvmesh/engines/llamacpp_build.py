"""Build (once) and locate the `llama-server` binary from the llama.cpp sources in llama-cpp-python's sdist.

The registries reachable here carry llama.cpp only inside the `llama-cpp-python` source
distribution, so we fetch that sdist with pip, build only the `llama-server` target with
portable AVX2 flags, and cache the binary in a directory keyed by version and flags.
Run as `python -m kvmesh.engines.llamacpp_build` (prints the binary path).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
CMAKE_FLAGS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
)


def cache_root() -> Path:
    """Where built binaries live.

    `$KVMESH_CACHE_DIR`, else `$XDG_CACHE_HOME/kvmesh`, else `~/.cache/kvmesh`.
    """
    explicit = os.environ.get("KVMESH_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kvmesh"


def build_key() -> str:
    digest = hashlib.sha256("\n".join(CMAKE_FLAGS).encode()).hexdigest()[:12]
    return f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}-{digest}"


def cached_binary() -> Path:
    return cache_root() / "llama-server" / build_key() / "llama-server"


def find_llama_server() -> Path | None:
    """The binary to run: `$KVMESH_LLAMA_SERVER` if set, else the cached build, else None."""
    explicit = os.environ.get("KVMESH_LLAMA_SERVER", "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        return path if path.is_file() else None
    path = cached_binary()
    return path if path.is_file() else None


def _say(message: str) -> None:
    print(f"[llama-server build] {message}", file=sys.stderr, flush=True)


def _download_sdist(workdir: Path) -> Path:
    _say(f"downloading llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} source distribution with pip")
    # pip prepares the sdist's metadata in an isolated build env (it fetches scikit-build-core for
    # that); --no-build-isolation would need the backend inside our venv. Output is shown on failure.
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
            "-d",
            str(workdir),
        ],
        capture_output=True,
        text=True,
    )
    if download.returncode != 0:
        tail = "\n".join((download.stdout + download.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"pip could not download the llama-cpp-python sdist:\n{tail}")
    found = sorted(workdir.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise RuntimeError("pip download produced no llama_cpp_python sdist")
    return found[0]


def _extract_llama_cpp(sdist: Path, workdir: Path) -> Path:
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        archive.extractall(workdir, members=members, filter="data")
    return workdir / prefix


def build(jobs: int | None = None, sdist: Path | None = None) -> Path:
    """Return the cached `llama-server`, building it first if it is not there yet.

    A file lock makes concurrent callers (`make test` and `make demo` at once) wait for one
    build; the binary appears in the cache only when complete (copy to a temp name, then rename).
    """
    target = cached_binary()
    if target.is_file():
        return target
    if shutil.which("cmake") is None:
        raise RuntimeError("cmake is required to build llama-server (apt-get install cmake)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(target.parent / ".build.lock"):
        if target.is_file():
            return target
        try:
            _build_into(target, jobs or max(1, os.cpu_count() or 1), sdist)
        except subprocess.CalledProcessError as exc:
            step = " ".join(str(arg) for arg in exc.cmd[:4])
            raise RuntimeError(f"llama-server build step failed (exit {exc.returncode}): {step} ...") from exc
    _say(f"built {target}")
    return target


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say("another build is running; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_into(target: Path, jobs: int, sdist: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="kvmesh-llama-build-") as tmp:
        workdir = Path(tmp)
        source = _extract_llama_cpp(sdist or _download_sdist(workdir), workdir)
        build_dir = workdir / "build"
        _say("configuring (cmake)")
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_FLAGS],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _say(f"compiling llama-server with {jobs} jobs (about 10 minutes on 2 cores; done once, then cached)")
        _compile(build_dir, jobs)
        staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            shutil.copy2(build_dir / "bin" / "llama-server", staging)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)


def _compile(build_dir: Path, jobs: int) -> None:
    """Run the cmake build, echoing progress every 10 %; on failure raise with the last output lines."""
    proc = subprocess.Popen(
        ["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    shown = -1
    tail: list[str] = []
    for line in proc.stdout:
        tail = [*tail, line.rstrip()][-30:]
        if line.startswith("[") and "%]" in line:
            pct_text = line[1 : line.index("%]")].strip()
            pct = int(pct_text) if pct_text.isdigit() else shown
            if pct // 10 > shown // 10:
                _say(f"{pct}%")
                shown = pct
    if proc.wait() != 0:
        raise RuntimeError("llama-server build failed:\n" + "\n".join(tail))


def main() -> None:
    sdist = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    try:
        print(build(sdist=sdist))
    except (RuntimeError, OSError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
