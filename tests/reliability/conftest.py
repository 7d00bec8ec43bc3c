"""Reliability suite fixtures: the profile (short in `make test`, full in `make test-reliability`), a real
llama.cpp replica shared by the module, a seeded store, and a Gateway subprocess factory."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_process import GatewayProcess
from reliability_parts import LlamaReplica, SeededStore
from reliability_traffic import Profile, current_profile

FIGURES_ENV = "KVMESH_RELIABILITY_FIGURES"  # a JSON-lines file the figures of each test are appended to


@pytest.fixture(scope="session")
def profile() -> Profile:
    return current_profile()


@pytest.fixture(scope="module")
def replica() -> Iterator[LlamaReplica]:
    engine = LlamaReplica()
    yield engine
    engine.kill()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SeededStore]:
    store = SeededStore(f"sqlite:///{tmp_path / 'kvmesh.db'}")
    yield store
    store.close()


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Factory: a Gateway process on `store` with its data dir under tmp_path; all stopped at teardown."""
    started: list[GatewayProcess] = []

    def start(store: SeededStore, *args: str, data_dir: Path | None = None) -> GatewayProcess:
        process = GatewayProcess(store.url, data_dir or tmp_path / "gateway", store.secret, *args)
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def report(request: pytest.FixtureRequest, profile: Profile) -> Callable[..., None]:
    """Record a test's measured figures (printed, and appended to $KVMESH_RELIABILITY_FIGURES if set)."""

    def write(**figures: Any) -> None:
        line = {"test": request.node.name, "profile": profile.name, **figures}
        print(json.dumps(line))
        target = os.environ.get(FIGURES_ENV)
        if target:
            with open(target, "a") as handle:
                handle.write(json.dumps(line) + "\n")

    return write
