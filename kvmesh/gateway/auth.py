"""Who is calling: bearer key -> user (cached), X-User-Id check, and which surface the request is for."""

from __future__ import annotations

from dataclasses import dataclass

from kvmesh.gateway.asgi import GatewayError, RequestHeaders
from kvmesh.gateway.directory import ON_DEMAND, SERVERLESS, Directory, now_utc
from kvmesh.gateway.key_usage import KeyUseTracker
from kvmesh.store.secrets import hash_api_key

BEARER = b"bearer "
DEPLOYMENT_KEY_OTHER_MODEL = (
    "This API key belongs to another deployment than {model!r}; use the apiKey of {model!r} "
    "(see `tm models list`), an account API key (see `tm users api-keys list`), or run "
    "`tm init --sync` to store the key of your newest served model."
)


@dataclass(frozen=True, slots=True)
class Caller:
    api_key_id: str
    user_id: str
    surface: str  # on-demand (X-User-Id sent) | serverless (key only)
    deployment_id: str | None = None  # set for a deployment's own key: only that deployment may be called


class Authenticator:
    def __init__(
        self, directory: Directory, server_secret: bytes, key_uses: KeyUseTracker | None = None
    ) -> None:
        self._directory = directory
        self._secret = server_secret
        self._key_uses = key_uses

    async def caller(self, headers: RequestHeaders) -> Caller:
        """401 for a missing/unknown/revoked/expired key, 403 when X-User-Id is not the key's owner."""
        raw = headers.authorization
        if raw[:7].lower() != BEARER or not raw[7:].strip():
            raise GatewayError(
                401, "Missing API key: send `Authorization: Bearer <gateway api key>`.", "missing_api_key"
            )
        secret = raw[7:].strip().decode("latin-1")
        record = await self._directory.key(hash_api_key(self._secret, secret))
        if record is None:
            raise GatewayError(401, "Invalid API key (unknown or revoked).", "invalid_api_key")
        if record.expires_at is not None and record.expired(now_utc()):
            raise GatewayError(401, "API key has expired.", "expired_api_key")
        if self._key_uses is not None:
            self._key_uses.touch(record.api_key_id)
        user_id = headers.user_id.strip().decode("latin-1").lower()
        if not user_id:
            return Caller(record.api_key_id, record.user_id, SERVERLESS, record.deployment_id)
        if user_id != record.user_id.lower():
            raise GatewayError(
                403, "This API key does not belong to the user in X-User-Id.", "api_key_user_mismatch"
            )
        return Caller(record.api_key_id, record.user_id, ON_DEMAND, record.deployment_id)
