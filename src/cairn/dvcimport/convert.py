"""The whole conversion of a DVC project, planned in memory: every file's new text, the remotes,
what will rerun and why. Nothing is written here; the caller writes the plan only when it has
no problems (repo/dvcimport.py), so a project is converted entirely or not at all."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.dvcimport import dvcyaml
from cairn.dvcimport.config import DvcConfig, ignore_lines, read_config
from cairn.dvcimport.content import Resolver, Unresolved, Version, sentinel_oid
from cairn.dvcimport.dvcfiles import DVC_SUFFIX, Recorded, read_dvc_file, read_lock, safe_rel
from cairn.dvcimport.problems import Problems
from cairn.errors import PipelineError
from cairn.index import pointer as ptr
from cairn.index.ignore import IGNORE_FILE
from cairn.pipelines import params as params_mod
from cairn.pipelines.lock import LOCK_FILE, PathState, StageLock, dump
from cairn.pipelines.spec import PIPELINE_FILE, Pipeline, Stage

_SKIP = {".git", ".dvc", ".cairn"}


@dataclass
class Plan:
    files: dict[str, str] = field(default_factory=dict)  # repo-relative path -> text to write
    ignored: list[str] = field(default_factory=list)  # data paths to keep out of git
    config: DvcConfig = field(default_factory=DvcConfig)
    pointers: list[str] = field(default_factory=list)  # pointer files written
    stages: list[str] = field(default_factory=list)  # stages of cairn.yaml
    locked: list[str] = field(default_factory=list)  # stages whose lock entry converted
    rerun: dict[str, list[str]] = field(default_factory=dict)  # stage -> why `cairn repro` will run it
    notes: list[str] = field(default_factory=list)
    roots: list[tuple[str, str]] = field(default_factory=list)  # (kind, oid) of every converted version
    md5_map: dict[str, Version] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": sorted(self.files),
            "pointers": self.pointers,
            "stages": self.stages,
            "locked": self.locked,
            "rerun": self.rerun,
            "remotes": sorted(self.config.remotes),
            "default_remote": self.config.default_remote,
            "notes": self.notes,
        }


def find_files(root: Path) -> tuple[list[str], list[str]]:
    """(.dvc files, .dvcignore files), repo-relative: git's list of what is tracked or not
    ignored (tracked data folders are ignored, so this does not walk them), else a walk."""
    try:
        proc = subprocess.run(
            ["git", "-c", "core.quotePath=false", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        paths = proc.stdout.decode("utf-8", "surrogateescape").split("\0") if proc.returncode == 0 else None
    except FileNotFoundError:
        paths = None
    if paths is None:
        paths = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in _SKIP]
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            paths += [f if rel == "." else f"{rel}/{f}" for f in filenames]
    paths = sorted({p for p in paths if p and p.split("/")[0] not in _SKIP})
    dvc = [p for p in paths if p.endswith(DVC_SUFFIX) and os.path.isfile(root / p)]
    ignores = [p for p in paths if p.rpartition("/")[2] == ".dvcignore"]
    return dvc, ignores


def plan(root: Path, resolver_for, problems: Problems | None = None) -> Plan:
    """Convert the DVC project at `root`. `resolver_for(ignore_lines)` gives the Resolver that
    finds content (with the converted ignore rules). Raises DvcImportError listing every
    problem."""
    from cairn.index.ignore import Ignore

    problems = problems or Problems()
    out = Plan()
    out.config = read_config(root, problems)
    dvc_files, ignore_files = find_files(root)
    lines = ignore_lines(root, ignore_files, problems)
    if any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        out.files[IGNORE_FILE] = "# converted from .dvcignore by `cairn import-dvc`\n" + "\n".join(lines) + "\n"
    pipeline_text = dvcyaml.convert(root, problems)
    pointers = [f for f in (read_dvc_file(root, rel, problems) for rel in dvc_files) if f is not None]
    lock = read_lock(root, problems)
    if not pointers and pipeline_text is None and not problems.items:
        problems.add(str(root), "is not a DVC project: no dvc.yaml and no .dvc files")
    for name in (PIPELINE_FILE, LOCK_FILE, IGNORE_FILE):
        needed = name in out.files or (name != IGNORE_FILE and pipeline_text is not None)
        if needed and (root / name).exists():
            problems.add(name, "exists already; import-dvc writes it (move it away to convert)")
    for dvc_file in pointers:
        for rec in dvc_file.outs:
            if os.path.exists(root / (rec.path + ptr.SUFFIX)):
                problems.add(dvc_file.file, f"{rec.path}{ptr.SUFFIX} exists already; import-dvc writes it")
    problems.raise_if_any()  # formats first: nothing is hashed for a project that cannot convert

    patterns = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    ignore = Ignore(patterns) if patterns else None
    resolver: Resolver = resolver_for(ignore)
    tracked: set[str] = set()
    for dvc_file in pointers:
        for rec in dvc_file.outs:
            try:
                v = resolver.resolve(rec)
            except Unresolved as e:
                problems.add(dvc_file.file, f"{e}; run `dvc pull {dvc_file.file}` or pass --remote NAME")
                continue
            name = rec.path.rpartition("/")[2]
            pointer = ptr.Pointer(name, v.kind, v.oid, v.size, v.files, v.exec if v.kind == "file" else False)
            out.files[rec.path + ptr.SUFFIX] = pointer.to_yaml()
            out.pointers.append(rec.path + ptr.SUFFIX)
            out.ignored.append(rec.path)
            out.roots.append((v.kind, v.oid))
            tracked.add(rec.path)
    if pipeline_text is not None:
        _pipeline(root, pipeline_text, lock, tracked, resolver, problems, out)
    problems.raise_if_any()
    out.notes = problems.notes
    out.md5_map = resolver.found
    return out


def _pipeline(root, text: str, lock, tracked: set[str], resolver: Resolver, problems: Problems, out: Plan) -> None:
    from cairn.pipelines import dag
    from cairn.pipelines.spec import build
    from cairn.pipelines.yamlfile import parse

    try:
        pipeline = build(parse(text, PIPELINE_FILE), root)
        graph = dag.build(pipeline, tracked)
    except PipelineError as e:
        verbatim = text == (root / dvcyaml.DVC_YAML).read_text()
        for item in e.problems or [e.message]:
            loc, sep, message = item.partition(": ")
            if not (sep and loc.startswith(PIPELINE_FILE + ":")):
                problems.add(dvcyaml.DVC_YAML, f"{item} (as cairn reads it)")
            elif verbatim:  # same text, same positions
                problems.add(dvcyaml.DVC_YAML + loc[len(PIPELINE_FILE) :], f"{message} (as cairn reads it)")
            else:
                problems.add(f"{dvcyaml.DVC_YAML} (converted, at {loc})", f"{message} (as cairn reads it)")
        return
    out.files[PIPELINE_FILE] = text
    out.stages = list(pipeline.stages)
    for name in set(lock) - set(pipeline.stages):
        problems.note(f"dvc.lock stage {name}", "is not in dvc.yaml any more and was left out")
    entries: dict[str, StageLock] = {}
    for name, stage in pipeline.stages.items():
        locked = lock.get(name)
        if locked is None:
            out.rerun[name] = ["never run by DVC"]
            continue
        entry, why = _entry(stage, locked, pipeline, resolver, problems, root)
        if entry is None:
            out.rerun[name] = why
            continue
        entries[name] = entry
        out.locked.append(name)
        if why:
            out.rerun[name] = why
        out.roots += [(o.kind, o.oid) for o in entry.outs]
        for o in stage.outs:
            if o.cache:
                out.ignored.append(o.path)
    if entries:
        out.files[LOCK_FILE] = dump(entries, graph.order())


def _state(rel: str, v: Version) -> PathState:
    return PathState(rel, v.kind, v.oid, v.size, v.files)


def _entry(
    stage: Stage, locked, pipeline: Pipeline, resolver: Resolver, problems: Problems, root: Path
) -> tuple[StageLock | None, list[str]]:
    """The cairn.lock entry of one stage, and why it is stale (as DVC would say); no entry when
    an output's recorded bytes are nowhere."""
    where = f"dvc.lock stage {stage.name}"
    why: list[str] = []
    if locked.cmd != stage.cmd:
        why.append("cmd changed since DVC ran it")

    def repo_rel(rec: Recorded) -> str | None:
        rel = safe_rel(rec.path, stage.wdir)
        if rel is None:
            problems.add(where, f"path {rec.path!r} is outside the repository")
        return rel

    deps = []
    for rec in locked.deps:
        rel = repo_rel(rec)
        if rel is None:
            continue
        if rec.md5 is None:
            why.append(f"dep {rel} has no recorded version")
            continue
        try:
            deps.append(_state(rel, resolver.resolve(Recorded(rel, rec.md5, rec.legacy, rec.size, rec.nfiles))))
        except Unresolved:
            # changed since DVC ran the stage, and the old bytes are gone: stale, as in DVC
            kind = "tree" if rec.is_dir else "file"
            deps.append(PathState(rel, kind, sentinel_oid(rec.md5), rec.size or 0, rec.nfiles or 1))
            why.append(f"dep {rel} modified since DVC ran it")
    outs = []
    for rec in locked.outs:
        rel = repo_rel(rec)
        if rel is None:
            continue
        if rec.md5 is None:
            return None, [f"out {rel} has no recorded version"]
        try:
            outs.append(_state(rel, resolver.resolve(Recorded(rel, rec.md5, rec.legacy, rec.size, rec.nfiles))))
        except Unresolved as e:
            problems.note(where, f"{e}; the stage will rerun")
            return None, [f"out {rel} is in neither the workspace nor the DVC cache"]
    params: dict[str, dict[str, Any]] = {}
    whole = {ref.file for ref in stage.params if ref.keys is None}
    for file, values in locked.params.items():
        rel = safe_rel(file, stage.wdir) or file
        params[rel] = params_mod.flatten(values) if rel in whole else dict(values)
    return StageLock(list(locked.cmd), deps, params, outs), why
