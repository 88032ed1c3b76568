"""Evaluating one model for champion / challenger: the evaluation stage run at a data revision
with the artifact's path replaced by that model's version, in a temporary workspace as queued
experiments run (files exported from git, data linked from the shared cache), the stage alone
and forced (nothing upstream reruns, so the model under test is not retrained)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.errors import RegistryError
from cairn.index import pointer as ptr
from cairn.index.statcache import StatCache
from cairn.metrics.formats import read_metrics
from cairn.pipelines import dag
from cairn.pipelines import lock as lock_mod
from cairn.pipelines.runner import EnvHook, ReproOptions, Runner, tracked_paths
from cairn.pipelines.spec import load_pipeline
from cairn.registry.artifacts import Artifact
from cairn.registry.compare import read_rows
from cairn.registry.resolve import locate
from cairn.scm.commits import commit_files, export_tree, tree_paths
from cairn.scm.git import Git
from cairn.workspace.checkout import checkout, checkout_versions
from cairn.workspace.context import Workspace

COMPARE_REFS = "refs/cairn/compare/"
Fetch = Callable[[list[tuple[str, str]]], object]


def evaluate(
    git: Git,
    shared: Workspace,
    work: Path,
    art: Artifact,
    model_commit: str,
    data_commit: str,
    stage: str,
    label: str,
    fetch: Fetch | None = None,
    env: EnvHook | None = None,
) -> dict[str, Any]:
    """Run `stage` at `data_commit` with the model of `model_commit` in the temporary workspace
    `work` (removed after), with `shared`'s cache; `fetch` brings objects the cache lacks. The
    run is recorded as a commit on a hidden ref so that checks read it like any revision."""
    shutil.rmtree(work, ignore_errors=True)
    base = git.resolve(data_commit)
    export_tree(git, base, work)
    try:
        ws = Workspace(
            work,
            shared.store,
            StatCache(work / ".cairn" / "state" / "stat.db"),
            ["reflink", "hardlink", "copy"],
            shared.ignore,
            shared.progress,
        )
        (work / ".cairn" / "tmp").mkdir(parents=True, exist_ok=True)
        kind, oid, size, files = locate(git, model_commit, art)
        model = ptr.Pointer(art.path.rpartition("/")[2], kind, oid, size, files)
        locks = lock_mod.read(work)
        outs = [
            (o.path, ptr.Pointer(o.path.rpartition("/")[2], o.kind, o.oid, o.size, o.files))
            for e in locks.values()
            for o in e.outs
        ]
        pointers = sorted(ws.pointer_files())
        roots = [(model.kind, model.oid)] + [(p.kind, p.oid) for _, p in outs]
        roots += [(ptr.load(work / rel).kind, ptr.load(work / rel).oid) for rel in pointers]
        if fetch is not None and any(not shared.store.exists(o) for _, o in roots):
            fetch(roots)
        if (work / (art.path + ptr.SUFFIX)).exists():
            ptr.save(work / (art.path + ptr.SUFFIX), model)
        if pointers:
            checkout(ws, pointers, force=True)
        present = [(path, p) for path, p in outs if path != art.path and shared.store.exists(p.oid)]
        checkout_versions(ws, [*present, (art.path, model)], force=True)
        pipeline = load_pipeline(work)
        if pipeline is None:
            raise RegistryError(f"there is no cairn.yaml at {data_commit[:7]} to evaluate with", "give --data REV")
        spec = pipeline.stage(stage)
        Runner(ws, dag.build(pipeline, tracked_paths(ws)), None, env).run(
            ReproOptions(targets=[stage], force=True, single=True, run_cache=False)
        )
        metrics: dict[str, dict[str, Any]] = {}
        rows = None
        for out in spec.outs:
            path = work / out.path
            if not path.is_file():
                continue
            data = path.read_bytes()
            if out.kind == "metrics":
                metrics[out.path] = read_metrics(data, out.path, f"in the {label}'s evaluation")
            elif rows is None and out.path.endswith((".csv", ".jsonl", ".json")):
                try:
                    rows = read_rows(data, out.path)
                except (RegistryError, ValueError):
                    rows = None
        paths = tree_paths(base) | {"cairn.lock"}
        paths |= {o.path for o in spec.outs if not o.cache and (work / o.path).is_file()}
        ref = COMPARE_REFS + label
        message = f"cairn model compare: {stage} of {art.name} at {model_commit[:7]} on data {data_commit[:7]}"
        commit = commit_files(git, base, work, sorted(p for p in paths if not p.startswith(".cairn/")), ref, message)
        return {"model_commit": model_commit, "eval_commit": commit, "ref": ref, "metrics": metrics, "rows": rows}
    finally:
        shutil.rmtree(work, ignore_errors=True)
