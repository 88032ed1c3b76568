"""`cairn exp save`: record the workspace as it is as an experiment, running nothing (as DVC's
`exp save`): params, cairn.lock, metrics and pointers, committed on a hidden ref like a run."""

from __future__ import annotations

from cairn.experiments.executor import ExpContext, _info, _pick_name, _workspace_paths, workspace_dirty
from cairn.experiments.record import ExpInfo, ref_name
from cairn.scm.commits import commit_files, head_commit


def save_workspace(ctx: ExpContext, name: str | None) -> ExpInfo:
    base = head_commit(ctx.git)
    name = _pick_name(ctx, name)
    dirty = workspace_dirty(ctx, [])
    info = _info(ctx.root, ctx.ws, name, base, "success", 0, None, [], dirty, "")
    info.ref = ref_name(str(base.id), name)
    info.commit = commit_files(ctx.git, base, ctx.root, _workspace_paths(ctx, []), info.ref, info.message())
    return info
