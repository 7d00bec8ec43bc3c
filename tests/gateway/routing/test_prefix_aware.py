"""prefix_aware: longest prefix match, bounded index, load guard, rotation, feedback and forgetting."""

from __future__ import annotations

from candidates import Candidate

from kvmesh.gateway.routing import (
    Outcome,
    PrefixAwarePolicy,
    ReportedCacheState,
    Router,
    RouteRequest,
    RoutingConfig,
)
from kvmesh.gateway.routing.prompt_blocks import block_hashes, rendered_prompt

CONFIG = RoutingConfig(load_margin=2, block_chars=16, min_match_blocks=2)
SYSTEM = "You are a careful assistant who answers in one short paragraph. " * 2


def conversation(*turns: str) -> dict[str, object]:
    messages = [{"role": "system", "content": SYSTEM}]
    messages += [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
    return {"model": "m", "messages": messages}


def request(body: dict[str, object], config: RoutingConfig = CONFIG) -> RouteRequest:
    prompt = rendered_prompt(body)
    return RouteRequest(
        "dep",
        "m",
        "/v1/chat/completions",
        policy="prefix_aware",
        prefix_blocks=block_hashes(prompt, config.block_chars),
        prompt_chars=len(prompt),
    )


def test_a_follow_up_turn_goes_to_the_replica_that_served_the_conversation() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    a, b = Candidate("a"), Candidate("b")
    first = policy.choose(request(conversation("What is a KV cache? Explain briefly.")), [a, b])
    follow_up = request(conversation("What is a KV cache? Explain briefly.", "It stores keys.", "And then?"))
    for _ in range(3):
        choice = policy.choose(follow_up, [a, b])
        assert choice.replica is first.replica and choice.reason == "match"
        assert choice.predicted_blocks >= 2


def test_the_longest_match_wins_over_a_shorter_shared_prefix() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    a, b = Candidate("a"), Candidate("b")
    long_prompt = conversation("Tell me about the history of Rome in detail, please.")
    policy.index.record("dep", request(long_prompt).prefix_blocks, "a")
    policy.index.record("dep", request(conversation("Something else entirely")).prefix_blocks, "b")
    choice = policy.choose(
        request(conversation("Tell me about the history of Rome in detail, please.", "x")), [a, b]
    )
    assert choice.replica is a
    shared = len(block_hashes(rendered_prompt(conversation()), CONFIG.block_chars))
    assert choice.predicted_blocks > shared


def test_index_stays_within_its_cap_and_evicts_the_oldest_prompts() -> None:
    config = RoutingConfig(block_chars=16, min_match_blocks=2, index_blocks=60)
    policy = PrefixAwarePolicy(config)
    replicas = [Candidate("a"), Candidate("b")]
    prompts = [{"prompt": f"{i:04d} distinct prompt text that spans several blocks"} for i in range(40)]
    for body in prompts:
        policy.choose(request(body, config), replicas)
        assert len(policy.index) <= 60
    assert policy.choose(request(prompts[0], config), replicas).reason == "no_match"
    assert policy.choose(request(prompts[-1], config), replicas).reason == "match"


def test_a_best_match_busier_than_the_margin_spills_to_the_least_loaded_replica() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    a, b = Candidate("a"), Candidate("b")
    body = conversation("Summarise the plot of Hamlet in three lines.")
    policy.index.record("dep", request(body).prefix_blocks, "a")
    a.outstanding = 3  # more than b (0) + margin (2)
    choice = policy.choose(request(body), [a, b])
    assert choice.replica is b and choice.reason == "load_guard"
    a.outstanding, b.outstanding = 0, 1  # b now holds the prefix too: the idler holder wins
    assert policy.choose(request(body), [a, b]).replica is a


def test_a_best_match_within_the_margin_keeps_the_request() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    a, b = Candidate("a", outstanding=2), Candidate("b")
    body = conversation("Summarise the plot of Hamlet in three lines.")
    policy.index.record("dep", request(body).prefix_blocks, "a")
    choice = policy.choose(request(body), [a, b])
    assert choice.replica is a and choice.reason == "match"


def test_without_a_match_ties_go_round_in_turn() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    replicas = [Candidate("a"), Candidate("b"), Candidate("c")]
    picks = [policy.choose(request({"prompt": f"{i} unrelated prompt number"}), replicas) for i in range(6)]
    assert [choice.replica.id for choice in picks] == ["a", "b", "c", "a", "b", "c"]
    assert {choice.reason for choice in picks} == {"no_match"}


def test_without_a_match_the_least_outstanding_replica_is_chosen() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    replicas = [Candidate("a", 2), Candidate("b", 0), Candidate("c", 1)]
    assert policy.choose(request({"prompt": "fresh prompt, nobody has it"}), replicas).replica.id == "b"


def test_a_match_shorter_than_the_minimum_counts_as_no_match() -> None:
    config = RoutingConfig(block_chars=16, min_match_blocks=4)
    policy = PrefixAwarePolicy(config)
    a, b = Candidate("a"), Candidate("b", outstanding=0)
    policy.index.record("dep", request({"prompt": "shared 16 chars!" + "A" * 64}, config).prefix_blocks, "a")
    a.outstanding = 1
    choice = policy.choose(request({"prompt": "shared 16 chars!" + "B" * 64}, config), [a, b])
    assert choice.reason == "short_match" and choice.replica is b


def test_an_ejected_replica_leaves_the_index_at_once() -> None:
    router = Router("prefix_aware", CONFIG)
    a, b = Candidate("a"), Candidate("b", outstanding=1)
    body = conversation("Why is the sky blue? One sentence.")
    first = router.choose(router.describe("dep", "m", "/v1/chat/completions", None, body), [a, b])
    assert first.replica is a
    router.forget("a")
    again = router.choose(router.describe("dep", "m", "/v1/chat/completions", None, body), [a, b])
    assert again.reason == "no_match"


def test_a_replica_that_leaves_the_ready_set_leaves_the_index() -> None:
    router = Router("prefix_aware", CONFIG)
    a, b = Candidate("a"), Candidate("b", outstanding=1)
    body = conversation("Name three prime numbers.")

    def describe(members: tuple[str, ...], payload: dict[str, object] = body) -> RouteRequest:
        return router.describe("dep", "m", "/v1/chat/completions", None, payload, members=members)

    assert router.choose(describe(("a", "b")), [a, b]).replica is a
    router.choose(describe(("b",), {"prompt": "another prompt"}), [b])  # a is no longer ready
    back = router.choose(describe(("a", "b")), [a, b])  # a is back, but with an empty cache for us
    assert back.replica is a and back.reason == "no_match"


def test_engine_reported_misses_stop_a_replica_from_attracting_the_prefix() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    a, b = Candidate("a"), Candidate("b")
    body = request(conversation("Explain TCP slow start."))
    first = policy.choose(body, [a, b])
    reasons = []
    for _ in range(3):
        choice = policy.choose(body, [a, b])
        reasons.append(choice.reason)
        policy.observe(body, choice, Outcome(ok=True, prompt_tokens=40, cached_tokens=0))
    assert first.replica is a
    assert reasons == ["match", "match", "no_match"]


def test_engine_reported_hits_keep_the_affinity() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    a, b = Candidate("a"), Candidate("b")
    body = request(conversation("Explain TCP slow start."))
    policy.choose(body, [a, b])
    for _ in range(5):
        choice = policy.choose(body, [a, b])
        assert choice.replica is a and choice.reason == "match"
        policy.observe(body, choice, Outcome(ok=True, prompt_tokens=40, cached_tokens=38))


def test_engine_reported_cache_state_overrides_the_index() -> None:
    policy = PrefixAwarePolicy(CONFIG)
    a, b = Candidate("a"), Candidate("b")
    body = request(conversation("What is LMCache?"))
    policy.index.record("dep", body.prefix_blocks, "a")
    reported = ReportedCacheState()
    reported.stored("b", body.prefix_blocks)
    reported.cleared("a")
    choice = policy.choose(body, [a, b], engine_cache=reported)
    assert choice.replica is b and choice.predicted_blocks == len(body.prefix_blocks)


def test_each_turn_renders_as_a_prefix_of_the_next() -> None:
    first = rendered_prompt(conversation("hello"))
    second = rendered_prompt(conversation("hello", "hi there", "how are you?"))
    assert second.startswith(first)
    first_blocks = block_hashes(first, 16)
    assert block_hashes(second, 16)[: len(first_blocks)] == first_blocks


def test_a_match_covering_a_small_share_of_a_long_prompt_counts_as_short() -> None:
    config = RoutingConfig(block_chars=16, min_match_blocks=2, min_match_ratio=0.5)
    policy = PrefixAwarePolicy(config)
    a, b = Candidate("a", outstanding=1), Candidate("b")
    shared = "A shared system prompt of 48 characters, exactly"
    policy.index.record("dep", request({"prompt": shared}, config).prefix_blocks, "a")
    long_prompt = request({"prompt": shared + " then a long unique document" * 8}, config)
    choice = policy.choose(long_prompt, [a, b])
    assert choice.reason == "short_match" and choice.replica is b
    short_prompt = request({"prompt": shared + " and a question?"}, config)
    assert policy.choose(short_prompt, [a, b]).reason == "match"
