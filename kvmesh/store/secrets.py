"""Server secret handling shared by Control Plane and Gateway: API key hashing and encryption.

The server secret never lives in the database it protects. It comes from `KVMESH_SECRET_KEY`
(urlsafe base64 of 32 bytes, as `generate_secret()` prints) or from a 0600 file
(`<data dir>/server-secret`) created on first start. API keys are looked up by
HMAC-SHA256(secret, key) and stored encrypted (Fernet, key derived from the same secret)
so their owner can list them again. Other secrets the servers keep (external upstream API keys)
use `encrypt_secret`, a Fernet key derived from the same secret for a different purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from kvmesh.store.private_files import write_secret_file

API_KEY_PREFIX = "tmk_"
SECRET_ENV = "KVMESH_SECRET_KEY"
API_KEY_PURPOSE = b"kvmesh-api-key-encryption:"
SECRET_PURPOSE = b"kvmesh-secret-encryption:"
ENCRYPTED_UPSTREAM_KEY = "api_key_encrypted"  # deployments.engine_config field: external upstream key


def generate_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def load_server_secret(secret_file: Path, env: dict[str, str] | None = None) -> bytes:
    """Return the server secret: from the env var if set, else the file (created 0600 if absent)."""
    source = os.environ if env is None else env
    raw = source.get(SECRET_ENV, "").strip()
    if not raw:
        if secret_file.is_file():
            raw = secret_file.read_text().strip()
        else:
            raw = generate_secret()
            write_secret_file(secret_file, raw + "\n")
    try:
        decoded = base64.urlsafe_b64decode(raw.encode())
    except ValueError as exc:
        raise ValueError(f"{SECRET_ENV} / {secret_file} is not urlsafe base64") from exc
    if len(decoded) < 32:
        raise ValueError(f"server secret must be at least 32 bytes, got {len(decoded)}")
    return decoded


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(secret: bytes, key: str) -> str:
    """Keyed hash used as the lookup index of an API key (hex, 64 chars)."""
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def _fernet_key(secret: bytes, purpose: bytes = API_KEY_PURPOSE) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(purpose + secret).digest())


def encrypt_api_key(secret: bytes, key: str) -> str:
    from cryptography.fernet import Fernet

    return Fernet(_fernet_key(secret)).encrypt(key.encode()).decode()


def decrypt_api_key(secret: bytes, token: str) -> str:
    from cryptography.fernet import Fernet

    return Fernet(_fernet_key(secret)).decrypt(token.encode()).decode()


def encrypt_secret(secret: bytes, value: str) -> str:
    """Encrypt a secret the servers must use again (e.g. an external upstream's API key), Fernet token."""
    from cryptography.fernet import Fernet

    return Fernet(_fernet_key(secret, SECRET_PURPOSE)).encrypt(value.encode()).decode()


def decrypt_secret(secret: bytes, token: str) -> str:
    """Inverse of `encrypt_secret`; ValueError when the token is corrupt or the server secret changed."""
    from cryptography.fernet import Fernet, InvalidToken

    try:
        return Fernet(_fernet_key(secret, SECRET_PURPOSE)).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise ValueError("cannot decrypt: not encrypted with this server secret") from None


def sha256_hex(value: str) -> str:
    """Unkeyed digest for high-entropy one-time secrets (refresh tokens, login codes)."""
    return hashlib.sha256(value.encode()).hexdigest()
