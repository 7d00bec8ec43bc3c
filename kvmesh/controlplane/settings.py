"""Control Plane settings: one typed dataclass built by the CLI or tests and passed to `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from kvmesh.controlplane.quotas import QuotaDefaults
from kvmesh.engines.settings import EngineSettings

DEFAULT_SIGNUP_CREDIT_MICROS = 10_000_000


@dataclass(frozen=True)
class ControlPlaneSettings:
    """Everything the CP app needs; no module reads the environment on its own.

    `public_base_url` is what `auth_url` links point at (defaults to http://host:port).
    `argon2_*` exist so tests can use cheap password hashing.
    `engines` holds the deployment controller's typed engine settings (kvmesh/engines/settings.py);
    a deployment's engine_config overrides their `llama_*` fields. Whether stopping this app leaves
    engine replicas serving is `engines.engines_outlive_controlplane`.
    `upstream_allowlist`: networks/hosts that users' external deployments may reach although they are
    loopback/private/link-local (kvmesh.engines.upstream_policy); admins' deployments are always trusted.
    `trusted_proxies`: networks whose `X-Forwarded-For` is believed for per-IP limits (default none).
    """

    database_url: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str = ""
    public_gateway_base: str = "http://127.0.0.1:8081"
    gateway_cloud_provider: str = "CLOUD_PROVIDER_ONPREM"
    run_engines: bool = True
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    login_code_ttl_s: int = 600
    login_poll_interval_s: int = 2
    login_start_limit_per_minute: int = 30
    signin_limit_per_minute: int = 20
    signup_credit_micros: int = DEFAULT_SIGNUP_CREDIT_MICROS
    catalog_file: Path | None = None
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    upstream_allowlist: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    engines: EngineSettings = field(default_factory=EngineSettings)
    tos_version: str = "1"
    stripe_secret_key: str = field(default="", repr=False)  # a secret: never in repr or logs
    stripe_api_base: str = ""
    max_deployments_per_user: int = 10
    max_replicas_per_user: int = 16

    def engine_settings(self) -> EngineSettings:
        """The engine settings as the providers and the deployment controller take them.

        Their data dir defaults to this Control Plane's, so replica logs land under `<data dir>/engines`;
        the upstream allowlist is this Control Plane's (creation time and health checks agree).
        """
        data_dir = self.engines.data_dir if self.engines.data_dir is not None else self.data_dir
        allowlist = tuple(dict.fromkeys((*self.engines.upstream_allowlist, *self.upstream_allowlist)))
        return replace(self.engines, data_dir=data_dir, upstream_allowlist=allowlist)

    @property
    def quota_defaults(self) -> QuotaDefaults:
        """Per-user caps unless an admin set an override (`PUT /v1/admin/users/{id}/quotas`)."""
        return QuotaDefaults(self.max_deployments_per_user, self.max_replicas_per_user)

    @property
    def base_url(self) -> str:
        """Public URL of this CP without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"
