"""Example budgets for the bad-input suite: a short profile in `make test`, a full one on demand.

`KVMESH_RELIABILITY_PROFILE=full` (what `make test-reliability` sets) multiplies the examples; both
profiles are derandomized (a fixed seed), so a failure reproduces on the next run.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings

PROFILE = os.environ.get("KVMESH_RELIABILITY_PROFILE", "short").strip().lower()
FULL = PROFILE == "full"


def examples(short: int, full: int) -> int:
    return full if FULL else short


def bounded(short: int, full: int) -> Any:
    """Hypothesis settings: `short` or `full` examples, no deadline, no example database, fixed seed."""
    return settings(
        max_examples=examples(short, full),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
