"""External provider: any OpenAI-compatible base URL (optionally with an API key) as a replica."""

from __future__ import annotations

from typing import Any

from kvmesh.engines.guarded_http import guarded_get_ok
from kvmesh.engines.processes import EngineStartError
from kvmesh.engines.provider import RecordedReplica, ReplicaHandle, ReplicaSpec
from kvmesh.engines.settings import EngineSettings
from kvmesh.engines.upstream_policy import ADMIN_APPROVED, UpstreamPolicy, UpstreamRefused
from kvmesh.store.secrets import ENCRYPTED_UPSTREAM_KEY


def openai_base(url: str) -> str:
    """Normalize a base URL to end in `/v1` with no trailing slash."""
    base = url.strip().rstrip("/")
    return base if base.endswith("/v1") else f"{base}/v1"


class ExternalProvider:
    """engine_config: `base_url` (or `base_urls`, one per replica ordinal) and optional `api_key`.

    The Control Plane stores the key encrypted; the controller decrypts it into `api_key` in memory.
    Health checks go through the upstream address policy (unless an admin created the deployment), on
    the address actually connected to, and record only whether the upstream answered 200.
    """

    name = "external"

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.policy = UpstreamPolicy.parse(settings.upstream_allowlist)
        self._trusted: set[tuple[str, int]] = set()

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
        key = (spec.deployment_id, ordinal)
        if config.get(ADMIN_APPROVED) is True:
            self._trusted.add(key)
        else:
            self._trusted.discard(key)
            refusal = self.policy.url_refusal(handle.url, resolve=False)
            if refusal:
                raise EngineStartError(refusal)
        try:
            healthy = await self._check(handle, raise_refusal=True)
        except UpstreamRefused as exc:
            raise EngineStartError(str(exc)) from None
        if not healthy:
            raise EngineStartError(f"external endpoint {handle.url} answers neither /v1/models nor /health")
        return handle

    async def stop_replica(self, handle: ReplicaHandle) -> None:
        """Nothing to stop: kvmesh does not own an external endpoint."""
        self._trusted.discard((handle.deployment_id, handle.ordinal))

    async def adopt_replica(self, spec: ReplicaSpec, recorded: RecordedReplica) -> ReplicaHandle | None:
        """An external endpoint has no process: it is adopted when it still answers at the recorded URL."""
        try:
            handle = await self.start_replica(spec, recorded.ordinal)
        except EngineStartError:
            return None
        return handle if handle.url == recorded.url else None

    async def check_health(self, handle: ReplicaHandle) -> bool:
        return await self._check(handle, raise_refusal=False)

    async def _check(self, handle: ReplicaHandle, *, raise_refusal: bool) -> bool:
        trusted = (handle.deployment_id, handle.ordinal) in self._trusted
        policy = None if trusted else self.policy
        for url in (f"{handle.url}/models", f"{handle.root_url}/health"):
            try:
                if await guarded_get_ok(url, handle.headers, policy):
                    return True
            except UpstreamRefused:
                if raise_refusal:
                    raise
                return False
        return False

    async def describe(self, handle: ReplicaHandle) -> dict[str, Any]:
        return {"provider": self.name, "url": handle.url, "authenticated": bool(handle.headers)}
