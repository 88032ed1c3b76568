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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "mermaid", "dot", "openlineage"]),
    help="Output format; `openlineage`: OpenLineage run events, one JSON object per line.",
)
@click.option(
    "--downstream",
    is_flag=True,
    help="Instead: every commit and experiment that consumed this version (PATH[@REV]) and what it produced.",
)
def lineage(
    path: str,
    rev: str | None,
    exp: str | None,
    as_json: bool,
    mermaid: bool,
    dot: bool,
    fmt: str | None,
    downstream: bool,
) -> None:
    """Show where PATH came from: the stage that wrote it, its params, code and inputs, followed
    down to source data, each with the commit its version came in with, and the commands that
    rebuild it. With --downstream, PATH[@REV] names a version and the answer is what used it."""
    from cairn.lineage import render
    from cairn.repo import lineage as lineage_mod

    if sum((as_json, mermaid, dot, fmt is not None)) > 1:
        raise click.UsageError("choose one of --json, --mermaid, --dot, --format")
    as_json, mermaid, dot = as_json or fmt == "json", mermaid or fmt == "mermaid", dot or fmt == "dot"
    with opened(as_json or fmt == "openlineage") as repo:
        build = lineage_mod.consumers if downstream else lineage_mod.lineage
        doc = build(repo, path, rev, exp)
        events = lineage_mod.openlineage(repo, doc, downstream) if fmt == "openlineage" else None
    if events is not None:
        import json

        for event in events:
            click.echo(json.dumps(event, separators=(",", ":")))
    elif as_json:
        emit_json(doc)
    elif mermaid or dot:
        graph = render.downstream_graph(doc) if downstream else doc
        click.echo(render.to_mermaid(graph) if mermaid else render.to_dot(graph))
    else:
        click.echo(render.downstream_text(doc) if downstream else render.to_text(doc))
