"""Render the `--help` of every `tm` command as one Markdown page (docs/cli-reference.md).

`python -m kvmesh.cli._reference_doc > docs/cli-reference.md` regenerates it; a test fails when
the committed page no longer matches the commands' own help.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

HEADER = """# `tm` command reference

Generated from each command's `--help` by `python -m kvmesh.cli._reference_doc > docs/cli-reference.md`;
`tests/cli/test_reference_doc.py` fails when this page and the commands drift apart. The guide
(global options, output formats, exit codes, config precedence) is `docs/cli.md`.
"""


def _walk(command: click.Command, path: list[str], parent: click.Context | None) -> Iterator[tuple[str, str]]:
    settings = {"terminal_width": 100, "max_content_width": 100, **command.context_settings}
    ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
    yield " ".join(path), command.get_help(ctx)
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, [*path, name], ctx)


def render_reference() -> str:
    from kvmesh.cli._group import cli

    parts = [HEADER]
    for name, text in _walk(cli, ["tm"], None):
        parts.append(f"## `{name}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render_reference(), end="")
