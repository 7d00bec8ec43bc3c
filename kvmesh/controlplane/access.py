"""Who may act for whom: resolve the `userId` a request names against the signed-in caller.

Every system-of-record query is scoped to one user. The reference client sends `userId` on most
calls; it must be the caller's own id unless the caller is an admin (else 403). Resources that
belong to another user are reported as missing (404), so their existence does not leak.
"""

from __future__ import annotations

import uuid

from kvmesh.controlplane.errors import ApiError
from kvmesh.store.models import User
from kvmesh.store.users import ROLE_ADMIN


def is_admin(user: User) -> bool:
    return user.role == ROLE_ADMIN


def canonical_user_id(value: str) -> str:
    """Lower-case hyphenated UUID (accepts the forms `uuid.UUID` does); 400 when it is not a UUID."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ApiError(400, f"userId must be a UUID, got {value!r}", "invalid_user_id") from None


def resolve_user_id(caller: User, requested: str | None) -> str:
    """The user a request acts for: the caller, or (admins only) the `userId` it names."""
    if requested is None or not requested.strip():
        return caller.id
    target = canonical_user_id(requested)
    if target != caller.id and not is_admin(caller):
        raise ApiError(403, "userId does not match the signed-in user", "forbidden_user")
    return target
