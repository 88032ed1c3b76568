"""`cairn remove`, `move`, `commit`, `freeze`, `unfreeze`: the everyday commands a DVC user
reaches for (docs/dvc.md maps them)."""

from __future__ import annotations

import click

from cairn.cli.data import json_option, opened
from cairn.cli.output import emit_json, say


@click.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--outs", is_flag=True, help="Delete the data (or the stage's outputs) from the workspace too.")
@json_option
def remove(targets: tuple[str, ...], outs: bool, as_json: bool) -> None:
    """Stop tracking TARGETS: a pointer file or tracked path (its pointer and .gitignore line go)
    or a stage of cairn.yaml (its definition, cairn.lock entry and outputs' .gitignore lines go).
    The data stays in the workspace unless --outs; the cache keeps it until `cairn gc`."""
    from cairn.repo.remove import remove as run

    with opened(as_json) as repo:
        done = run(repo, list(targets), outs)
    if as_json:
        emit_json(done)
        return
    for d in done:
        if d["kind"] == "data":
            say(f"removed {d['pointer']}" + (f" and {d['target']}" if d["deleted"] else f" ({d['target']} kept)"))
        else:
            kept = "" if outs or not d["outs"] else f" (outputs kept: {', '.join(d['outs'])})"
            say(f"removed stage {d['target']}{kept}")
    say("Commit the change with git (git add -A on the pointers, cairn.yaml, cairn.lock and .gitignore files).")


@click.command()
@click.argument("src")
@click.argument("dst")
@json_option
def move(src: str, dst: str, as_json: bool) -> None:
    """Move tracked data SRC to DST with its pointer; the .gitignore lines follow. DST may be
    an existing folder to move into, or end in `/` to name a folder (made when missing)."""
    from cairn.repo.move import move as run

    with opened(as_json) as repo:
        done = run(repo, src, dst)
    if as_json:
        emit_json(done)
        return
    say(f"moved {done['from']} -> {done['to']}")
    # --ignore-unmatch: the old pointer may never have been committed (a move right after add)
    say(
        f"git add {done['pointer']} && git rm --cached -q --ignore-unmatch {done['old_pointer']}"
        "  (and the .gitignore files)"
    )


@click.command()
@click.argument("targets", nargs=-1)
@json_option
def commit(targets: tuple[str, ...], as_json: bool) -> None:
    """Record data or stage outputs changed by hand, without rerunning: tracked paths get new
    pointers, stages a new cairn.lock entry from their deps, params and outputs as they are.
    Without TARGETS: every changed tracked path and every stale stage."""
    from cairn.repo.commit import commit as run

    with opened(as_json) as repo:
        done = run(repo, list(targets))
    if as_json:
        emit_json(done)
        return
    for d in done:
        what = d["target"] if d["kind"] == "data" else f"stage {d['target']}"
        say(f"committed {what}" if d["changed"] else f"{what}: unchanged")
    if not done:
        say("Nothing changed; nothing to commit.")


def _frozen(names: tuple[str, ...], frozen: bool, as_json: bool) -> None:
    from cairn.repo.freeze import set_frozen

    with opened(as_json) as repo:
        changed = set_frozen(repo, list(names), frozen)
    if as_json:
        emit_json({"changed": changed, "frozen": frozen})
        return
    word = "frozen" if frozen else "unfrozen"
    for n in names:
        say(f"stage {n}: {word}" if n in changed else f"stage {n}: already {word}")


@click.command()
@click.argument("stages", nargs=-1, required=True)
@json_option
def freeze(stages: tuple[str, ...], as_json: bool) -> None:
    """Freeze STAGES: `cairn repro` and `cairn status` treat them as up to date (`frozen: true`)."""
    _frozen(stages, True, as_json)


@click.command()
@click.argument("stages", nargs=-1, required=True)
@json_option
def unfreeze(stages: tuple[str, ...], as_json: bool) -> None:
    """Unfreeze STAGES: they run again when stale."""
    _frozen(stages, False, as_json)
