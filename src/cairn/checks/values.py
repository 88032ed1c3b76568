"""Metric values for checks: one FILE:KEY at a revision (workspace, commit), and the last K
values on a revision's first-parent history. Files are read as `metrics show` reads them (git
blob, or the cached output cairn.lock names), parsed once per content."""

from __future__ import annotations

import difflib
from typing import Any

from cairn.errors import CairnError, CheckError
from cairn.metrics import formats
from cairn.metrics.reader import Reader
from cairn.metrics.revisions import Rev


class Values:
    def __init__(self, repo) -> None:
        self.repo = repo
        self.reader = Reader(repo)

    def flat(self, rev: Rev, path: str) -> dict[str, Any] | None:
        """The metrics file at `rev` as flat keys; None when it is not there."""
        got = self.flat_many([rev], path)[rev.name]
        if isinstance(got, CairnError):
            raise got
        return got

    def flat_many(self, revs: list[Rev], path: str) -> dict[str, dict[str, Any] | CairnError | None]:
        """{rev name: flat keys, None (no file), or the error met reading it}; one fetch for all."""
        snaps = [self.reader.snapshot(r) for r in revs]
        found = self.reader.read_all([(s, path) for s in snaps])
        out: dict[str, dict[str, Any] | CairnError | None] = {}
        for snap in snaps:
            f = found[(snap.rev.name, path)]
            if f.error is not None:
                out[snap.rev.name] = f.error
                continue
            if f.data is None:
                out[snap.rev.name] = None
                continue
            data, where = f.data, snap.rev.where
            try:
                out[snap.rev.name] = self.reader.memo(
                    "metrics", f.key, lambda d=data, w=where: formats.read_metrics(d, path, w)
                )
            except CairnError as e:
                out[snap.rev.name] = e
        return out

    def number(self, rev: Rev, path: str, key: str, check: str, role: str = "") -> float:
        """The value of `key` in `path` at `rev`, as a number; CheckError saying what is wrong."""
        try:
            flat = self.flat(rev, path)
        except CairnError as e:
            raise CheckError(f"check {check!r}: {e.message}", e.hint) from None
        return number_in(flat, rev, path, key, check, role)

    def history(self, start: Rev, k: int, skip: str | None = None) -> list[Rev]:
        """The last `k` commits of `start`'s first-parent history, newest first, leaving out
        commit `skip` (the revision being checked: it is not its own history)."""
        import pygit2

        git = self.repo.git
        walker = git.repo.walk(start.commit, pygit2.enums.SortMode.TOPOLOGICAL)
        walker.simplify_first_parent()
        out: list[Rev] = []
        for commit in walker:
            if len(out) >= k:
                break
            cid = str(commit.id)
            if cid == skip:
                continue
            out.append(Rev(cid[:7], cid, commit.commit_time, commit.message.split("\n", 1)[0]))
        return out


def number_in(flat: dict[str, Any] | None, rev: Rev, path: str, key: str, check: str, role: str = "") -> float:
    at = f"{rev.where} (the {role})" if role else rev.where
    if flat is None:
        hint = (
            "run the stage that writes it (`cairn repro`) or `cairn pull` it, or fix the path in cairn.yaml `checks:`"
            if not role
            else "compare with a revision that has this file, or fix the path in cairn.yaml `checks:`"
        )
        raise CheckError(f"check {check!r}: {path} is missing {at}", hint)
    if key not in flat:
        known = sorted(flat)
        near = [k for k in known if k.endswith("." + key)] or difflib.get_close_matches(key, known, n=3)
        hint = f"did you mean {', '.join(near)}?" if near else f"its keys: {', '.join(known[:12]) or 'none'}"
        raise CheckError(f"check {check!r}: {path} has no key {key!r} {at}", hint)
    value = flat[key]
    if not formats.is_number(value):
        raise CheckError(
            f"check {check!r}: {path}:{key} is {_shown(value)} {at}, not a number",
            "a check compares numbers: name a numeric metric",
        )
    return value


def _shown(value: Any) -> str:
    from cairn.errors import shown

    return shown(value, 40)
