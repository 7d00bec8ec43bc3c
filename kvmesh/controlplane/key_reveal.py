"""Show owners their stored gateway keys in clear (decrypted with the server secret).

A key sealed under a different server secret (the secret file was replaced) cannot be shown;
it is reported as unavailable instead of failing the whole listing.
"""

from __future__ import annotations

import logging

from cryptography.fernet import InvalidToken

from kvmesh.store.models import ApiKey
from kvmesh.store.secrets import decrypt_api_key

log = logging.getLogger("kvmesh.controlplane")


def reveal_key(secret: bytes, row: ApiKey) -> str | None:
    """The key in clear, or None when this server secret cannot open it."""
    try:
        return decrypt_api_key(secret, row.key_encrypted)
    except (InvalidToken, ValueError):
        log.warning("API key %s cannot be decrypted with the current server secret", row.id)
        return None
