"""Admission before a request goes upstream: the per-user concurrency cap and the balance hold."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from kvmesh.gateway.asgi import GatewayError
from kvmesh.gateway.directory import Directory, Route
from kvmesh.gateway.limits import ConcurrencyLimiter
from kvmesh.gateway.reservations import (
    BalanceReservations,
    answer_token_limit,
    maximum_cost_micros,
    prompt_token_bound,
)
from kvmesh.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Admitted:
    """What `admit` took; `release` gives back what metering will not settle."""

    user_id: str
    usage_key: str
    slot: bool = False
    reserved_micros: int = 0
    body: bytes | None = None  # the request re-encoded with the reserved answer length, when it was absent


class Admission:
    def __init__(
        self,
        directory: Directory,
        limiter: ConcurrencyLimiter,
        reservations: BalanceReservations,
        settings: GatewaySettings,
    ) -> None:
        self._directory = directory
        self._limiter = limiter
        self._reservations = reservations
        self._default_cap = settings.max_concurrent_requests
        self._default_max_tokens = settings.default_max_tokens

    async def admit(
        self, user_id: str, route: Route, request: dict[str, Any], usage_key: str, metered: bool
    ) -> Admitted:
        """Take a concurrency slot (429 when the cap is reached) and, for a priced request, hold its maximum
        cost (402 when it does not fit the available balance)."""
        admitted = Admitted(user_id, usage_key)
        cap = await self._directory.concurrency_cap(user_id)
        limit = self._default_cap if cap is None else cap
        if limit > 0:
            if not await self._limiter.acquire(user_id, usage_key, limit):
                raise GatewayError(
                    429,
                    f"Too many concurrent requests: this account may have {limit} in flight; "
                    "retry when one finishes.",
                    "concurrency_limit_exceeded",
                )
            admitted.slot = True
        if not (metered and route.priced):
            return admitted
        try:
            answer_tokens = answer_token_limit(request)
            if answer_tokens is None:
                answer_tokens = self._default_max_tokens
                # The hold must be a true maximum; the Responses API names the field differently.
                responses_api = "input" in request and "messages" not in request
                request["max_output_tokens" if responses_api else "max_tokens"] = answer_tokens
                admitted.body = json.dumps(request).encode()
            amount = maximum_cost_micros(route, prompt_token_bound(request), answer_tokens)
            if amount > 0 and not await self._reservations.reserve(usage_key, user_id, amount):
                raise GatewayError(
                    402,
                    f"Insufficient balance: this request may cost up to {amount} micro-USD "
                    f"({answer_tokens} answer tokens at most), more than the available balance. "
                    "Add credits or lower max_tokens.",
                    "insufficient_balance",
                )
            admitted.reserved_micros = amount
        except BaseException:
            await self.finish(admitted)
            raise
        return admitted

    async def finish(self, admitted: Admitted, *, metered: bool = False) -> None:
        """Give back the slot; release the hold too unless a usage record will settle it."""
        if admitted.slot:
            admitted.slot = False
            await self._limiter.release(admitted.user_id, admitted.usage_key)
        if admitted.reserved_micros and not metered:
            admitted.reserved_micros = 0
            try:
                await self._reservations.release(admitted.usage_key)
            except Exception as exc:  # the hold then expires on its own
                log.error("releasing balance hold %s failed: %s", admitted.usage_key, exc)
