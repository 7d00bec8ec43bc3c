"""`kvmesh controlplane serve|create-user|issue-tokens|grant-credit|rotate-keys`: run and administer it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kvmesh.ops.accounts import (
    create_user_command,
    grant_credit_command,
    issue_tokens_command,
    rotate_keys_command,
)
from kvmesh.ops.database import (
    allow_upstream_option,
    checked_allowlist,
    checked_proxies,
    configure_logging,
    database_options,
    resolve_server_paths,
)

if TYPE_CHECKING:
    from kvmesh.engines.settings import KubernetesSettings


def kubernetes_options(command: Any) -> Any:
    """The `controlplane serve` options of the Kubernetes provider and of controller election."""
    options = [
        click.option(
            "--kubernetes-engines",
            is_flag=True,
            envvar="KVMESH_KUBERNETES_ENGINES",
            show_envvar=True,
            help="Run llamacpp and vllm deployments as Kubernetes workloads instead of local processes.",
        ),
        click.option(
            "--kubernetes-namespace",
            default="",
            envvar="KVMESH_KUBERNETES_NAMESPACE",
            show_envvar=True,
            help="Namespace for engine workloads (default: kvmesh-engines).",
        ),
        click.option(
            "--kubeconfig",
            default="",
            envvar="KVMESH_KUBECONFIG",
            show_envvar=True,
            help="Kubeconfig file (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config).",
        ),
        click.option("--kube-context", default="", help="Kubeconfig context (default: its current context)."),
        click.option(
            "--llamacpp-image",
            default="",
            envvar="KVMESH_LLAMACPP_IMAGE",
            show_envvar=True,
            help="Engine image for llama.cpp pods (default: kvmesh/llamacpp-engine:latest).",
        ),
        click.option(
            "--vllm-image",
            default="",
            envvar="KVMESH_VLLM_IMAGE",
            show_envvar=True,
            help="Engine image for vLLM pods (default: vllm/vllm-openai:latest).",
        ),
        click.option(
            "--controller-election",
            type=click.Choice(["auto", "lease"]),
            default="auto",
            show_default=True,
            envvar="KVMESH_CONTROLLER_ELECTION",
            show_envvar=True,
            help="How Control Planes elect the one running the controllers: auto = PostgreSQL advisory "
            "lock (file lock on SQLite); lease = a Kubernetes Lease.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def kubernetes_settings(
    *, engines: bool, namespace: str, kubeconfig: str, context: str, llamacpp_image: str, vllm_image: str
) -> KubernetesSettings:
    """The provider's settings from the serve options; an empty option keeps the provider's default."""
    from kvmesh.engines.settings import KubernetesSettings

    defaults = KubernetesSettings()
    return KubernetesSettings(
        namespace=namespace or defaults.namespace,
        kubeconfig=kubeconfig,
        context=context,
        llamacpp_image=llamacpp_image or defaults.llamacpp_image,
        vllm_image=vllm_image or defaults.vllm_image,
        engines_on_kubernetes=engines,
    )


@click.group()
def controlplane() -> None:
    """Serve and administer the Control Plane (operator commands).

    \b
    Example:
      kvmesh controlplane create-user --email owner@example.com --admin
      kvmesh controlplane serve --host 127.0.0.1 --port 8080
    """


@controlplane.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@database_options
@click.option("--public-base-url", default="", help="URL users reach this CP at (default: http://HOST:PORT).")
@click.option(
    "--gateway-base",
    default="http://127.0.0.1:8081",
    show_default=True,
    help="Gateway base URL given to users.",
)
@click.option(
    "--cloud-provider",
    default="CLOUD_PROVIDER_ONPREM",
    show_default=True,
    help="infra.cloudProvider reported for deployments (NEBIUS/LAMBDA/YOTTA for 0.1.9 `init --sync`).",
)
@click.option(
    "--catalog-file", type=click.Path(dir_okay=False, path_type=Path), help="Serverless catalog TOML."
)
@click.option("--no-engines", is_flag=True, help="Do not run the deployment controller in this process.")
@click.option(
    "--llama-threads",
    type=click.IntRange(min=1),
    envvar="KVMESH_LLAMA_THREADS",
    show_envvar=True,
    help="CPU threads per embedded llama.cpp replica (default: 1 on <= 2 cores, else half the cores, max 8).",
)
@click.option(
    "--llama-parallel",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    envvar="KVMESH_LLAMA_PARALLEL",
    show_envvar=True,
    help="Concurrent request slots per embedded llama.cpp replica.",
)
@click.option(
    "--llama-ctx-size",
    type=click.IntRange(min=256),
    envvar="KVMESH_LLAMA_CTX_SIZE",
    show_envvar=True,
    help="Context tokens per llama.cpp replica, shared by its slots (default: min(model, 2048) x slots).",
)
@kubernetes_options
@click.option(
    "--tos-version",
    default="1",
    show_default=True,
    envvar="KVMESH_TOS_VERSION",
    show_envvar=True,
    help="Terms-of-service version that `tm users accept-tos` records.",
)
@click.option(
    "--stripe-api-base",
    default="",
    envvar="KVMESH_STRIPE_API_BASE",
    show_envvar=True,
    help="Stripe API base URL (default: Stripe's own); the key comes from KVMESH_STRIPE_SECRET_KEY only.",
)
@allow_upstream_option
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    envvar="KVMESH_TRUSTED_PROXIES",
    show_envvar=True,
    help="Network (CIDR) of a reverse proxy whose X-Forwarded-For is believed for per-IP limits; "
    "repeat for several (default: none, the peer address counts).",
)
@click.option(
    "--max-deployments-per-user",
    type=click.IntRange(0, 1_000_000),
    default=10,
    show_default=True,
    help="Live deployments a user may have unless an admin set an override.",
)
@click.option(
    "--max-replicas-per-user",
    type=click.IntRange(0, 1_000_000),
    default=16,
    show_default=True,
    help="Replicas a user's live deployments may ask for in all unless an admin set an override.",
)
@click.option("--log-level", default="info", show_default=True, help="Python log level.")
def serve(
    host: str,
    port: int,
    database_url: str | None,
    data_dir: str | None,
    public_base_url: str,
    gateway_base: str,
    cloud_provider: str,
    catalog_file: Path | None,
    no_engines: bool,
    llama_threads: int | None,
    llama_parallel: int,
    llama_ctx_size: int | None,
    kubernetes_engines: bool,
    kubernetes_namespace: str,
    kubeconfig: str,
    kube_context: str,
    llamacpp_image: str,
    vllm_image: str,
    controller_election: str,
    tos_version: str,
    stripe_api_base: str,
    allow_upstream: tuple[str, ...],
    trusted_proxies: tuple[str, ...],
    max_deployments_per_user: int,
    max_replicas_per_user: int,
    log_level: str,
) -> None:
    """Run the Control Plane HTTP server (migrates the database first).

    The --llama-* engine settings also come from KVMESH_LLAMA_THREADS, KVMESH_LLAMA_PARALLEL and
    KVMESH_LLAMA_CTX_SIZE; a deployment's engineConfig (threads, parallel, ctx_size) overrides them.

    \b
    Example:
      kvmesh controlplane serve --host 0.0.0.0 --port 8080 --database-url postgresql://kv@db/kvmesh
    """
    from kvmesh.controlplane.server import serve as serve_controlplane
    from kvmesh.controlplane.settings import ControlPlaneSettings
    from kvmesh.engines.settings import EngineSettings
    from kvmesh.store.private_files import restrict_umask

    restrict_umask()
    url, directory = resolve_server_paths(database_url, data_dir)
    configure_logging(log_level)
    settings = ControlPlaneSettings(
        database_url=url,
        data_dir=directory,
        host=host,
        port=port,
        public_base_url=public_base_url,
        public_gateway_base=gateway_base,
        gateway_cloud_provider=cloud_provider,
        run_engines=not no_engines,
        catalog_file=catalog_file,
        upstream_allowlist=checked_allowlist(allow_upstream),
        trusted_proxies=checked_proxies(trusted_proxies),
        engines=EngineSettings(
            llama_threads=llama_threads,
            llama_parallel=llama_parallel,
            llama_ctx_size=llama_ctx_size,
            kubernetes=kubernetes_settings(
                engines=kubernetes_engines,
                namespace=kubernetes_namespace,
                kubeconfig=kubeconfig,
                context=kube_context,
                llamacpp_image=llamacpp_image,
                vllm_image=vllm_image,
            ),
            controller_election="lease" if controller_election == "lease" else "auto",
        ),
        tos_version=tos_version.strip() or "1",
        stripe_secret_key=os.environ.get("KVMESH_STRIPE_SECRET_KEY", "").strip(),
        stripe_api_base=stripe_api_base.strip(),
        max_deployments_per_user=max_deployments_per_user,
        max_replicas_per_user=max_replicas_per_user,
    )
    serve_controlplane(settings)


controlplane.add_command(create_user_command)
controlplane.add_command(issue_tokens_command)
controlplane.add_command(grant_credit_command)
controlplane.add_command(rotate_keys_command)
