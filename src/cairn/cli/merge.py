"""`cairn merge setup | driver | resolve`: merging tracked data with git (docs/merge.md)."""

from __future__ import annotations

import sys

import click

from cairn.cli.data import json_option, opened
from cairn.cli.output import emit_json, say


@click.group()
def merge() -> None:
    """Merge tracked data with git: folders merge file by file, cairn.lock stage by stage.

    Run `cairn merge setup` once per clone; `git merge`, `rebase`, `cherry-pick` and `pull` then
    call the driver. Conflicts are listed by `cairn status` and settled with `cairn merge resolve`."""


@merge.command("setup")
@json_option
def merge_setup(as_json: bool) -> None:
    """Register the merge driver: .gitattributes lines (commit them) and this clone's git config.

    The git config is per clone: every clone runs this (or `cairn install-hooks`) once."""
    with opened(as_json) as repo:
        result = repo.merge_setup()
    if as_json:
        emit_json(result.__dict__)
        return
    if result.added:
        say(f"Added to {result.attributes}: {'; '.join(result.added)}")
        say(f"Commit it: git add {result.attributes} && git commit -m 'Merge tracked data with cairn'")
    say(f"Registered git merge drivers {', '.join(result.drivers)} in this clone's git config.")


@merge.command("driver")
@click.argument("base")
@click.argument("ours")
@click.argument("theirs")
@click.argument("path")
def merge_driver(base: str, ours: str, theirs: str, path: str) -> int:
    """What git runs (merge.cairn.driver): merge BASE, OURS and THEIRS of PATH into OURS.

    Exits 0 when merged, 1 on a conflict (recorded for `cairn status` and `cairn merge resolve`)."""
    with opened(True) as repo:
        result = repo.merge_driver(base, ours, theirs, path)
    if result.dropped:
        say(
            f"cairn: {path}: dropped stage(s) {', '.join(result.dropped)} (changed on both sides); "
            "`cairn repro` rebuilds them",
            err=True,
        )
    if result.clean:
        return 0
    say(f"cairn: CONFLICT in {path}: {len(result.conflicts)} path(s) cannot merge:", err=True)
    # paths as `cairn merge resolve` and `cairn status` take them (repository-relative), not
    # relative to the tracked folder
    top = path[: -len(".cairn")] if path.endswith(".cairn") else path
    for c in result.conflicts[:10]:
        say(f"    {c['kind']:15} {top + '/' + c['path'] if c['path'] else top + ' (the whole pointer)'}", err=True)
    if len(result.conflicts) > 10:
        say(f"    ... and {len(result.conflicts) - 10} more (`cairn status` lists all)", err=True)
    if result.reason:  # a whole-pointer conflict: why, and its own way out
        say(f"  {result.reason}", err=True)
    say(
        f"  hint: {result.hint}"
        if result.hint
        else "  settle them with `cairn merge resolve PATH --ours | --theirs | --both`",
        err=True,
    )
    sys.stdout.flush()
    return 1


@merge.command("resolve")
@click.argument("path", type=click.Path())
@click.option("--ours", is_flag=True, help="Keep our version (the branch you are on).")
@click.option("--theirs", is_flag=True, help="Keep their version (the branch merged in).")
@click.option("--both", is_flag=True, help="Keep both, side by side: NAME~ours.EXT and NAME~theirs.EXT.")
@json_option
def merge_resolve(path: str, ours: bool, theirs: bool, both: bool, as_json: bool) -> None:
    """Settle the merge conflicts at PATH (a file, or a folder: every conflict below it).

    What merged cleanly is kept; only the conflicting paths take the side chosen. After the
    last conflict of a pointer it is written and staged: `git commit` (or `git rebase
    --continue`) concludes the merge, `cairn pull` materialises the merged data."""
    # separate flags, not one option with three values: with those, `--ours --theirs` silently
    # took the last one given
    chosen = [name for name, on in (("ours", ours), ("theirs", theirs), ("both", both)) if on]
    if len(chosen) != 1:
        what = (
            "choose how to settle"
            if not chosen
            else "choose one way to settle, not " + " and ".join(f"--{c}" for c in chosen)
        )
        raise click.UsageError(f"{what}: --ours, --theirs or --both")
    side = chosen[0]
    with opened(as_json) as repo:
        result = repo.merge_resolve(path, side)
    if as_json:
        emit_json(result.__dict__)
        return
    for p in result.settled:
        say(f"settled {p} ({side})")
    for f in result.finished:
        say(f"wrote and staged {f}")
    if result.left:
        say(f"{result.left} conflict(s) left (`cairn status` lists them)")
    elif result.finished:
        # the other side's files are usually not in this cache yet: checkout alone fails (exit 4)
        say(
            "Run `git commit` (in a rebase or cherry-pick: `git rebase --continue`, `git cherry-pick --continue`) "
            "to conclude the merge, then `cairn pull` to bring the merged data "
            "(`cairn checkout` if the cache already has the other side's files)."
        )
