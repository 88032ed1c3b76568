"""Data commands: init, add, status, diff, checkout, gc, fsck, unprotect, install-hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from cairn.cli.output import close_progress, emit_json, human_size, progress_for, say, verbosity
from cairn.repo import Repo

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@contextmanager
def opened(as_json: bool = False) -> Iterator[Repo]:
    progress = progress_for(as_json)
    repo = Repo.find(progress=progress)
    try:
        yield repo
    finally:
        close_progress(progress)
        repo.close()


@click.command()
@click.option("--no-scm", is_flag=True, help="Use cairn without git (no diff, no history for gc).")
@click.option("-f", "--force", is_flag=True, help="Re-initialize an existing cairn repository.")
def init(no_scm: bool, force: bool) -> None:
    """Set up cairn in this git repository: writes .cairn/config.toml and .cairn/.gitignore.

    Commit .cairn/config.toml and .cairn/.gitignore; the cache stays out of git."""
    repo = Repo.init(no_scm=no_scm, force=force)
    say(f"Initialized cairn in {repo.dot}")
    say("Commit it: git add .cairn && git commit -m 'Initialize cairn'")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--follow-symlinks/--no-follow-symlinks",
    default=None,
    help="Also store what symbolic links leading out of the repository point to (remembered in the "
    "pointer; --no-follow-symlinks stops it). Without it such links are skipped, with a warning.",
)
@json_option
def add(paths: tuple[str, ...], follow_symlinks: bool | None, as_json: bool) -> None:
    """Track PATHS (files or folders): cache their content and write PATH.cairn pointers.

    Each PATH goes into the .gitignore beside it; commit the pointer and the .gitignore.
    Files whose size, mtime and inode are unchanged since last time are not read again.
    Symbolic links inside a folder are followed when they lead to something else in the
    repository; links that lead outside it, nowhere, into .git/ or .cairn/, or round in a loop
    are skipped and listed."""
    with opened(as_json) as repo:
        results = repo.add(paths, follow_symlinks)
    if as_json:
        emit_json([r.__dict__ for r in results])
        return
    for r in results:
        what = f"{r.files} files, " if r.kind == "tree" else ""
        say(f"{'added' if r.changed else 'unchanged'} {r.path} ({what}{human_size(r.size)})")
    _warn_skipped(results)
    if any(r.changed for r in results):
        # two paths in one folder share its .gitignore: name it once
        files = " ".join(dict.fromkeys(f for r in results if r.changed for f in (r.pointer, gitignore_of(r.path))))
        say(f"\nTo track the changes with git, run:\n    git add {files}")


_SKIP_WHY = {
    "outside": "leads outside the repository",
    "dangling": "leads nowhere",
    "private": "leads into .git/ or .cairn/",
    "loop": "leads to a folder that holds it (a loop)",
}


def _warn_skipped(results) -> None:
    skipped = [s for r in results for s in r.skipped]
    limit = None if verbosity() > 0 else 10
    for s in skipped[:limit]:
        say(f"warning: skipped symbolic link {s['path']} -> {s['target']}: it {_SKIP_WHY[s['reason']]}", err=True)
    if limit is not None and len(skipped) > limit:
        say(f"warning: ... and {len(skipped) - limit} more skipped links (cairn -v add lists all)", err=True)
    outside = [r.path for r in results if any(s["reason"] == "outside" for s in r.skipped)]
    if outside:
        say(f"  hint: to store what they point to as well: cairn add --follow-symlinks {' '.join(outside)}", err=True)


def gitignore_of(rel: str) -> str:
    """The .gitignore that ignores the tracked path `rel` (the one in its folder)."""
    parent = rel.rpartition("/")[0]
    return f"{parent}/.gitignore" if parent else ".gitignore"


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; exit 1 if anything changed.")
@click.option("--remote", "with_remote", is_flag=True, help="Also compare the cache with the default remote.")
@click.option("-r", "remote_name", help="Compare with this remote (implies --remote).")
def status(targets: tuple[str, ...], as_json: bool, quiet: bool, with_remote: bool, remote_name: str | None) -> int:
    """Show what changed in tracked data against its pointers (all tracked paths by default).

    With --remote, also what exists only locally (push sends it) and only on the remote (pull
    gets it). Exit status is 0; with -q it is 1 when anything changed, for scripts."""
    with opened(as_json or quiet) as repo:
        results = repo.status(targets)
        has_pipeline = not targets and repo.has_pipeline()
        stages = repo.pipeline_status() if has_pipeline else {}
        # stale stages rerun and record the environment anew: only the others are worth a warning
        env = {k: v for k, v in repo.environment_changes().items() if k not in stages} if has_pipeline else {}
        remote = repo.remote_status(remote_name) if (with_remote or remote_name) else None
        conflicts = repo.merge_conflicts()
        imports = []  # imports whose source moved on; the sources are asked only when there are imports
        if remote is None and not quiet and any(repo.ws.load_pointer(p).source for p in repo.pointers(targets)):
            from cairn.repo.sharing import behind

            imports = behind(repo, list(targets) or None)
    if remote is not None:
        return _remote_status(results, remote, as_json, quiet)
    changed = any(r.changed for r in results) or bool(stages) or bool(conflicts)
    if quiet:
        return 1 if changed else 0
    if as_json:
        emit_json(
            {
                "changed": changed,
                "paths": [r.to_dict() for r in results],
                "stages": stages,
                "environment": env,
                "conflicts": conflicts,
                "imports": imports,
            }
        )
        return 0
    _merge_conflicts(conflicts)
    for i in imports:
        if i.get("error"):
            say(f"{i['path']}: cannot check its source {i['source']} ({i['error']})")
        else:
            say(f"{i['path']}: import behind its source {i['source']}; `cairn update {i['path']}` brings it")
    for name, why in stages.items():
        say(f"stage {name}: stale ({'; '.join(why)})")
    environment_warnings(env)
    if not results:
        if stages:
            say("No tracked data outside pipelines.")
        elif has_pipeline:
            say("Pipeline is up to date. No tracked data outside it.")
        else:
            say("No tracked data. Track some with `cairn add PATH`.")
        return 0
    limit = None if verbosity() > 0 else 10
    for r in results:
        if not r.changed:
            say(f"{r.path}: unchanged")
            continue
        counts = f"{len(r.added)} added, {len(r.modified)} modified, {len(r.deleted)} deleted"
        # a path missing as a whole has no file counts: "(0 added, 0 modified, 0 deleted)" misleads
        shown = f" ({counts})" if r.added or r.modified or r.deleted or not r.note else ""
        say(f"{r.path}: {r.state}{shown}" + (f" - {r.note}" if r.note else ""))
        for label in ("added", "modified", "deleted"):
            files = getattr(r, label)
            for f in files[:limit]:
                say(f"    {label + ':':10} {f}")
            if limit is not None and len(files) > limit:
                say(f"    ... and {len(files) - limit} more {label} (cairn -v status lists all)")
    if not changed and any(i.get("behind") for i in imports):
        # "up to date" right below "import behind its source" read as a contradiction
        say("\nThe workspace matches its pointers; `cairn update` brings the imports that are behind.")
    elif not changed:
        say("\nData and pipeline are up to date." if has_pipeline else "\nData is up to date.")
    elif any(r.changed for r in results):
        say("\n`cairn add` records changes; `cairn checkout` discards them.")
        if any(r.state == "deleted" and r.note for r in results):
            # a fresh clone: the data is missing because it was never pulled, not deleted
            say(
                "Data missing from the workspace: `cairn pull` gets it (`cairn checkout` if it is in the cache; "
                "`cairn update` for an import recorded with --no-download)."
            )
    return 0


def environment_warnings(changes: dict[str, list[str]]) -> None:
    """On stderr: each stage whose recorded environment differs from this one, and how."""
    limit = None if verbosity() > 0 else 5
    for name, what in changes.items():
        shown = ", ".join(what[:limit]) + (f", and {len(what) - limit} more" if limit and len(what) > limit else "")
        say(f"warning: stage {name} ran in another environment: {shown}", err=True)
    if changes:
        say("  (not stale: `env: strict` on a stage in cairn.yaml makes it so; `cairn env diff` shows all)", err=True)


def _merge_conflicts(conflicts: list[dict]) -> None:
    """Each conflicting path of an unfinished merge with both versions and the commit of each."""
    if not conflicts:
        return
    say(f"Unfinished merge: {len(conflicts)} conflicting path(s) in tracked data")
    for c in conflicts:
        say(f"  {c['path']}: {c['kind']}" + (f" ({c['reason']})" if c.get("reason") else ""))
        if c.get("hint"):
            say(f"      hint: {c['hint']}")
        for side in ("ours", "theirs"):
            v = c[side]
            if v is None:
                say(f"      {side:7} deleted")
                continue
            commit = f"{v['ref']} {v['commit'][:10]} {v['subject']!r}" if v.get("commit") else ""
            what = f"{v['kind']} " if v["kind"] != "file" else ""
            say(f"      {side:7} {what}{human_size(v['size'])}, oid {v['oid'][:12]}  {commit}")
    # what concludes it depends on what git was doing: the ref theirs came from says
    theirs_ref = next((c["theirs"]["ref"] for c in conflicts if c.get("theirs") and c["theirs"].get("ref")), None)
    conclude = {"REBASE_HEAD": "git rebase --continue", "CHERRY_PICK_HEAD": "git cherry-pick --continue"}.get(
        theirs_ref, "git commit"
    )
    say(f"Settle with `cairn merge resolve PATH --ours | --theirs | --both`, then `{conclude}`.\n")


def _remote_status(results, remote, as_json: bool, quiet: bool) -> int:
    changed = any(r.changed for r in results) or bool(remote.local_only or remote.remote_only or remote.missing)
    if quiet:
        return 1 if changed else 0
    if as_json:
        emit_json({"changed": changed, "paths": [r.to_dict() for r in results], "remote": remote.to_dict()})
        return 0
    for r in results:
        say(f"{r.path}: {r.state}")
    say(
        f"remote: {len(remote.local_only)} object(s) only local (`cairn push` sends them), "
        f"{len(remote.remote_only)} only on the remote (`cairn pull` gets them), {remote.both} in both"
    )
    if remote.missing:
        say(f"warning: {len(remote.missing)} referenced object(s) are in neither place", err=True)
    return 0


@click.command()
@click.argument("a", required=False)
@click.argument("b", required=False)
@json_option
def diff(a: str | None, b: str | None, as_json: bool) -> None:
    """Show file-level changes of tracked data from revision A (default HEAD) to revision B
    (default: the workspace). Identical subfolders are skipped, not walked."""
    from cairn.repo.notebooks import changes as notebook_changes

    with opened(as_json) as repo:
        changes = repo.diff(a, b)
        notebooks = notebook_changes(repo, a, b)  # cell by cell, for notebooks stages depend on
    if as_json:
        counts = {s: sum(1 for c in changes if c.status == s) for s in ("added", "deleted", "modified")}
        extra = {"notebooks": notebooks} if notebooks else {}
        emit_json({"changes": [c.to_dict() for c in changes], "counts": counts, **extra})
        return
    for c in changes:
        say(f"{c.status + ':':10} {c.path}")
    if notebooks:
        from cairn.cli.notebooks import show

        show(notebooks)
    if not changes and not notebooks:
        say("No changes.")
    elif changes:
        say(f"\n{len(changes)} file(s) changed")


@click.command()
@click.argument("targets", nargs=-1, type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Discard workspace changes that are not in the cache.")
@json_option
def checkout(targets: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Make tracked data match the pointers (after `git checkout` of another revision).

    Restores missing and changed files and removes files the version does not have. Refuses
    to overwrite changes that exist nowhere else unless --force."""
    with opened(as_json) as repo:
        results = repo.checkout(targets, force=force)
    if as_json:
        emit_json([r.__dict__ for r in results])
        return
    for r in results:
        if r.written or r.removed or r.folders:
            folders = f", {len(r.folders)} empty folder(s) created or removed" if r.folders else ""
            say(f"{r.path}: {len(r.written)} written, {len(r.removed)} removed{folders} ({r.link})")
        elif verbosity() > 0:
            say(f"{r.path}: up to date")
    if not any(r.written or r.removed or r.folders for r in results):
        say("Workspace already matches the pointers.")


