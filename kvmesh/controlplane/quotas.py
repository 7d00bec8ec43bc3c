"""Per-user quotas on deployments and replicas: server settings, an admin's per-user override, the check.

A user may have at most `max_deployments` live deployments and `max_replicas` replicas across them
(replicas asked for, not only running). The Gateway enforces the third quota, concurrent requests:
an override in the same `user_quotas` row, else the Gateway's own `--max-concurrent-requests`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kvmesh.controlplane.errors import ApiError
from kvmesh.store.models import Deployment, UserQuota

LIVE_EXCLUDED = ("stopping", "stopped")


@dataclass(frozen=True)
class QuotaDefaults:
    max_deployments: int
    max_replicas: int


@dataclass(frozen=True)
class Quota:
    """A user's effective caps; `overridden` names the fields an admin set for this user.
    `max_concurrent_requests` is None unless overridden (each Gateway's setting applies then)."""

    max_deployments: int
    max_replicas: int
    max_concurrent_requests: int | None
    overridden: tuple[str, ...]


def effective_quota(session: Session, defaults: QuotaDefaults, user_id: str) -> Quota:
    row = session.get(UserQuota, user_id)
    values: dict[str, int | None] = {
        "max_deployments": defaults.max_deployments,
        "max_replicas": defaults.max_replicas,
        "max_concurrent_requests": None,
    }
    overridden: list[str] = []
    if row is not None:
        for name in values:
            value = getattr(row, name)
            if value is not None:
                values[name] = value
                overridden.append(name)
    return Quota(
        max_deployments=values["max_deployments"] or 0,
        max_replicas=values["max_replicas"] or 0,
        max_concurrent_requests=values["max_concurrent_requests"],
        overridden=tuple(overridden),
    )


def live_usage(session: Session, user_id: str) -> tuple[int, int]:
    """(live deployments, replicas they ask for) of `user_id`."""
    count, replicas = session.execute(
        select(func.count(), func.coalesce(func.sum(Deployment.replicas_desired), 0)).where(
            Deployment.user_id == user_id,
            Deployment.deleted_at.is_(None),
            Deployment.status.not_in(LIVE_EXCLUDED),
        )
    ).one()
    return int(count), int(replicas)


def check_deployment_quota(
    session: Session, defaults: QuotaDefaults, user_id: str, *, new_deployments: int, new_replicas: int
) -> None:
    """403 `quota_exceeded` when adding `new_deployments` with `new_replicas` would pass a cap.

    For a scale change, pass new_deployments=0 and the replica difference."""
    quota = effective_quota(session, defaults, user_id)
    deployments, replicas = live_usage(session, user_id)
    if new_deployments and deployments + new_deployments > quota.max_deployments:
        raise ApiError(
            403,
            f"deployment quota reached: {deployments} of {quota.max_deployments} deployments in use; "
            "delete one or ask an admin to raise your quota",
            "quota_exceeded",
        )
    if new_replicas > 0 and replicas + new_replicas > quota.max_replicas:
        raise ApiError(
            403,
            f"replica quota reached: {replicas} of {quota.max_replicas} replicas in use, "
            f"{new_replicas} more asked; ask an admin to raise your quota",
            "quota_exceeded",
        )
