"""The upstream graph of an output at one commit: the stage that wrote it, that stage's deps,
the stages that wrote those, down to source data (pointers) and code (git files). Every node
carries its object id, size, how it is tracked and the commit its version came in with.

The result is a plain dict, the stable `--json` document (docs/lineage.md)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from cairn.errors import UserInputError
from cairn.index.pointer import SUFFIX as POINTER_SUFFIX
from cairn.lineage.history import commit_info, first_seen
from cairn.lineage.view import GIT, STAGE_OUTPUT, TREE, UNTRACKED, Shared, View, Where

LINEAGE_VERSION = 1


class Context:
    """Which commit is read, under what name, and the experiment it belongs to (if any)."""

    def __init__(self, rev: str, commit: str, experiment: dict[str, Any] | None = None, pipeline=None) -> None:
        self.rev = rev
        self.commit = commit
        self.experiment = experiment  # {"name", "created", "baseline"} for --exp
        self.pipeline = pipeline  # cairn.yaml at the commit (for wdir), or None


def not_tracked(path: str, where: str) -> UserInputError:
    return UserInputError(
        f"{path} is not tracked {where}: no stage output, pointer or git file holds it",
        "lineage starts from what a stage wrote (cairn.lock outs) or data added with `cairn add`; "
        "see `cairn dag` and the `.cairn` pointers",
    )


def in_git(path: str) -> UserInputError:
    return UserInputError(
        f"{path} is in git, not produced by a stage",
        "lineage follows stage outputs and tracked data; a git file's history is `git log -- " + path + "`",
    )


def upstream(shared: Shared, ctx: Context, path: str) -> dict[str, Any]:
    view = shared.view(ctx.commit)
    view.checked_lock()  # a damaged lock fails before anything is shown
    where = view.locate(path)
    at = f"at {ctx.rev}" if ctx.experiment is None else f"in experiment {ctx.experiment['name']}"
    if where is None:
        raise not_tracked(path, at)
    if where.tracked == GIT:
        raise in_git(path)
    return _Builder(shared, ctx, view).build(where)


class _Builder:
    def __init__(self, shared: Shared, ctx: Context, view: View) -> None:
        self.shared, self.ctx, self.view = shared, ctx, view
        self.nodes: dict[str, dict[str, Any]] = {}
        self.stages: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, str]] = []
        self.gaps: list[dict[str, Any]] = []

    def build(self, target: Where) -> dict[str, Any]:
        self._node(target, target.oid, target.kind, target.size)
        if target.stage is not None:
            self._stage(target.stage)
        if target.within is not None:
            self.edges.append({"from": target.within, "to": target.path})
        stage = target.stage
        rebuild = f"git checkout {self.ctx.commit} && cairn pull"
        if stage is not None:
            rebuild += f" && cairn repro {stage}"
        return {
            "version": LINEAGE_VERSION,
            "target": target.path,
            "rev": self.ctx.rev,
            "commit": self.ctx.commit,
            "experiment": self.ctx.experiment,
            "stage": stage,
            "nodes": list(self.nodes.values()),
            "stages": list(self.stages.values()),
            "edges": self.edges,
            "gaps": self.gaps,
            "rebuild": rebuild,
        }

    # -- nodes ---------------------------------------------------------------------------------
    def _node(self, where: Where | None, oid: str | None, kind: str, size: int | None, path: str = "") -> dict:
        path = where.path if where is not None else path
        if path in self.nodes:
            return self.nodes[path]
        node: dict[str, Any] = {
            "path": path,
            "oid": oid,
            "kind": kind,
            "size": size,
            "tracked": where.tracked if where is not None else UNTRACKED,
            "stage": where.stage if where is not None else None,
            "within": where.within if where is not None else None,
            "git_blob": where.oid if where is not None and where.tracked == GIT else None,
            "introduced": None,
        }
        self.nodes[path] = node
        if where is None:
            return node
        if where.gap:
            self._gap(path, where.within_oid, where.gap)
        elif where.oid is not None and oid is not None and where.oid != oid and where.tracked != GIT:
            node["note"] = f"consumed version {oid[:12]}; the lock now records {where.oid[:12]} (the stage is stale)"
            return node  # "introduced" would date the lock's version, not the one consumed
        node["introduced"] = self._introduced(path, where)
        return node

    def _introduced(self, path: str, where: Where) -> dict[str, Any] | None:
        if where.oid is None:
            return None

        def value(v: View) -> Any:
            w = v.locate(path)
            if w is not None and w.gap:
                raise LookupError(w.gap)
            return None if w is None else (w.tracked, w.oid)

        index = self.shared.index
        if where.tracked == STAGE_OUTPUT:
            stage = where.stage

            def key(v: View) -> Any:  # the same entry text of its stage: the same out
                return v.entry_key(stage)

            def changes() -> set[str]:
                return index.stage_changes(stage)
        else:

            def key(v: View) -> Any:
                return v.source_key(path)

            def changes() -> set[str]:
                return index.path_changes(path, POINTER_SUFFIX)

        commit, gap = first_seen(self.shared, self.ctx.commit, value, key, changes)
        if gap is not None:
            self._gap(path, None, f"history before commit {commit[:7]} not compared: commit {gap[:7]} lacks its trees")
        return commit_info(self.shared.git.repo[commit])

    def _gap(self, path: str, oid: str | None, problem: str) -> None:
        self.gaps.append({"path": path, "oid": oid, "problem": problem})

    # -- stages --------------------------------------------------------------------------------
    def _stage(self, name: str) -> None:
        if name in self.stages:
            return
        entry = self.view.lock[name]
        spec = self.ctx.pipeline.stages.get(name) if self.ctx.pipeline is not None else None
        record: dict[str, Any] = {
            "name": name,
            "cmd": entry.cmd[0] if len(entry.cmd) == 1 else list(entry.cmd),
            "wdir": (spec.wdir or ".") if spec is not None else ".",
            "params": entry.params,
            "deps": [d.path for d in entry.deps],
            "outs": [o.path for o in entry.outs],
            "code": [],
            # The environment record a run wrote (issue 15, environment part): the lock entry's
            # `env` object id, when the lock carries one.
            "env": getattr(entry, "env", None),
            "ran": self._ran(name),
        }
        self.stages[name] = record
        for out in entry.outs:
            self._node(self.view.locate(out.path), out.oid, out.kind, out.size, out.path)
            self.edges.append({"from": f"stage:{name}", "to": out.path})
        for dep in entry.deps:
            where = self.view.locate(dep.path)
            self._node(where, dep.oid, dep.kind, dep.size, dep.path)
            self.edges.append({"from": dep.path, "to": f"stage:{name}"})
            if where is not None and where.tracked == GIT and where.kind != TREE:
                record["code"].append({"path": dep.path, "git_blob": where.oid})
            if where is not None and where.tracked == STAGE_OUTPUT and where.stage != name:
                self._stage(where.stage)
            # a dep on a folder that other stages write into: those stages feed it too
            below = [b for b in self.view.producers_below(dep.path) if b != name]
            if below:
                self.nodes[dep.path]["fed_by"] = below
            for other in below:
                self._stage(other)
                for out in self.view.lock[other].outs:
                    if out.path.startswith(dep.path.rstrip("/") + "/"):
                        self.edges.append({"from": out.path, "to": dep.path})
        if record["code"]:
            record["code_commit"] = self.ctx.commit

    def _ran(self, name: str) -> dict[str, Any]:
        """Who ran the stage and when: the commit its lock entry came in with, or the experiment
        when that entry is the experiment's own."""
        commit, _ = first_seen(
            self.shared,
            self.ctx.commit,
            lambda v: _Entry(v, name),
            lambda v: v.entry_key(name),
            lambda: self.shared.index.stage_changes(name),
        )
        info = commit_info(self.shared.git.repo[commit])
        exp = self.ctx.experiment
        if exp is not None and commit == self.ctx.commit:
            created = _dt.datetime.fromtimestamp(exp["created"], _dt.UTC).isoformat()
            info.update({"experiment": exp["name"], "created": created})
        return info


class _Absent:
    def to_dict(self) -> None:
        return None


class _Entry:
    """A stage's lock entry at one commit, compared by its text when both sides are in the
    layout cairn writes (the writer is canonical: other text, other entry) and parsed only
    otherwise, so walking history parses no entry it does not have to."""

    def __init__(self, view: View, name: str) -> None:
        self.view, self.name = view, name
        self.text = view.entry_key(name)

    def parsed(self) -> Any:
        return (self.view.entry(self.name) or _NONE).to_dict()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Entry):
            return NotImplemented
        if self.text is not None and other.text is not None:
            return self.text == other.text
        return self.parsed() == other.parsed()

    __hash__ = None  # type: ignore[assignment]


_NONE = _Absent()
