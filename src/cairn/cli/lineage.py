"""`cairn lineage`: where an output came from."""

from __future__ import annotations

import click

from cairn.cli.data import opened
from cairn.cli.output import emit_json


@click.command()
@click.argument("path")
@click.option("--rev", metavar="REV", help="Read the lineage at this git revision (default: HEAD).")
@click.option("--exp", "exp", metavar="NAME", help="Read the lineage of an experiment's run.")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON (format in docs/lineage.md).")
@click.option("--mermaid", is_flag=True, help="Print the graph as a Mermaid flowchart.")
@click.option("--dot", is_flag=True, help="Print the graph in Graphviz dot.")
def lineage(path: str, rev: str | None, exp: str | None, as_json: bool, mermaid: bool, dot: bool) -> None:
    """Show where PATH came from: the stage that wrote it, its params, code and inputs, followed
    down to source data, each with the commit its version came in with, and the commands that
    rebuild it."""
    from cairn.lineage import render
    from cairn.repo.lineage import lineage as build

    if sum((as_json, mermaid, dot)) > 1:
        raise click.UsageError("choose one of --json, --mermaid, --dot")
    with opened(as_json) as repo:
        doc = build(repo, path, rev, exp)
    if as_json:
        emit_json(doc)
    elif mermaid:
        click.echo(render.to_mermaid(doc))
    elif dot:
        click.echo(render.to_dot(doc))
    else:
        click.echo(render.to_text(doc))
