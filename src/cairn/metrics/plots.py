"""plots show / plots diff: the plots cairn.yaml declares (top-level `plots:` and stage
`plots:`), or files named on the command line, as charts (csv/tsv/json/yaml series) and image
sets (png/jpg/gif/svg, side by side per revision), for one or more revisions."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from cairn.errors import CairnError, PathError, PipelineError
from cairn.metrics import formats, vega
from cairn.metrics.reader import PlotDef, Reader, Snapshot
from cairn.metrics.revisions import Rev, resolve, workspace
from cairn.metrics.values import Problems
from cairn.pipelines.spec import PIPELINE_FILE


@dataclass
class Chart:
    id: str  # the file's repo-relative path
    title: str
    template: str
    spec: dict[str, Any]
    revisions: list[str]

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "template": self.template, "revisions": self.revisions,
                "spec": self.spec}  # fmt: skip


@dataclass
class Image:
    rev: str
    mime: str
    data: bytes


@dataclass
class ImageSet:
    id: str
    images: list[Image]

    def to_dict(self) -> dict:
        return {"id": self.id, "revisions": [i.rev for i in self.images]}


@dataclass
class Plots:
    revisions: list[Rev]
    charts: list[Chart] = field(default_factory=list)
    images: list[ImageSet] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a revision left out of one chart, and why
    problems: Problems = field(default_factory=Problems)

    def to_dict(self) -> dict:
        return {
            "revisions": [r.to_dict() for r in self.revisions],
            "charts": [c.to_dict() for c in self.charts],
            "images": [i.to_dict() for i in self.images],
            "notes": self.notes,
            "errors": [p.to_dict() for p in self.problems],
        }


def diff_revisions(repo, revs: list[str]) -> list[Rev]:
    """`plots diff` revisions: none -> HEAD and the workspace; one -> it and the workspace."""
    names = list(revs) or ["HEAD"]
    chosen = [resolve(repo, r, "plots diff") for r in names]
    if len(names) == 1 and chosen[0].commit is not None:
        chosen.append(workspace())
    return list({r.name: r for r in chosen}.values())


def plots(repo, revs: list[Rev] | None = None, targets: list[str] | None = None) -> Plots:
    """Charts and image sets for `targets` (repo-relative paths; all declared plots when none)
    at `revs` (default the workspace), oldest revision first."""
    revs = revs or [workspace()]
    result = Plots(revs)
    reader = Reader(repo)
    snaps = [reader.snapshot(r) for r in revs]
    defs = _definitions(snaps, result.problems)
    if targets:
        defs = _select(defs, targets, snaps)
    files = _expand(defs, snaps)
    found = reader.read_all([(snap, path) for path in files for snap in snaps])
    for path, props in files.items():
        present = []
        for snap in snaps:
            f = found[(snap.rev.name, path)]
            if f.error is not None:
                result.problems.add(snap.rev, path, f.error, f.key)
            elif f.data is not None:
                present.append((snap, f.data, f.key))
        if not present:
            result.notes.append(f"{path} is in none of the revisions shown")
            continue
        if formats.is_image(path):
            mime = formats.IMAGE_TYPES[formats.suffix(path)]
            result.images.append(ImageSet(path, [Image(s.rev.name, mime, data) for s, data, _ in present]))
            continue
        try:
            chart = _chart(reader, path, props, present, result)
        except CairnError as e:
            result.problems.add(present[-1][0].rev, path, e)
            continue
        if chart is not None:
            result.charts.append(chart)
    if not defs and not result.problems:
        result.notes.append("no plots: declare them in cairn.yaml (`plots:` at the top or in a stage), or name files")
    return result


def _definitions(snaps: list[Snapshot], problems: Problems) -> dict[str, dict[str, Any]]:
    """Plots declared at any of the revisions; settings from the newest revision declaring each."""
    defs: dict[str, dict[str, Any]] = {}
    for snap in snaps:
        try:
            declared: list[PlotDef] = snap.plot_defs()
        except CairnError as e:
            problems.add(snap.rev, PIPELINE_FILE, e, snap.pipeline_key)
            continue
        for d in declared:
            defs[d.path] = dict(d.props)
    return defs


def _select(defs: dict[str, dict[str, Any]], targets: list[str], snaps: list[Snapshot]) -> dict[str, dict[str, Any]]:
    chosen: dict[str, dict[str, Any]] = {}
    for t in targets:
        t = t.rstrip("/")
        hits = {p: props for p, props in defs.items() if p == t or p.startswith(t + "/")}
        if not hits:
            # a file cairn.yaml does not declare: plot it with the defaults, if it exists anywhere
            if not any(snap.locate(t).kind not in ("missing", "error") for snap in snaps):
                declared = ", ".join(defs) or "none"
                raise PathError(f"{t} does not exist in any of the revisions shown", f"declared plots: {declared}")
            hits = {t: defs.get(t, {})}
        chosen.update(hits)
    return chosen


def _expand(defs: dict[str, dict[str, Any]], snaps: list[Snapshot]) -> dict[str, dict[str, Any]]:
    """Folders become the plottable files inside them (at any of the revisions)."""
    files: dict[str, dict[str, Any]] = {}
    for path, props in defs.items():
        inside: dict[str, None] = {}
        for snap in snaps:
            listed = snap.list_files(path)
            if listed is not None:
                inside.update(dict.fromkeys(listed))
        if not inside:
            files[path] = props
            continue
        for f in inside:
            if formats.is_image(f) or formats.suffix(f) in formats.DATA_SUFFIXES:
                files.setdefault(f, props)
    return files


def _chart(reader: Reader, path: str, props: dict[str, Any], present, result: Plots) -> Chart | None:
    template = vega.template_name(props.get("template"), path)
    series: list[tuple[str, list[str], list[dict]]] = []
    for snap, data, key in present:
        columns, rows = reader.memo(
            "series", key, lambda d=data, w=snap.rev.where: formats.read_series(d, path, w)
        )  # fmt: skip
        series.append((snap.rev.name, columns, rows))
    # the newest revision's columns choose the defaults
    x, ys, synthesized = vega.choose_fields(template, series[-1][1], props)
    if not ys:
        raise PipelineError(
            f"plot {path}: no column to plot on y ({present[-1][0].rev.where}); columns: {', '.join(series[-1][1])}",
            "set `y:` for it in cairn.yaml plots",
        )
    usable: list[tuple[str, list[dict]]] = []
    lacking: list[tuple[str, list[str], list[str]]] = []
    for (snap, _, _), (rev, columns, rows) in zip(present, series, strict=True):
        need = [f for f in ([] if synthesized else [x]) + ys if f not in columns]
        if need:
            lacking.append((snap.rev.where, need, columns))
            continue
        if synthesized:
            rows = [{**r, vega.STEP: i} for i, r in enumerate(rows)]
        usable.append((rev, rows))
    for where, need, columns in lacking:
        names = ", ".join(repr(n) for n in need)
        message = f"plot {path}: field {names} is not in the data ({where}); its columns: {', '.join(columns)}"
        if usable:
            result.notes.append(message + " (that revision is left out of the chart)")
        else:
            raise PipelineError(message, "set x and y for this plot in cairn.yaml `plots:` to columns the file has")
    if not usable:
        return None
    title = str(props.get("title") or path)
    spec = vega.chart(template, usable, x, ys, title, props.get("x_label"), props.get("y_label"))
    return Chart(path, title, template, spec, [rev for rev, _ in usable])


def repo_relative(repo, cwd: str, target: str) -> str:
    """A path the user typed (relative to `cwd`) as a repo-relative posix path."""
    import os

    absolute = os.path.abspath(os.path.join(cwd, target))
    rel = os.path.relpath(absolute, repo.root)
    if rel == ".." or rel.startswith(".." + os.sep):
        raise PathError(f"{target} is outside the repository at {repo.root}", "name files inside the repository")
    return posixpath.normpath(rel.replace(os.sep, "/"))
