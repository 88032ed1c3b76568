"""`cairn completion SHELL`: print the completion script (click's own shell completion)."""

from __future__ import annotations

import click


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL. For bash:  eval "$(cairn completion bash)"."""
    from click.shell_completion import get_completion_class

    from cairn.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "cairn", "_CAIRN_COMPLETE").source())
