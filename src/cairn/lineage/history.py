"""When a version first appeared: walking first parents back from a commit while a value
(an object id, a lock entry) stays the same. The oldest commit still holding it is where it
came in."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from cairn.lineage.view import Shared, View

MAX_WALK = 100_000  # a bound against pathological histories; far above any real project's


def commit_info(commit) -> dict[str, Any]:
    tz = _dt.timezone(_dt.timedelta(minutes=commit.author.offset))
    when = _dt.datetime.fromtimestamp(commit.author.time, tz)
    return {
        "commit": str(commit.id),
        "author": commit.author.name,
        "email": commit.author.email,
        "date": when.isoformat(),
        "message": commit.message.split("\n", 1)[0],
    }


def first_seen(
    shared: Shared,
    start: str,
    value: Callable[[View], Any],
    key: Callable[[View], Any] | None = None,
    changes: Callable[[], set[str]] | None = None,
) -> tuple[str, str | None]:
    """(commit, gap): the oldest first-parent ancestor of `start` (itself included) from which
    on `value` stays what it is at `start`. `gap` names the commit where the walk had to stop
    because the value could not be read (a tree missing from the cache).

    `key` is a cheap stand-in (raw text, blob ids): the same key on two neighbouring commits
    means the same value, so `value` (which may parse a lock) only runs where the key changes
    or is None (unknown).

    With the lineage index, `changes` gives the commits that differ from their first parent in
    what decides the value, and the walk hops over every other commit without reading it."""
    if changes is not None and shared.index is not None:
        shared.index.ensure(start)  # before asking it what changed
        return _first_seen_indexed(shared, start, value, changes())
    want = value(shared.view(start))
    last = key(shared.view(start)) if key is not None else None
    found = start
    commit = shared.git.repo[start]
    for _ in range(MAX_WALK):
        if not commit.parent_ids:
            break
        parent = str(commit.parent_ids[0])
        view = shared.view(parent)
        k = key(view) if key is not None else None
        if k is None or k != last:
            try:
                got = value(view)
            except LookupError:
                return found, parent
            if got != want:
                break
        found, commit, last = parent, shared.git.repo[parent], k
    return found, None


def _first_seen_indexed(
    shared: Shared, start: str, value: Callable[[View], Any], changes: set[str]
) -> tuple[str, str | None]:
    want = value(shared.view(start))
    found = start
    for n, (commit, parent) in enumerate(shared.index.chain(start)):
        if n >= MAX_WALK:
            break
        if commit in changes:
            try:
                got = value(shared.view(parent))
            except LookupError:
                return found, parent
            if got != want:
                break
        found = parent
    return found, None
