"""Hypothesis on both SSE parsers: any bytes from an upstream, cut anywhere, never crash or lose bytes."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from bad_input_profile import bounded
from hypothesis import example, given
from hypothesis import strategies as st

from kvmesh.client import StreamEventError, chat_delta_texts, completion_texts, iter_events
from kvmesh.gateway.relay.sse_events import SseEventFilter

DEEP = "[" * 100_000 + "]" * 100_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
sse_fragments = st.sampled_from(
    [
        b"data: ",
        b"data:",
        b"\n",
        b"\r\n",
        b"\n\n",
        b"\r\n\r\n",
        b"[DONE]",
        b'{"usage":{',
        b'"usage": {',
        b'{"choices":[]',
        b"}",
        b"event: x",
        b": comment",
        b"id: 7",
    ]
)
upstream_bytes = st.lists(st.binary(max_size=40) | sse_fragments, max_size=40).map(b"".join)


def _cuts(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@bounded(200, 5000)
@given(data=upstream_bytes, points=st.lists(st.integers(min_value=0), max_size=8))
@example(data=b"data: " + DEEP.encode() + b"\n\n", points=[3])
@example(data=b'data: {"usage":{"x":' + DEEP.encode() + b"}}\n\n", points=[])
def test_the_gateway_relay_forwards_every_byte_unchanged(data: bytes, points: list[int]) -> None:
    relay = SseEventFilter(strip_usage_only=False)
    out = b"".join(relay.feed(chunk) for chunk in _cuts(data, points)) + relay.finish()
    assert out == data


@bounded(200, 5000)
@given(data=upstream_bytes, points=st.lists(st.integers(min_value=0), max_size=8))
@example(data=b'data: {"usage":{"n":' + DEEP.encode() + b'}, "choices": []}\n\n', points=[])
def test_the_gateway_relay_stripping_usage_never_fails(data: bytes, points: list[int]) -> None:
    relay = SseEventFilter(strip_usage_only=True)
    out = b"".join(relay.feed(chunk) for chunk in _cuts(data, points)) + relay.finish()
    assert len(out) <= len(data)
    assert relay.usage is None or isinstance(relay.usage, dict)


@bounded(200, 5000)
@given(
    lines=st.lists(st.text(max_size=60) | st.sampled_from(["data: [DONE]", "data:", "data: {}"]), max_size=20)
)
@example(lines=["data: " + DEEP])
def test_the_client_reader_yields_events_or_one_stream_error(lines: list[str]) -> None:
    try:
        for event in iter_events(lines):
            list(chat_delta_texts(event))
            completion_texts(event)
    except StreamEventError as exc:
        assert len(str(exc)) < 400


@bounded(100, 2000)
@given(events=st.lists(json_values, max_size=10))
def test_the_client_reader_returns_every_json_event_it_is_given(events: list[Any]) -> None:
    lines = [f"data: {json.dumps(event)}" for event in events]
    expected = []
    for event in events:
        if isinstance(event, dict) and "error" in event:
            with pytest.raises(StreamEventError):
                list(iter_events(lines))
            return
        expected.append(event)
    assert list(iter_events([*lines, "data: [DONE]", "data: {}"])) == expected
