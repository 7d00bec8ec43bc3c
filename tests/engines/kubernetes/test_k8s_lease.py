"""The Kubernetes Lease lock through lightkube against the API stand-in: one holder, takeover on expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from kube_api_standin import KubeApiStandIn
from lightkube import AsyncClient, KubeConfig

from kvmesh.engines.kubernetes.lease import KubernetesLease
from kvmesh.engines.settings import KubernetesSettings

NS = "kvmesh"
pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def api() -> AsyncIterator[KubeApiStandIn]:
    server = KubeApiStandIn()
    await server.start()
    yield server
    await server.stop()


def candidate(api: KubeApiStandIn, identity: str, duration_s: int = 1) -> KubernetesLease:
    client = AsyncClient(KubeConfig.from_dict(api.kubeconfig(NS)).get(), namespace=NS)
    return KubernetesLease(
        KubernetesSettings(namespace=NS), duration_s=duration_s, client=client, identity=identity
    )


async def test_only_one_candidate_holds_the_lease(api: KubeApiStandIn) -> None:
    first, second = candidate(api, "cp-a", duration_s=30), candidate(api, "cp-b", duration_s=30)
    results = await asyncio.gather(first.acquire(), second.acquire())
    assert sorted(results) == [False, True]
    holder = api.objects[("leases", NS, "kvmesh-controller")]["spec"]["holderIdentity"]
    winner = first if results[0] else second
    assert holder == winner.identity
    assert await winner.held()


async def test_expired_lease_is_taken_over_and_the_old_holder_learns_it(api: KubeApiStandIn) -> None:
    first, second = candidate(api, "cp-a"), candidate(api, "cp-b")
    assert await first.acquire()
    assert not await second.acquire()
    await asyncio.sleep(1.2)  # cp-a stops renewing (it died): the lease expires
    assert await second.acquire()
    assert not await first.held()
    assert api.objects[("leases", NS, "kvmesh-controller")]["spec"]["leaseTransitions"] == 1


async def test_released_lease_is_free_at_once(api: KubeApiStandIn) -> None:
    first, second = candidate(api, "cp-a", duration_s=30), candidate(api, "cp-b", duration_s=30)
    assert await first.acquire()
    await first.release()
    assert await second.acquire()
