"""docs/cli-reference.md is the commands' own `--help`, regenerated, never hand-edited."""

from __future__ import annotations

from pathlib import Path

from kvmesh.cli._reference_doc import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"


def test_reference_page_matches_every_commands_help() -> None:
    assert DOC.read_text() == render_reference(), (
        "docs/cli-reference.md is stale: run `python -m kvmesh.cli._reference_doc > docs/cli-reference.md`"
    )


def test_reference_page_covers_the_seed_flow_commands() -> None:
    text = render_reference()
    for command in (
        "tm auth login",
        "tm init",
        "tm infer chat",
        "tm billing pricing serverless list",
        "tm infer doctor",
        "tm local up",
    ):
        assert f"## `{command}`" in text
