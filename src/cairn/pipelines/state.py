"""Staleness: does a stage need to run, and exactly why ("dep data/x modified",
"param train.lr 0.1 -> 0.2", "out model.pkl missing")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cairn.errors import PipelineError
from cairn.index.snapshot import snapshot
from cairn.pipelines import params as params_mod
from cairn.pipelines.lock import PathState, StageLock
from cairn.pipelines.spec import Stage
from cairn.workspace.context import Workspace


def path_state(ws: Workspace, rel: str) -> PathState | None:
    """The current id of a path (unchanged files come from the stat cache, not re-read)."""
    snap = snapshot(ws.abs(rel), rel, ws.stats, ws.ignore, progress=ws.progress, links=ws.links())
    if snap is None:
        return None
    ws.stats.update(snap.records, snap.keep)
    return PathState(rel, snap.kind, snap.oid, snap.size, snap.files)


class ParamReader:
    """Reads each params file once per command."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._docs: dict[str, dict[str, Any]] = {}

    def doc(self, file: str) -> dict[str, Any]:
        if file not in self._docs:
            self._docs[file] = params_mod.read(self.root / file, file)
        return self._docs[file]

    def values(self, stage: Stage) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for ref in stage.params:
            doc = self.doc(ref.file)
            if ref.keys is None:
                out[ref.file] = params_mod.flatten(doc)
                continue
            values = out.setdefault(ref.file, {})
            for key in ref.keys:
                try:
                    values[key] = params_mod.lookup(doc, key)
                except KeyError:
                    known = sorted(params_mod.flatten(doc))
                    near = _close_matches(key, known, n=1)
                    raise PipelineError(
                        f"{stage.where}: stage {stage.name!r} uses param {key!r}, which {ref.file} does not have",
                        f"did you mean {near[0]!r}?" if near else f"add `{key}` to {ref.file}",
                    ) from None
        return out


def reasons(
    stage: Stage,
    lock: StageLock | None,
    deps: dict[str, PathState | None],
    params_now: dict[str, dict[str, Any]],
    outs: dict[str, PathState | None],
) -> list[str]:
    """Why `stage` must run; empty when it is up to date."""
    if stage.always_changed:
        return ["always_changed is set"]
    if lock is None:
        return ["never run"]
    why: list[str] = []
    if lock.cmd != stage.cmd:
        why.append("cmd changed")
    for path, state in deps.items():
        old = lock.dep(path)
        if state is None:
            why.append(f"dep {path} missing")
        elif old is None:
            why.append(f"dep {path} new")
        elif old.oid != state.oid:
            why.append(f"dep {path} modified")
    for path in (d.path for d in lock.deps):
        if path not in deps:
            why.append(f"dep {path} removed")
    for file, values in params_now.items():
        old_values = lock.params.get(file, {})
        for key, value in values.items():
            if key not in old_values:
                why.append(f"param {key} new ({_show(value)})")
            elif old_values[key] != value:
                why.append(f"param {key} {_show(old_values[key])} -> {_show(value)}")
        for key in old_values:
            if key not in values:
                why.append(f"param {key} removed")
    for path, state in outs.items():
        old = lock.out(path)
        if state is None:
            why.append(f"out {path} missing")
        elif old is None:
            why.append(f"out {path} new")
        elif old.oid != state.oid:
            why.append(f"out {path} modified")
    return why


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _close_matches(word: str, options: list[str], n: int) -> list[str]:
    import difflib  # only when a name is wrong: ~1 ms of every command otherwise

    return difflib.get_close_matches(word, options, n=n)
