"""The Model record serializer alone: status mapping, provider label, region field, redaction, times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kvmesh.controlplane.model_record import model_record, redact_config
from kvmesh.store.models import Deployment, DeploymentEvent, Replica

CREATED = datetime(2026, 11, 25, 0, 23, 43, 781069, tzinfo=UTC)
LATER = datetime(2026, 11, 25, 1, 0, 0, tzinfo=UTC)


def _deployment(status: str = "ready", cloud_provider: str = "CLOUD_PROVIDER_ONPREM") -> Deployment:
    deployment = Deployment(
        id="5f0c6b3e-8a7d-4c1e-9b2a-1d3e5f7a9c0b",
        user_id="1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        served_name="my-model",
        description="",
        status=status,
        provider="llamacpp",
        cloud_provider=cloud_provider,
        region="rack-1",
        replicas_desired=2,
        gpu_type="",
        gpu_count=0,
        engine_config={"threads": 2, "api_key": "sk-secret", "auth": {"Token": "x", "user": "u"}},
        endpoint="",
        last_error="",
        created_at=CREATED,
        updated_at=CREATED,
    )
    deployment.replicas = [Replica(ordinal=0, status="ready", restarts=1, last_error="", updated_at=LATER)]
    deployment.events = [DeploymentEvent(event_type="READY", log="replica 0 ready", created_at=LATER)]
    return deployment


def _record(deployment: Deployment, label: str = "CLOUD_PROVIDER_ONPREM") -> dict[str, object]:
    record = model_record(
        deployment,
        catalog_name="org/model",
        api_key="tmk_k",
        gateway_base="http://gw:8081/",
        cloud_provider=label,
    )
    return record.model_dump()


@pytest.mark.parametrize(
    ("status", "wire"),
    [
        ("pending", "MODEL_STATUS_PENDING"),
        ("starting", "MODEL_STATUS_STARTING"),
        ("ready", "MODEL_STATUS_UP"),
        ("failed", "MODEL_STATUS_FAILED"),
        ("stopping", "MODEL_STATUS_DELETED"),
        ("stopped", "MODEL_STATUS_DELETED"),
    ],
)
def test_deployment_status_maps_to_reference_model_status(status: str, wire: str) -> None:
    assert _record(_deployment(status))["status"] == wire


def test_record_fields_times_and_replica_status() -> None:
    record = _record(_deployment())
    assert record["modelId"] == record["deploymentId"] == "5f0c6b3e-8a7d-4c1e-9b2a-1d3e5f7a9c0b"
    assert record["createdAt"] == "2026-11-25T00:23:43.781069Z"
    assert record["updatedAt"] == "2026-11-25T01:00:00Z"  # the newest replica change counts
    assert record["endpoint"] == "http://gw:8081" and record["apiKey"] == "tmk_k"
    assert record["replicas"] == 2
    assert record["replicaStatus"] == [
        {"ordinal": 0, "status": "ready", "restarts": 1, "lastError": "", "updatedAt": "2026-11-25T01:00:00Z"}
    ]
    assert record["events"] == [
        {"createdAt": "2026-11-25T01:00:00Z", "log": "replica 0 ready", "eventType": "READY"}
    ]


def test_self_hosted_deployments_report_the_cluster_label_with_its_region_field() -> None:
    nebius = _record(_deployment(), "CLOUD_PROVIDER_NEBIUS")["infra"]
    assert nebius == {
        "cloudProvider": "CLOUD_PROVIDER_NEBIUS",
        "nebiusRegion": "rack-1",
        "onpremRegion": None,
        "lambdaRegion": None,
    }
    own_label = _record(_deployment(cloud_provider="CLOUD_PROVIDER_LAMBDA"), "CLOUD_PROVIDER_NEBIUS")["infra"]
    assert own_label["cloudProvider"] == "CLOUD_PROVIDER_LAMBDA" and own_label["lambdaRegion"] == "rack-1"
    onprem = _record(_deployment())["infra"]
    assert onprem["cloudProvider"] == "CLOUD_PROVIDER_ONPREM" and onprem["onpremRegion"] == "rack-1"


def test_secrets_in_engine_config_never_reach_the_record() -> None:
    assert redact_config({"threads": 2, "api_key": "s", "auth": {"Token": "x", "user": "u"}}) == {
        "threads": 2,
        "auth": {"user": "u"},
    }
    spec = _record(_deployment())["modelSpec"]
    assert spec == {
        "provider": "llamacpp",
        "catalogModel": "org/model",
        "replicas": 2,
        "engineConfig": {"threads": 2, "auth": {"user": "u"}},
        "routing": "default",
    }
