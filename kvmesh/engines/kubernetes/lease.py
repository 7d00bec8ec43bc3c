"""A Kubernetes Lease as the controller lock (coordination.k8s.io/v1), the way client-go elects leaders.

The holder renews `renewTime` every election interval; anyone may take a lease whose renewTime is
older than `leaseDurationSeconds`. Every write is a replace carrying the read resourceVersion, so
two candidates racing for an expired lease cannot both win (the loser gets 409 Conflict). A holder
that cannot renew stops counting itself leader a safety margin before its lease could expire.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import httpx2
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from kvmesh.engines.kubernetes.config import make_client
from kvmesh.engines.leader import default_identity
from kvmesh.engines.settings import KubernetesSettings

log = logging.getLogger("kvmesh.engines.leader")
LEASE_NAME = "kvmesh-controller"


class KubernetesLease:
    def __init__(
        self,
        settings: KubernetesSettings,
        *,
        name: str = LEASE_NAME,
        duration_s: int = 10,
        client: AsyncClient | None = None,
        identity: str | None = None,
    ) -> None:
        self.identity = identity or default_identity()
        self._settings = settings
        self._name = name
        self._duration_s = duration_s
        self._client = client
        self._valid_until = 0.0  # monotonic time until which our last renewal is surely still ours

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            self._client = make_client(self._settings)
        return self._client

    async def acquire(self) -> bool:
        """Take the lease if it is free, expired or ours; renew it if ours."""
        started = time.monotonic()
        now = datetime.now(UTC)
        try:
            lease = await self.client.get(Lease, self._name, namespace=self._settings.namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            return await self._create(now, started)
        spec = lease.spec or LeaseSpec()
        ours = spec.holderIdentity == self.identity
        if not ours and not self._expired(spec, now):
            return False
        if not ours:
            spec.acquireTime = now
            spec.leaseTransitions = (spec.leaseTransitions or 0) + 1
        spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds = self.identity, now, self._duration_s
        lease.spec = spec
        try:
            await self.client.replace(lease)
        except ApiError as exc:
            if exc.status.code == 409:
                return False
            raise
        self._valid_until = started + self._duration_s
        return True

    async def held(self) -> bool:
        """Renew; when the API cannot be reached, keep leading only while the last renewal is fresh."""
        try:
            return await self.acquire()
        except (ApiError, httpx2.HTTPError, OSError) as exc:
            margin = self._duration_s / 3
            still = time.monotonic() < self._valid_until - margin
            log.warning(
                "cannot renew the controller lease (%s); %s", exc, "still leader" if still else "giving up"
            )
            return still

    async def release(self) -> None:
        """Hand the lease back at once (renewTime in the past) so a standby need not wait it out."""
        if self._valid_until == 0.0:
            return
        self._valid_until = 0.0
        try:
            lease = await self.client.get(Lease, self._name, namespace=self._settings.namespace)
            if lease.spec is not None and lease.spec.holderIdentity == self.identity:
                lease.spec.renewTime = datetime.now(UTC) - timedelta(seconds=self._duration_s + 1)
                await self.client.replace(lease)
        except (ApiError, httpx2.HTTPError, OSError) as exc:
            log.warning("could not hand the controller lease back: %s", exc)

    def _expired(self, spec: LeaseSpec, now: datetime) -> bool:
        if not spec.holderIdentity or spec.renewTime is None:
            return True
        duration = spec.leaseDurationSeconds or self._duration_s
        renewed = spec.renewTime if spec.renewTime.tzinfo else spec.renewTime.replace(tzinfo=UTC)
        return now > renewed + timedelta(seconds=duration)

    async def _create(self, now: datetime, started: float) -> bool:
        lease = Lease(
            metadata=ObjectMeta(name=self._name, namespace=self._settings.namespace),
            spec=LeaseSpec(
                holderIdentity=self.identity,
                leaseDurationSeconds=self._duration_s,
                acquireTime=now,
                renewTime=now,
                leaseTransitions=0,
            ),
        )
        try:
            await self.client.create(lease)
        except ApiError as exc:
            if exc.status.code == 409:
                return False
            raise
        self._valid_until = started + self._duration_s
        return True
