"""External provider: any OpenAI-compatible base URL (optionally with an API key) as a replica."""

from __future__ import annotations

from typing import Any

from kvmesh.engines.processes import EngineStartError, http_ok
from kvmesh.engines.provider import ReplicaHandle, ReplicaSpec
from kvmesh.engines.settings import EngineSettings
from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY


def openai_base(url: str) -> str:
    """Normalize a base URL to end in `/v1` with no trailing slash."""
    base = url.strip().rstrip("/")
    return base if base.endswith("/v1") else f"{base}/v1"


class ExternalProvider:
    """engine_config: `base_url` (or `base_urls`, one per replica ordinal) and optional `api_key`.

    The Control Plane stores the key encrypted; the controller decrypts it into `api_key` in memory.
    """

    name = "external"

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    async def start_replica(self, spec: ReplicaSpec, ordinal: int) -> ReplicaHandle:
        config = spec.engine_config
        urls = config.get("base_urls") or ([config["base_url"]] if config.get("base_url") else [])
        if not urls:
            raise EngineStartError("external provider needs engine_config.base_url")
        if ENCRYPTED_UPSTREAM_KEY in config:
            raise EngineStartError(
                "cannot decrypt the upstream API key: the Control Plane's server secret is missing or changed"
            )
        api_key = str(config.get("api_key") or "")
        handle = ReplicaHandle(
            provider=self.name,
            deployment_id=spec.deployment_id,
            ordinal=ordinal,
            url=openai_base(str(urls[ordinal % len(urls)])),
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
        )
        if not await self.check_health(handle):
            raise EngineStartError(f"external endpoint {handle.url} answers neither /v1/models nor /health")
        return handle

    async def stop_replica(self, handle: ReplicaHandle) -> None:
        """Nothing to stop: kvmesh does not own an external endpoint."""

    async def check_health(self, handle: ReplicaHandle) -> bool:
        if await http_ok(f"{handle.url}/models", handle.headers):
            return True
        return await http_ok(f"{handle.root_url}/health", handle.headers)

    async def describe(self, handle: ReplicaHandle) -> dict[str, Any]:
        return {"provider": self.name, "url": handle.url, "authenticated": bool(handle.headers)}
