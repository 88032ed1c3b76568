"""`cairn cache dir | info | prune | clean`: the per-user cache (cairn.usercache), not a repository's data."""

from __future__ import annotations

import time
from typing import Any

import click

from cairn.cli.output import emit_json, human_size, say, verbosity

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
dry_run_option = click.option("-n", "--dry-run", is_flag=True, help="Only list what would be removed.")


@click.group()
def cache() -> None:
    """The per-user cache of other repositories and environments: NOT your data.

    cairn keeps, per user ($XDG_CACHE_HOME/cairn, else ~/.cache/cairn), the source repositories
    `cairn ls/get/import/update` and `--repo` reads come from (bare clones without file contents),
    indexes of what their data remotes hold, the machine part of environment records and, on a
    cluster node, each project's node cache. All of it is rebuilt on the next read when deleted.
    Entries unused for 30 days are pruned whenever a new source repository is cloned
    ($CAIRN_USER_CACHE_MAX_AGE: another age, or `never`).

    Your tracked data lives in each repository's .cairn/cache, which `cairn gc` cleans; these
    commands never touch it. An entry another cairn process is reading right now is never removed."""


@cache.command("dir")
def cache_dir() -> None:
    """Print the per-user cache folder."""
    from cairn.usercache import root

    click.echo(str(root()))


@cache.command("info")
@json_option
def cache_info(as_json: bool) -> None:
    """Show what the per-user cache holds: each kind's entries, bytes and last use (-v: every entry)."""
    from cairn.usercache.entries import info

    doc = info()
    if as_json:
        emit_json(doc)
        return
    say(f"per-user cache: {doc['dir']} ({human_size(doc['bytes'])})")
    for kind, k in doc["kinds"].items():
        last = f", last used {_ago(k['last_used'])}" if k["last_used"] else ""
        say(f"  {kind + ':':<13}{k['entries']} entries, {human_size(k['bytes'])}{last}")
        if verbosity() > 0:
            for e in (e for e in doc["entries"] if e["kind"] == kind):
                what = e["source"] or e["name"]
                say(f"    {what}  {human_size(e['bytes'] or 0)}, last used {_ago(e['last_used'])}")
    if doc["leftovers"]:
        say(f"  {len(doc['leftovers'])} leftovers of interrupted removals (`cairn cache prune` deletes them)")
    age = doc["auto_prune_after_seconds"]
    say(
        "entries unused for "
        + (f"{_days(age)} are pruned when a new source is cloned" if age is not None else "long are never pruned")
        + " ($CAIRN_USER_CACHE_MAX_AGE)"
    )


@cache.command("prune")
@click.option(
    "--older-than",
    "older_than",
    metavar="DURATION",
    help="Remove entries not used for this long: 30d, 12h, 2w, 0 (default: 30d, or $CAIRN_USER_CACHE_MAX_AGE).",
)
@dry_run_option
@json_option
def cache_prune(older_than: str | None, dry_run: bool, as_json: bool) -> None:
    """Remove per-user cache entries (source repositories, remote indexes, environment files,
    cluster node caches) not used for DURATION. Entries in use by another cairn process stay."""
    from cairn.usercache import DEFAULT_MAX_AGE, auto_max_age, parse_duration

    # `never` turns the automatic prune off, not this one
    age = parse_duration(older_than) if older_than is not None else auto_max_age() or DEFAULT_MAX_AGE
    _prune(age, dry_run, as_json)


@cache.command("clean")
@dry_run_option
@json_option
def cache_clean(dry_run: bool, as_json: bool) -> None:
    """Remove all of the per-user cache (entries in use by another cairn process stay)."""
    _prune(0.0, dry_run, as_json)


def _prune(age: float, dry_run: bool, as_json: bool) -> None:
    from cairn.usercache.prune import prune

    result = prune(age, dry_run=dry_run)
    doc = result.doc(age, dry_run)
    if as_json:
        emit_json(doc)
        return
    verb = "would remove" if dry_run else "removed"
    for e in doc["removed"]:
        what = e["source"] or human_size(e["bytes"] or 0)
        say(f"{verb} {e['kind']}/{e['name']} ({what}), last used {_ago(e['last_used'])}")
    for e in doc["in_use"]:
        say(f"kept {e['kind']}/{e['name']}: in use by another cairn process")
    total = f"{len(doc['removed'])} entries, {human_size(doc['bytes_removed'])}"
    left = f" and {len(doc['leftovers'])} leftovers" if doc["leftovers"] else ""
    say(f"{verb} {total}{left}; {doc['kept']} entries kept")


def _ago(stamp: Any) -> str:
    from datetime import datetime

    if not stamp:
        return "never"
    seconds = time.time() - datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    return f"{_days(max(seconds, 0))} ago"


def _days(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
