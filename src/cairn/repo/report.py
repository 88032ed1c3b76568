"""`cairn report`: checks, metrics and params diffs, tracked data that changed, the stages that
reran (cairn.lock compared), the lineage of the models they wrote and the declared plots as PNG,
from a baseline to a revision (the workspace by default), written as Markdown (plots beside it)
or as one self-contained HTML page. A section that cannot be read becomes a note: a report of
what could be read is worth more to a pull request than none."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.checks import html as html_mod
from cairn.checks import markdown
from cairn.checks.report import DataChange, PlotImage, Report, StageChange
from cairn.errors import CairnError
from cairn.index import pointer as ptr
from cairn.metrics.revisions import Rev, resolve, workspace
from cairn.pipelines import lock as lock_mod
from cairn.repo.checks import baseline_rev, run_checks

if TYPE_CHECKING:
    from cairn.repo.repo import Repo

DEFAULT_DIR = "cairn_report"
DEFAULT_BASELINE = "HEAD"
MAX_LINEAGE = 10  # models summarized: a pipeline writing more is summarized by its first ten


@dataclass
class Written:
    page: Path
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"page": str(self.page), "files": [str(f) for f in self.files]}


def build(repo: Repo, baseline: str | None = None, rev: str | None = None, plots: bool = True) -> Report:
    """Everything the report shows, from `baseline` (default HEAD) to `rev` (default the
    workspace). `baseline` given also replaces the checks' own baselines, as `cairn check
    --baseline` does."""
    target = resolve(repo, rev, "report") if rev else workspace()
    base = baseline_rev(repo, baseline or DEFAULT_BASELINE)
    checks = run_checks(repo, rev, baseline)
    report = Report(target, base, checks)
    _diffs(repo, report)
    _data(repo, report)
    _stages(repo, report)
    if plots:
        _plots(repo, report)
    return report


def write(report: Report, out_dir: Path, as_html: bool = False) -> Written:
    out_dir.mkdir(parents=True, exist_ok=True)
    if as_html:
        return Written(_write(out_dir / "report.html", html_mod.render(report).encode()))
    written = Written(out_dir / "report.md")
    for p in report.plots:
        written.files.append(_write(out_dir / p.file, p.png))
    _write(written.page, markdown.render(report).encode())
    return written


def _write(target: Path, data: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


# -- sections ---------------------------------------------------------------------------------
def _name(rev: Rev) -> str | None:
    return rev.commit  # None: the workspace


def _diffs(repo: Repo, report: Report) -> None:
    from cairn.metrics.values import metrics_diff, params_diff

    assert report.baseline is not None
    for kind, diff in (("metrics", metrics_diff), ("params", params_diff)):
        d = diff(repo, report.baseline.commit, _name(report.rev))
        setattr(report, kind, d.rows)
        report.notes += [f"{kind}: {p.error.message}" for p in d.problems]


def _data(repo: Repo, report: Report) -> None:
    from cairn.workspace import diff as diff_op

    assert report.baseline is not None and report.baseline.commit is not None
    git = repo._need_git("report")
    try:
        old = diff_op.versions_from_pointers(git.files_with_suffix(report.baseline.commit, ptr.SUFFIX), "baseline")
        if report.rev.commit is None:
            new, trees = diff_op.versions_in_workspace(repo.ws, repo.pointers())
        else:
            new, trees = diff_op.versions_from_pointers(git.files_with_suffix(report.rev.commit, ptr.SUFFIX), "rev"), {}
        changes = diff_op.diff_versions(repo.ws, old, new, trees)
    except CairnError as e:
        report.notes.append(f"data: {e.message}" + (f" ({e.hint})" if e.hint else ""))
        return
    roots = sorted(old.keys() | new.keys(), key=len, reverse=True)
    per: dict[str, DataChange] = {}
    for c in changes:
        root = next((r for r in roots if c.path == r or c.path.startswith(r + "/")), c.path)
        d = per.setdefault(root, DataChange(root))
        counter = _COUNTERS[c.status]
        setattr(d, counter, getattr(d, counter) + 1)
        d.bytes += c.size or 0
    report.data = [per[k] for k in sorted(per)]


_COUNTERS = {"added": "added", "deleted": "removed", "modified": "modified"}


def _lock(repo: Repo, rev: Rev) -> dict[str, lock_mod.StageLock]:
    if rev.commit is None:
        return lock_mod.read(repo.root)
    data = repo.git.read_file(rev.commit, lock_mod.LOCK_FILE)
    return lock_mod.parse(data.decode(), f"{lock_mod.LOCK_FILE} ({rev.where})") if data else {}


def _stages(repo: Repo, report: Report) -> None:
    assert report.baseline is not None
    try:
        old, new = _lock(repo, report.baseline), _lock(repo, report.rev)
    except CairnError as e:
        report.notes.append(f"stages: {e.message}")
        return
    for name in dict.fromkeys([*new, *old]):
        a, b = old.get(name), new.get(name)
        if a is None:
            report.stages.append(StageChange(name, "added"))
        elif b is None:
            report.stages.append(StageChange(name, "removed"))
        elif a.to_dict() != b.to_dict():
            da, db = a.to_dict(), b.to_dict()
            changed = [k for k in ("cmd", "deps", "params", "outs", "env") if da.get(k) != db.get(k)]
            report.stages.append(StageChange(name, "reran", changed))
    _lineage(repo, report, new)


def _lineage(repo: Repo, report: Report, lock: dict[str, lock_mod.StageLock]) -> None:
    """Where each output of a stage that reran came from (cairn.lineage reads git and locks:
    a commit, so the workspace's uncommitted runs are summarized at HEAD)."""
    from cairn.lineage.upstream import upstream
    from cairn.repo.lineage import context, shared

    ran = [s.name for s in report.stages if s.status != "removed"]
    if not ran:
        return
    at = report.rev.commit or "HEAD"
    if report.rev.commit is None:
        report.notes.append("lineage is read at HEAD: runs in the workspace are not committed yet")
    try:
        ctx = context(repo, at, None)
        committed = _lock(repo, Rev(at, ctx.commit))
    except CairnError as e:
        report.notes.append(f"lineage: {e.message}")
        return
    metric_like = _metric_outs(repo, report.rev)
    targets = [(s, o.path) for s in ran for o in (committed.get(s) or lock.get(s) or _empty()).outs]
    targets = [(s, p) for s, p in targets if p not in metric_like]
    walks = shared(repo, sync=False)  # one lineage index and one set of parsed locks for every output
    for stage, path in targets[:MAX_LINEAGE]:
        try:
            doc = upstream(walks, ctx, path)
        except CairnError as e:
            report.notes.append(f"lineage of {path}: {e.message}")
            continue
        report.lineage.append(_summary(doc, path, stage))
    if len(targets) > MAX_LINEAGE:
        report.notes.append(f"lineage: {len(targets) - MAX_LINEAGE} more output(s) not summarized")


def _empty() -> lock_mod.StageLock:
    return lock_mod.StageLock(cmd=[])


def _metric_outs(repo: Repo, rev: Rev) -> set[str]:
    """Metrics and plots files: outputs, but not models."""
    from cairn.metrics.reader import Reader

    try:
        pipe = Reader(repo).snapshot(rev).pipeline()
    except CairnError:
        return set()
    if pipe is None:
        return set()
    return {o.path for s in pipe.stages.values() for o in s.outs if o.kind != "outs"}


def _summary(doc: dict[str, Any], path: str, stage: str) -> dict[str, Any]:
    info = next((s for s in doc.get("stages") or [] if s.get("name") == doc.get("stage")), {})
    params = {k: v for values in (info.get("params") or {}).values() for k, v in values.items()}
    return {
        "path": path,
        "stage": doc.get("stage") or stage,
        "cmd": info.get("cmd"),
        "inputs": list(info.get("deps") or []),
        "params": params,
        "sources": [n["path"] for n in doc.get("nodes") or [] if n.get("tracked") == "pointer"],
        "commit": doc.get("commit"),
        "rebuild": doc.get("rebuild"),
    }


def _plots(repo: Repo, report: Report) -> None:
    from cairn.metrics.plots import plots as collect
    from cairn.metrics.render import png, slug

    assert report.baseline is not None
    revs = [report.baseline, report.rev] if report.baseline.name != report.rev.name else [report.rev]
    result = collect(repo, revs)
    report.notes += [f"plots: {p.error.message}" for p in result.problems]
    task = repo.progress.task("Rendering plots", total=len(result.charts), unit="plots")
    used: set[str] = set()
    try:
        for chart in result.charts:
            name, n = slug(chart.id), 1
            while name in used:
                n += 1
                name = f"{slug(chart.id)}-{n}"
            used.add(name)
            try:
                data = png(chart.spec)
            except CairnError as e:
                report.notes.append(f"plot {chart.id}: {e.message}")
                continue
            finally:
                task.advance()
            report.plots.append(PlotImage(chart.id, chart.title, f"plots/{name}.png", data))
    finally:
        task.close()
