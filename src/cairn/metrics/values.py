"""params diff, metrics show, metrics diff and metrics trend.

Results carry the values that could be read and, separately, the problems (a broken file, an
invalid cairn.yaml, a cached file nowhere to be had) with their revision: one broken commit
does not hide the others. A value missing at a revision is reported as missing, not an error."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from cairn.errors import CairnError, PipelineError
from cairn.metrics import formats
from cairn.metrics.reader import Reader, Snapshot
from cairn.metrics.revisions import Rev, branch_history, resolve, workspace
from cairn.pipelines.params import DEFAULT_PARAMS
from cairn.pipelines.spec import PIPELINE_FILE

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()


@dataclass
class Problem:
    """An error met at revision `rev` (and at the revisions in `also`, which hold the very same
    broken content: one broken cairn.yaml in 50 commits is one problem)."""

    rev: Rev
    path: str | None
    error: CairnError
    also: list[Rev] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "rev": self.rev.name,
            "commit": self.rev.commit,
            "path": self.path,
            "code": self.error.code,
            "message": self.error.message,
            "hint": self.error.hint,
            "also": [r.name for r in self.also],
        }


class Problems(list):
    """Problems, merged by content: the same broken blob at many revisions is one entry."""

    def __init__(self) -> None:
        super().__init__()
        self._by_key: dict[tuple, Problem] = {}

    def add(self, rev: Rev, path: str | None, error: CairnError, key: str | None = None) -> None:
        slot = (path, key, type(error))
        if key is not None and slot in self._by_key:
            self._by_key[slot].also.append(rev)
            return
        problem = Problem(rev, path, error)
        if key is not None:
            self._by_key[slot] = problem
        self.append(problem)


# -- reading many revisions ------------------------------------------------------------------
def _declared(snap: Snapshot, which: str, problems: Problems) -> list[str]:
    try:
        return snap.metrics_files() if which == "metrics" else snap.params_files()
    except CairnError as e:
        problems.add(snap.rev, PIPELINE_FILE, e, snap.pipeline_key)
        # params.yaml needs no cairn.yaml to be found: a broken cairn.yaml must not turn its
        # changes into "No params changed"
        return [DEFAULT_PARAMS] if which == "params" and snap.exists(DEFAULT_PARAMS) else []


def collect(
    reader: Reader, revs: list[Rev], which: str, problems: Problems
) -> dict[str, dict[str, dict[str, Any] | None]]:
    """{rev name: {path: flat values, or None when the file is not there}} for metrics or params
    files declared at each revision."""
    snaps = [reader.snapshot(r) for r in revs]
    wanted = [(snap, path) for snap in snaps for path in _declared(snap, which, problems)]
    found = reader.read_all(wanted)
    parse = formats.read_metrics if which == "metrics" else formats.read_params
    out: dict[str, dict[str, dict[str, Any] | None]] = {r.name: {} for r in revs}
    for snap, path in wanted:
        f = found[(snap.rev.name, path)]
        if f.error is not None:
            problems.add(snap.rev, path, f.error, f.key)
            continue
        if f.data is None:
            out[snap.rev.name][path] = None
            continue
        data, where = f.data, snap.rev.where
        try:
            out[snap.rev.name][path] = reader.memo(which, f.key, lambda d=data, p=path, w=where: parse(d, p, w))
        except CairnError as e:
            problems.add(snap.rev, path, e, f.key)
    return out


# -- metrics show ----------------------------------------------------------------------------
@dataclass
class MetricsShow:
    revisions: list[Rev]
    values: dict[str, dict[str, dict[str, Any] | None]]  # rev name -> path -> key -> value
    problems: list[Problem] = field(default_factory=list)

    def columns(self) -> list[tuple[str, str]]:
        """Every (path, key) seen, in first-seen order."""
        seen: dict[tuple[str, str], None] = {}
        for rev in self.revisions:
            for path, flat in self.values[rev.name].items():
                for key in flat or {}:
                    seen[(path, key)] = None
        return list(seen)

    def to_dict(self) -> dict:
        return {
            "revisions": [{**r.to_dict(), "files": self.values[r.name]} for r in self.revisions],
            "errors": [p.to_dict() for p in self.problems],
        }


def metrics_show(repo, revs: list[Rev] | None = None, reader: Reader | None = None) -> MetricsShow:
    revs = revs or [workspace()]
    problems = Problems()
    values = collect(reader or Reader(repo), revs, "metrics", problems)
    return MetricsShow(revs, values, problems)


# -- diffs -----------------------------------------------------------------------------------
@dataclass
class DiffRow:
    path: str
    key: str
    old: Any  # MISSING when absent at the old revision
    new: Any
    numeric: bool = True  # whether a change is computed (metrics only)

    @property
    def status(self) -> str:
        if self.old is MISSING:
            return "added"
        if self.new is MISSING:
            return "removed"
        return "unchanged" if _same(self.old, self.new) else "modified"

    @property
    def change(self) -> float | int | None:
        if self.numeric and formats.is_number(self.old) and formats.is_number(self.new):
            change = self.new - self.old
            # 0.83 - 0.81 is 0.019999999999999907 in binary floating point: keep 12 digits
            return float(f"{change:.12g}") if isinstance(change, float) else change
        return None

    def to_dict(self, with_change: bool) -> dict:
        d = {
            "path": self.path,
            "key": self.key,
            "old": None if self.old is MISSING else self.old,
            "new": None if self.new is MISSING else self.new,
            "status": self.status,
        }
        if with_change:
            d["change"] = self.change
        return d


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or (formats.is_number(a) and formats.is_number(b) and a == b)


@dataclass
class Diff:
    kind: str  # metrics | params
    old: Rev
    new: Rev
    rows: list[DiffRow]
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "diff": [r.to_dict(self.kind == "metrics") for r in self.rows],
            "errors": [p.to_dict() for p in self.problems],
        }


def _diff(repo, kind: str, a: str | None, b: str | None, show_all: bool) -> Diff:
    old = resolve(repo, a or "HEAD", f"{kind} diff")
    new = resolve(repo, b, f"{kind} diff") if b else workspace()
    problems = Problems()
    values = collect(Reader(repo), [old, new], kind, problems)
    left, right = values[old.name], values[new.name]
    rows: list[DiffRow] = []
    for path in dict.fromkeys([*left, *right]):
        lv, rv = left.get(path) or {}, right.get(path) or {}
        for key in dict.fromkeys([*lv, *rv]):
            row = DiffRow(path, key, lv.get(key, MISSING), rv.get(key, MISSING), numeric=kind == "metrics")
            if show_all or row.status != "unchanged":
                rows.append(row)
    return Diff(kind, old, new, rows, problems)


def metrics_diff(repo, a: str | None = None, b: str | None = None, show_all: bool = False) -> Diff:
    """Metrics that differ from revision `a` (default HEAD) to `b` (default the workspace)."""
    return _diff(repo, "metrics", a, b, show_all)


def params_diff(repo, a: str | None = None, b: str | None = None, show_all: bool = False) -> Diff:
    """Params that differ from revision `a` (default HEAD) to `b` (default the workspace)."""
    return _diff(repo, "params", a, b, show_all)


# -- trend -----------------------------------------------------------------------------------
@dataclass
class Trend:
    path: str
    key: str
    points: list[tuple[Rev, Any]]  # newest first; MISSING where the commit lacks the metric
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "key": self.key,
            "points": [
                {
                    "commit": r.commit,
                    "short": r.short,
                    "date": r.date,
                    "subject": r.subject,
                    "value": None if v is MISSING else v,
                    "missing": v is MISSING,
                }
                for r, v in self.points
            ],
            "errors": [p.to_dict() for p in self.problems],
        }


def metrics_trend(repo, key: str, last: int = 20) -> Trend:
    """One metric across the last `last` commits of the current branch. `key` is `train.loss`,
    or `PATH:train.loss` when several metrics files have that key."""
    revs = branch_history(repo, last, "metrics trend")
    shown = metrics_show(repo, revs)
    columns = shown.columns()
    path, _, name = key.partition(":") if ":" in key else ("", "", key)
    if path and not any(p == path for p, _ in columns):
        path, name = "", key  # a key that contains ':' itself
    matches = sorted({p for p, k in columns if k == name and (not path or p == path)})
    if not matches:
        known = sorted({k for _, k in columns})
        near = [k for k in known if k.endswith("." + name)] or difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(near)}?" if near else f"metrics: {', '.join(known[:12]) or 'none'}"
        raise PipelineError(f"no metric {key!r} in the last {len(revs)} commits", hint)
    if len(matches) > 1:
        raise PipelineError(
            f"metric {name!r} is in several files: {', '.join(matches)}",
            f"name one as FILE:KEY, e.g. `cairn metrics trend {matches[0]}:{name}`",
        )
    path = matches[0]
    points = []
    for rev in revs:
        flat = shown.values[rev.name].get(path) or {}
        points.append((rev, flat.get(name, MISSING)))
    return Trend(path, name, points, shown.problems)
