"""SseEventFilter passes whole events on unchanged and looks only at the usage event."""

from __future__ import annotations

import json

from kvmesh.gateway.relay.sse_events import SseEventFilter

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
DONE = b"data: [DONE]\n\n"


def test_events_split_across_reads_are_forwarded_whole() -> None:
    relay = SseEventFilter(strip_usage_only=False)
    stream = CHUNK + CHUNK + DONE
    out = relay.feed(stream[:10]) + relay.feed(stream[10:70]) + relay.feed(stream[70:]) + relay.finish()
    assert out == stream
    assert relay.events == 2 and relay.done


def test_usage_only_event_is_read_and_stripped_when_client_did_not_ask() -> None:
    relay = SseEventFilter(strip_usage_only=True)
    out = relay.feed(CHUNK + USAGE + DONE)
    assert out == CHUNK + DONE
    assert relay.usage == {"prompt_tokens": 3, "completion_tokens": 2}


def test_usage_event_is_kept_when_client_asked() -> None:
    relay = SseEventFilter(strip_usage_only=False)
    assert relay.feed(CHUNK + USAGE + DONE) == CHUNK + USAGE + DONE
    assert relay.usage is not None and relay.usage["completion_tokens"] == 2


def test_usage_inside_a_content_chunk_is_read_but_never_dropped() -> None:
    event = {"choices": [{"index": 0, "delta": {"content": "x"}}], "usage": {"prompt_tokens": 1}}
    block = b"data: " + json.dumps(event).encode() + b"\n\n"
    relay = SseEventFilter(strip_usage_only=True)
    assert relay.feed(block) == block
    assert relay.usage == {"prompt_tokens": 1}


def test_null_usage_fields_are_not_parsed() -> None:
    block = b'data: {"choices":[{"index":0,"delta":{}}],"usage":null}\n\n'
    relay = SseEventFilter(strip_usage_only=True)
    assert relay.feed(block) == block and relay.usage is None


def test_unterminated_last_event_is_flushed_at_the_end() -> None:
    relay = SseEventFilter(strip_usage_only=False)
    assert relay.feed(b"data: [DONE]") == b""
    assert relay.finish() == b"data: [DONE]"


def test_crlf_terminated_events_are_forwarded_as_they_arrive() -> None:
    relay = SseEventFilter(strip_usage_only=False)
    event = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\r\n\r\n'
    assert relay.feed(event) == event
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":3}}\r\n\r\n'
    assert relay.feed(usage) == usage and relay.usage == {"prompt_tokens": 3}