class Duration(click.ParamType):
    """A span of time: 30 (seconds), 45m, 12h, 14d, 2w; 0 is none."""

    name = "duration"
    _UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip().lower()
        unit = self._UNITS.get(text[-1:], None)
        number = text[:-1] if unit else text
        try:
            seconds = float(number) * (unit or 1)
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            self.fail(f"{value!r} is not a duration; write it like 30m, 12h, 14d or 2w", param, ctx)
        return seconds


@click.command()
@click.option("-y", "--yes", is_flag=True, help="Really remove (without it, only report).")
@click.option("-r", "--remote", "remote_name", help="Collect garbage on this remote instead of the cache.")
@click.option("--force", is_flag=True, help="Remove even when referenced folder versions are missing.")
@click.option(
    "--grace",
    type=Duration(),
    default="14d",
    show_default=True,
    help="With --remote: keep every object written on the remote within this span, referenced or not.",
)
@click.option(
    "--forget-older-than",
    type=Duration(),
    help="With --remote: forget the root records of pushes older than this (e.g. 90d), so what only they kept goes.",
)
@click.option(
    "--forget-ref",
    "forget_refs",
    multiple=True,
    metavar="REF",
    help="With --remote: forget the root records of pushes made for this branch or tag (repeatable).",
)
@json_option
def gc(
    yes: bool,
    remote_name: str | None,
    force: bool,
    grace: float,
    forget_older_than: float | None,
    forget_refs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Remove cache objects that nothing references.

    Kept: everything the workspace pointers, any commit of any branch or tag, and any
    experiment reference. Without --yes this only reports what would go and how much space.

    With --remote NAME the same is done on that shared remote. There it also keeps what every
    branch and tag of the git remotes references, what every push recorded (its root record,
    until forgotten with --forget-older-than or --forget-ref), and everything written within
    --grace. It locks the remote while it deletes; pushes wait for it."""
    if remote_name:
        from cairn.remotes.gc import GcPolicy

        policy = GcPolicy(grace, forget_older_than, list(forget_refs))
        return _remote_gc(remote_name, yes, policy, as_json)
    if forget_older_than is not None or forget_refs:
        raise click.UsageError("--forget-older-than and --forget-ref apply to remote root records: add --remote NAME")
    with opened(as_json) as repo:
        plan = repo.gc_plan()
        removed = repo.gc(plan, force) if yes else 0  # even with nothing unused: gc also sweeps stale temp files
    if as_json:
        emit_json({**plan.to_dict(), "removed": removed})
        return
    if plan.missing_trees:
        say(f"note: {len(plan.missing_trees)} referenced folder version(s) are not in the cache", err=True)
    if not plan.unused:
        say(f"Nothing to remove ({plan.kept} objects in use).")
    elif yes:
        say(f"Removed {removed} objects, {human_size(plan.unused_bytes)} freed.")
    else:
        say(
            f"Would remove {len(plan.unused)} objects ({human_size(plan.unused_bytes)}); "
            f"{plan.kept} in use are kept.\nRun `cairn gc --yes` to remove them."
        )


def _remote_gc(name: str, yes: bool, policy, as_json: bool) -> None:
    with opened(as_json) as repo:
        plan = repo.remote_gc(name, policy, sweep=yes)
    if as_json:
        emit_json({**plan.to_dict(), "removed": plan.remove_objects if yes else 0})
        return
    extra = _remote_gc_extras(plan)
    for ref in plan.unmatched_refs:
        say(f"note: no push recorded on {name!r} was made for {ref!r}: --forget-ref {ref} forgets nothing", err=True)
    verb = "Forgot" if yes else "Would forget"
    for r in plan.forget:
        refs = ", ".join(r.refs) or "no ref"
        say(f"{verb} the root record of a push by {r.who} at {r.to_dict()['time']} ({refs}; {len(r.roots)} roots)")
    if not plan.anything():
        say(f"Nothing to remove on {name!r} ({plan.kept} objects in use).")
    elif yes:
        say(f"Removed {plan.remove_objects} objects from {name!r}, {human_size(plan.remove_bytes)} freed.")
        if extra:
            say(f"Also removed: {extra}.")
    else:
        say(
            f"Would remove {plan.remove_objects} objects ({human_size(plan.remove_bytes)}) from {name!r}; "
            f"{plan.kept} in use are kept."
        )
        if extra:
            say(f"Would also remove: {extra}.")
        say(f"Run `cairn gc --remote {name} --yes` (with the same options) to remove them.")
    if plan.young:
        say(
            f"note: {plan.young} unreferenced object(s) were written within the grace period and were kept "
            "(--grace to change it)",
            err=True,
        )
    if plan.young_orphans:
        say(
            f"note: {plan.young_orphans} pack(s) without an index are less than an hour old and were kept "
            "(a push may still be writing them)",
            err=True,
        )
    if plan.young_temps:
        say(
            f"note: {plan.young_temps} temporary file(s) are less than an hour old and were kept "
            "(a transfer may still be writing them)",
            err=True,
        )


def _remote_gc_extras(plan) -> str:
    parts = []
    if plan.damaged:
        parts.append(f"{len(plan.damaged)} damaged pack index(es) with their packs (push the objects again)")
    if plan.stale_indexes:
        parts.append(f"{len(plan.stale_indexes)} pack index(es) whose pack is gone")
    if plan.orphans:
        parts.append(f"{len(plan.orphans)} pack(s) left without an index by an interrupted push")
    if plan.temps:
        parts.append(f"{len(plan.temps)} temporary file(s) left by an interrupted transfer")
    if plan.runs:
        parts.append(f"{len(plan.runs)} run-cache entr{'y' if len(plan.runs) == 1 else 'ies'} of removed outputs")
    return ", ".join(parts)


@click.command()
@click.option("--delete-corrupt", is_flag=True, help="Delete corrupt objects (then `cairn pull`).")
@json_option
def fsck(delete_corrupt: bool, as_json: bool) -> int:
    """Re-hash every cache object; report corrupt ones and referenced ones that are missing.

    Exits 1 when anything is wrong."""
    with opened(as_json) as repo:
        report = repo.fsck(delete_corrupt)
    if as_json:
        emit_json(report.to_dict())
        return 0 if report.ok else 1
    for oid in report.corrupt:
        say(f"corrupt: {oid}" + (" (deleted)" if delete_corrupt else ""))
    for oid in report.missing:
        say(f"missing: {oid}")
    for oid in report.unreadable:
        say(f"unreadable: {oid} (permission denied; not deleted)")
    if report.ok:
        say(f"{report.checked} objects verified, all good.")
        return 0
    # --delete-corrupt is the step only when something is corrupt (missing objects need a pull alone)
    hint = (
        "run `cairn fsck --delete-corrupt`, then `cairn pull`"
        if report.corrupt and not delete_corrupt
        else "run `cairn pull` to restore them"
    )
    say(f"{report.checked} objects checked: {len(report.corrupt)} corrupt, {len(report.missing)} missing; {hint}")
    return 1


@click.command()
@click.argument("targets", nargs=-1, required=True, type=click.Path())
def unprotect(targets: tuple[str, ...]) -> None:
    """Replace linked (read-only, shared with the cache) files with writable copies."""
    with opened() as repo:
        done = repo.unprotect(targets)
    say(f"{len(done)} file(s) made writable." if done else "Nothing to unprotect: no linked files.")


@click.command("install-hooks")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing post-checkout and post-merge hooks.")
def install_hooks(force: bool) -> None:
    """Install git hooks that run `cairn checkout` after branch switches (post-checkout) and after
    merges and `git pull` (post-merge), and the merge driver (as `cairn merge setup` does)."""
    with opened() as repo:
        hooks, merge = repo.install_hooks(force)
    for hook in hooks:
        say(f"Installed {hook}")
    # .gitattributes was written too: say so, or it sits uncommitted and teammates lack it
    if merge.added:
        say(f"Added to {merge.attributes}: {'; '.join(merge.added)}")
        say(f"Commit it: git add {merge.attributes} && git commit -m 'Merge tracked data with cairn'")
    say(f"Registered git merge drivers {', '.join(merge.drivers)} in this clone's git config.")
