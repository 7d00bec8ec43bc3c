"""`tm completion`: print click's shell completion script for bash, zsh or fish."""

from __future__ import annotations

import click


def completion_script(shell: str, prog_name: str) -> str:
    """The script click generates; it calls back into `prog_name` with `_<PROG>_COMPLETE` set."""
    from click.shell_completion import get_completion_class

    from kvmesh.cli import cli

    complete_var = f"_{prog_name.replace('-', '_').upper()}_COMPLETE"
    completion_class = get_completion_class(shell)
    if completion_class is None:  # click.Choice already limits the shells
        raise click.UsageError(f"Unsupported shell: {shell}")
    return completion_class(cli, {}, prog_name, complete_var).source()


@click.command(name="completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"], case_sensitive=False))
@click.option(
    "--prog",
    "prog_name",
    default="tm",
    show_default=True,
    help="Program name to generate completions for (usually 'tm').",
)
def completion(shell: str, prog_name: str) -> None:
    """Print a shell completion script for Bash/Zsh/Fish.

    \b
    Examples:
      source <(tm completion bash)
      source <(tm completion zsh)
      tm completion fish | source
    """
    prog = prog_name.strip() or "tm"
    click.echo(completion_script(shell.lower(), prog), nl=False)
