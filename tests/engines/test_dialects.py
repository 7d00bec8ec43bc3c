"""Engine-native dialects: llama-server's /tokenize and /detokenize shapes map to and from vLLM's."""

from __future__ import annotations

from kvmesh.engines.dialects import LlamaCppDialect, native_dialect


def test_llamacpp_has_a_dialect_and_vllm_speaks_the_client_shape() -> None:
    assert isinstance(native_dialect("llamacpp"), LlamaCppDialect)
    assert native_dialect("vllm") is None and native_dialect("external") is None


def test_tokenize_request_and_reply_are_translated() -> None:
    dialect = LlamaCppDialect()
    request = {"model": "m", "prompt": "hi", "add_special_tokens": 0}
    assert dialect.request("/tokenize", request) == {"content": "hi", "add_special": False}
    reply = dialect.response("/tokenize", {"tokens": [1, 2, 3]})
    assert reply == {"count": 3, "tokens": [1, 2, 3], "max_model_len": None}


def test_detokenize_request_and_reply_are_translated() -> None:
    dialect = LlamaCppDialect()
    assert dialect.request("/detokenize", {"model": "m", "tokens": [5]}) == {"tokens": [5]}
    assert dialect.response("/detokenize", {"content": "x"}) == {"prompt": "x"}


def test_chat_messages_are_rendered_by_the_engine_template_first() -> None:
    assert LlamaCppDialect().template_path == "/apply-template"


def test_an_unexpected_reply_passes_through() -> None:
    assert LlamaCppDialect().response("/tokenize", ["not", "a", "dict"]) == ["not", "a", "dict"]
