"""`cairn commit [TARGET...]`: record data and outputs changed by hand without rerunning, as
DVC's commit. A tracked path is re-added (its pointer gets the new version); a stage gets a
cairn.lock entry from its deps, params and outputs as they are now, its outputs stored in the
cache. Without targets: every tracked path that changed and every stage that is stale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cairn.errors import PathError, PipelineError

if TYPE_CHECKING:
    from cairn.pipelines.spec import Stage
    from cairn.repo.repo import Repo


def commit(repo: Repo, targets: list[str] | None = None, strict: bool = True) -> list[dict[str, Any]]:
    """What was recorded: [{kind: data|stage, target, changed}]. With `strict` False a stage whose
    deps or outputs are missing is skipped instead of refused (`exp save`)."""
    targets = list(targets or [])
    graph = repo.pipeline_graph() if repo.has_pipeline() else None
    pipeline = graph.pipeline if graph is not None else None
    data_targets: list[str] = []
    stage_names: list[str] = []
    for t in targets:
        if pipeline is not None and (t in pipeline.stages or t in pipeline.groups()):
            stage_names += pipeline.expand([t])
        else:
            data_targets.append(t)
    done: list[dict[str, Any]] = []
    if not targets:  # what changed; data gone from the workspace has nothing to record
        rels = [s.path for s in repo.status() if s.state == "modified"]
    elif data_targets:
        from cairn.workspace.context import data_rel

        if pipeline is not None:
            _stage_or_tracked(repo, pipeline, data_targets)
        rels = [data_rel(p, repo.ws.load_pointer(p)) for p in repo.pointers(data_targets)]
        missing = [r for r in rels if not (repo.root / r).exists()]
        if missing:
            raise PathError(
                f"{missing[0]} is not in the workspace; there is nothing to record",
                f"restore it with `cairn checkout {missing[0]}`, or stop tracking it with `cairn remove {missing[0]}`",
            )
    else:
        rels = []
    if rels:
        done += [{"kind": "data", "target": r.path, "changed": r.changed, "oid": r.oid} for r in repo.add(rels)]
    if graph is None:
        return done
    with repo.lock():
        done += _commit_stages(repo, graph, stage_names, explicit=bool(targets), strict=strict)
    return done


def _commit_stages(repo: Repo, graph, names: list[str], explicit: bool, strict: bool) -> list[dict[str, Any]]:
    from cairn.pipelines import lock as lock_mod
    from cairn.pipelines.state import ParamReader, path_state, reasons

    locks = lock_mod.read(repo.root)
    params = ParamReader(repo.root)
    order = graph.order()
    wanted = [n for n in order if n in names] if explicit else order
    done = []
    env = None
    for name in wanted:
        stage: Stage = graph.pipeline.stages[name]
        if stage.frozen and not explicit:
            continue
        deps = {d: path_state(repo.ws, d) for d in stage.deps}
        outs_now = {o.path: path_state(repo.ws, o.path) for o in stage.outs}
        gone = [p for p, s in {**deps, **outs_now}.items() if s is None]
        if gone:
            if strict and (explicit or name in locks):
                raise PipelineError(
                    f"stage {name!r} cannot be recorded: {gone[0]} does not exist",
                    f"create it (or run the stage: `cairn repro {name}`)",
                )
            continue
        values = params.values(stage)
        why = reasons(stage, locks.get(name), deps, values, outs_now)
        if not why and not explicit:
            continue
        outs = [_store_out(repo, o.path, o.cache) for o in stage.outs]
        if env is None:
            env = repo.environment.record()
        locks[name] = lock_mod.StageLock(list(stage.cmd), [s for s in deps.values() if s], values, outs, env)
        lock_mod.write(repo.root, locks, order)
        done.append({"kind": "stage", "target": name, "changed": bool(why), "why": why})
    return done


def _store_out(repo: Repo, rel: str, cached: bool):
    from cairn.pipelines.lock import PathState
    from cairn.workspace.add import commit as store
    from cairn.workspace.gitignore import ignore_in_git

    # as the runner does: cached outputs per cache.type, others as copies (git keeps them)
    snap, _ = store(repo.ws, rel) if cached else store(repo.ws, rel, kind="copy")
    if cached:
        ignore_in_git(repo.root, rel)
    return PathState(rel, snap.kind, snap.oid, snap.size, snap.files)


def _stage_or_tracked(repo: Repo, pipeline, targets: list[str]) -> None:
    """In a project with a pipeline a target that is no tracked path may be a mistyped stage:
    say both, with the nearest stage (it said only "not tracked by cairn ... `cairn add`")."""
    import difflib

    for t in targets:
        try:
            repo.pointers([t])
        except PathError:
            rel = repo.ws.rel(t) if t else t
            owner = next((n for n, st in pipeline.stages.items() if any(o.path == rel for o in st.outs)), None)
            if owner is not None:
                raise PathError(
                    f"{t} is an output of stage {owner!r}, not tracked data",
                    f"record the stage: `cairn commit {owner}`",
                ) from None
            near = difflib.get_close_matches(t, list(pipeline.stages), n=1)
            stages = ", ".join(list(pipeline.stages)[:8])
            raise PathError(
                f"{t} is neither tracked by cairn nor a stage of cairn.yaml",
                (f"did you mean the stage {near[0]!r}? " if near else "")
                + f"name a tracked path or a stage (stages: {stages})",
            ) from None
