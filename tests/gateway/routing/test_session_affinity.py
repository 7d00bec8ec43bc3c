"""session_affinity: a session sticks to one replica, within the same load guard as prefix_aware."""

from __future__ import annotations

from candidates import Candidate

from kvmesh.gateway.routing import Router, RoutingConfig, SessionAffinityPolicy

CONFIG = RoutingConfig(load_margin=1, sessions=3)


def describe(router: Router, user: str | None = None, header: bytes = b"") -> object:
    body = {"model": "m", "messages": [], **({"user": user} if user else {})}
    return router.describe("dep", "m", "/v1/chat/completions", "session_affinity", body, header)


def test_a_session_stays_on_its_replica() -> None:
    router = Router("least_outstanding", CONFIG)
    a, b = Candidate("a"), Candidate("b")
    first = router.choose(describe(router, user="alice"), [a, b]).replica
    other = router.choose(describe(router, user="bob"), [a, b]).replica
    assert first is not other
    assert {router.choose(describe(router, user="alice"), [a, b]).replica.id for _ in range(4)} == {first.id}


def test_the_session_header_takes_precedence_over_the_user_field() -> None:
    router = Router("least_outstanding", CONFIG)
    request = describe(router, user="alice", header=b"conv-42")
    assert request.session_key == "conv-42"  # type: ignore[attr-defined]


def test_requests_without_a_session_rotate_over_idle_replicas() -> None:
    policy = SessionAffinityPolicy(CONFIG)
    router = Router("session_affinity", CONFIG)
    replicas = [Candidate("a"), Candidate("b")]
    request = describe(router)
    picks = [policy.choose(request, replicas) for _ in range(4)]  # type: ignore[arg-type]
    assert [choice.replica.id for choice in picks] == ["a", "b", "a", "b"]
    assert {choice.reason for choice in picks} == {"no_session"}


def test_a_busy_owner_hands_the_session_to_the_least_loaded_replica() -> None:
    router = Router("session_affinity", CONFIG)
    a, b = Candidate("a"), Candidate("b", outstanding=1)
    assert router.choose(describe(router, user="alice"), [a, b]).replica is a
    a.outstanding = 3
    spilled = router.choose(describe(router, user="alice"), [a, b])
    assert spilled.replica is b and spilled.reason == "load_guard"
    a.outstanding = 1
    assert router.choose(describe(router, user="alice"), [a, b]).replica is b  # b owns it now


def test_an_ejected_owner_loses_its_sessions() -> None:
    router = Router("session_affinity", CONFIG)
    a, b = Candidate("a"), Candidate("b", outstanding=1)
    assert router.choose(describe(router, user="alice"), [a, b]).replica is a
    router.forget("a")
    b.outstanding = 0
    a.outstanding = 1
    moved = router.choose(describe(router, user="alice"), [a, b])
    assert moved.replica is b and moved.reason == "no_match"


def test_the_session_table_is_bounded() -> None:
    policy = SessionAffinityPolicy(CONFIG)
    router = Router("session_affinity", CONFIG)
    for user in ("u1", "u2", "u3", "u4", "u5"):
        policy.choose(describe(router, user=user), [Candidate("a")])  # type: ignore[arg-type]
    assert len(policy) == 3
