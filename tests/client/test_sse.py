"""The SSE line reader: data lines only, [DONE] ends, bad JSON and error events abort."""

from __future__ import annotations

import pytest

from kvmesh.client import StreamEventError, chat_delta_texts, completion_texts, iter_events


def test_only_data_lines_are_events_and_done_ends_the_stream() -> None:
    lines = [": comment", "event: x", "id: 1", "", 'data: {"a": 1}', "data:[DONE]", 'data: {"b": 2}']
    assert list(iter_events(lines)) == [{"a": 1}]


def test_invalid_json_aborts_with_the_payload() -> None:
    with pytest.raises(StreamEventError, match=r"^Invalid stream event JSON: \{oops$"):
        list(iter_events(["data: {oops"]))


def test_an_error_key_aborts_even_when_null() -> None:
    with pytest.raises(StreamEventError, match=r"^Stream error: None$"):
        list(iter_events(['data: {"error": null}']))


def test_chat_texts_prefer_delta_then_message() -> None:
    event = {
        "choices": [{"index": 1, "delta": {"content": "a"}}, {"message": {"content": "b"}}, {"delta": {}}]
    }
    assert list(chat_delta_texts(event)) == [(1, "a"), (0, "b")]
    assert list(chat_delta_texts({"usage": {}})) == []


def test_completion_texts_join_choices() -> None:
    assert completion_texts({"choices": [{"text": "a"}, {"text": "b"}, {}]}) == "ab"
