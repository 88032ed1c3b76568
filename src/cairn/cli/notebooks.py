"""`cairn notebooks setup | run | export | diff | clean`: Jupyter notebooks with git and the
pipeline (docs/notebooks.md)."""

from __future__ import annotations

import sys

import click

from cairn.cli.output import emit_json, say

# cairn.cli.data (and with it the Repo) is imported inside the commands: git starts
# `cairn notebooks clean` once per notebook it looks at, so this module must load fast
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.group()
def notebooks() -> None:
    """Jupyter notebooks: readable git diffs and merges, outputs kept out of git, notebooks as
    pipeline stages (`notebook:` in cairn.yaml) and their executed copies as HTML.

    Needs the notebooks extra: pip install 'cairn[notebooks]'."""


@notebooks.command("setup")
@click.option("--undo", is_flag=True, help="Remove the git config and the .gitattributes line again.")
@json_option
def setup(undo: bool, as_json: bool) -> None:
    """Make git diff and merge .ipynb files through nbdime's drivers and store them without
    outputs (a clean filter; your workspace copy keeps its outputs).

    Writes one .gitattributes line (commit it) and this clone's git config: every clone runs
    this once."""
    from cairn.cli.data import opened
    from cairn.repo import notebooks as nb_mod

    with opened(as_json) as repo:
        result = nb_mod.setup(repo, undo)
    if as_json:
        emit_json(result.__dict__)
        return
    if undo:
        say(f"Removed from this clone's git config: {', '.join(result.config) or 'nothing (was not set)'}")
        if result.changed:
            say(f"Removed the notebook line from {result.attributes}; commit it.")
        return
    say("git diff and git merge of *.ipynb now go through nbdime; notebooks are stored without outputs.")
    if result.changed:
        say(f"Commit the new line: git add {result.attributes} && git commit -m 'Notebooks through nbdime'")
    if result.renormalize:
        say(f"{len(result.renormalize)} committed notebook(s) still hold outputs: {', '.join(result.renormalize)}")
        say("  store them without: git add --renormalize -- '*.ipynb' && git commit -m 'Notebooks without outputs'")


@notebooks.command("clean")
def clean() -> None:
    """The git clean filter: a notebook on stdin, its stored form (no outputs, execution counts
    or volatile metadata) on stdout. Git runs it; `cairn notebooks setup` registers it."""
    from cairn.notebooks.clean import clean_bytes

    sys.stdout.buffer.write(clean_bytes(sys.stdin.buffer.read()))
    sys.stdout.buffer.flush()


@notebooks.command("run")
@click.argument("notebook", type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(), help="Where the executed notebook goes.")
@click.option(
    "-p",
    "--params",
    "specs",
    multiple=True,
    metavar="FILE[:KEY,...]",
    help="Inject these params (every top-level key of FILE, or the keys named); repeatable.",
)
@click.option("--kernel", help="Jupyter kernel to run on (default: the notebook's own).")
def run(notebook: str, out: str, specs: tuple[str, ...], kernel: str | None) -> None:
    """Execute NOTEBOOK with papermill into OUT, params injected after its `parameters` cell.

    This is the command a `notebook:` stage of cairn.yaml runs; use `cairn repro` rather than
    calling it yourself."""
    from cairn.repo import notebooks as nb_mod

    done = nb_mod.run_stage(notebook, out, list(specs), kernel)
    names = ", ".join(f"{k}={v!r}" for k, v in done.parameters.items()) or "none"
    say(f"executed {done.notebook} on kernel {done.kernel} ({done.cells} code cells; params: {names}) -> {done.out}")


@notebooks.command("export")
@click.argument("notebook")
@click.option(
    "--rev", required=True, metavar="REV", help="The git revision (or experiment name) whose recorded run to export."
)
@click.option("-o", "--out", type=click.Path(), help="HTML file to write (default: NAME.html here).")
@json_option
def export(notebook: str, rev: str, out: str | None, as_json: bool) -> None:
    """Write the executed notebook of the run recorded at REV as one HTML page that works offline.

    NOTEBOOK is a `notebook:` stage's notebook (or its executed copy); the executed version comes
    from the cache (or the default remote)."""
    from cairn.cli.data import opened
    from cairn.repo import notebooks as nb_mod

    with opened(as_json) as repo:
        result = nb_mod.export(repo, notebook, rev, out)
    if as_json:
        emit_json(result)
        return
    say(f"Wrote {result['html']}: {result['notebook']} as run at {rev} (stage {result['stage']})")


@notebooks.command("diff")
@click.argument("a", required=False)
@click.argument("b", required=False)
@json_option
def diff(a: str | None, b: str | None, as_json: bool) -> None:
    """Cell-by-cell changes of the notebooks stages depend on, from revision A (default HEAD)
    to B (default: the workspace). `cairn diff` and `cairn exp diff` show them too."""
    from cairn.cli.data import opened
    from cairn.repo import notebooks as nb_mod

    with opened(as_json) as repo:
        changes = nb_mod.changes(repo, a, b)
    if as_json:
        emit_json(changes)
        return
    show(changes)
    if not changes:
        say("No notebook changes.")


def show(changes: list[dict]) -> None:
    """Human output of notebook cell changes (also used by `cairn diff` and `cairn exp diff`)."""
    for nb in changes:
        say(f"notebook {nb['path']}:")
        for cell in nb["cells"]:
            say(f"  cell {cell['cell']} ({cell['type']}) {cell['change']}")
            for line in cell["diff"].splitlines()[2:]:  # the ---/+++ header says nothing here
                say(f"    {line}")
