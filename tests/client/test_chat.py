"""Chat input parsing, body building, response normalisation and the streaming <think> filter."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kvmesh.client import (
    ChatInputError,
    ThinkFilter,
    build_chat_body,
    load_request_json,
    normalise_chat_completion,
    split_leading_reasoning,
)


def test_json_beats_file_beats_stdin(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("[2]")
    assert load_request_json("[1]", str(path), io.StringIO("[3]")) == [1]
    assert load_request_json(None, str(path), io.StringIO("[3]")) == [2]
    assert load_request_json(f"@{path}", None, None) == [2]
    assert load_request_json(None, None, io.StringIO("[3]")) == [3]


def test_input_errors_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(ChatInputError, match=r"^No input provided\."):
        load_request_json(None, None, io.StringIO("   "))
    with pytest.raises(ChatInputError, match=r"^Invalid JSON on stdin: "):
        load_request_json(None, None, io.StringIO("{"))
    with pytest.raises(ChatInputError, match=r"^Failed to read JSON file: .*missing\.json: "):
        load_request_json(f"@{tmp_path}/missing.json", None, None)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ChatInputError, match=r"^Invalid JSON in file: .*bad\.json: "):
        load_request_json(None, str(tmp_path / "bad.json"), None)


def test_body_from_array_object_and_stream_flag() -> None:
    assert build_chat_body([], "m", stream=True) == {"model": "m", "messages": [], "stream": True}
    assert build_chat_body({"model": "a", "messages": [], "x": 1}, "b", stream=False) == {
        "model": "b",
        "messages": [],
        "x": 1,
    }
    assert build_chat_body(
        {"model": "a", "messages": []}, None, stream=False, sampling={"seed": 1, "top_p": None}
    ) == {
        "model": "a",
        "messages": [],
        "seed": 1,
    }


@pytest.mark.parametrize(
    ("source", "model", "message"),
    [
        ([], None, "Missing --model (required when input is a messages array)."),
        ({"messages": []}, None, "Missing model. Provide --model or include it in the JSON payload."),
        (
            {"model": "m"},
            None,
            "Missing messages. Provide a messages array or include it in the JSON payload.",
        ),
        ("hi", "m", "Input JSON must be an object (request) or an array (messages)."),
        ({"model": "m", "messages": [], "stream": True}, None, "Input JSON enables streaming."),
    ],
)
def test_body_errors(source: object, model: str | None, message: str) -> None:
    with pytest.raises(ChatInputError) as caught:
        build_chat_body(source, model, stream=False)
    assert str(caught.value).startswith(message)


def test_leading_think_blocks_move_to_reasoning() -> None:
    assert split_leading_reasoning(" <think>a</think>\n<think> b </think>Hi", None) == ("Hi", "a\n\nb")
    assert split_leading_reasoning("<think>a</think>", "kept") == (None, "kept")
    assert split_leading_reasoning("Hi <think>a</think>", None) == ("Hi <think>a</think>", None)


def test_normalisation_orders_keys_and_drops_known_nulls() -> None:
    body = {
        "model": "m",
        "system_fingerprint": None,
        "choices": [
            {
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"content": "x", "role": "assistant", "tool_calls": None},
                "index": "0",
            }
        ],
        "created": "5",
        "id": "i",
        "usage": {"total_tokens": 2, "prompt_tokens": 1},
    }
    assert normalise_chat_completion(body) == {
        "id": "i",
        "object": "chat.completion",
        "created": 5,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "total_tokens": 2},
        "system_fingerprint": None,
    }


def test_normalisation_leaves_odd_bodies_alone() -> None:
    odd = {"id": "i", "created": "soon", "model": "m", "choices": []}
    assert normalise_chat_completion(odd) is odd


def test_think_filter_handles_tags_split_across_chunks() -> None:
    f = ThinkFilter()
    assert [f.feed(c) for c in [" <th", "ink>sec", "ret</thi", "nk>", "He", "llo"]] == [
        "",
        "",
        "",
        "",
        "He",
        "llo",
    ]
    g = ThinkFilter()
    assert g.feed("<") == "" and g.feed("b>") == "<b>"
