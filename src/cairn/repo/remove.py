"""`cairn remove TARGET...`: stop tracking. A pointer target loses its pointer and its
.gitignore line; a stage target leaves cairn.yaml (comments and layout of the rest kept), its
cairn.lock entry and its outputs' .gitignore lines. The data stays unless `outs` is asked for."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import PathError, PipelineError
from cairn.index import pointer as ptr
from cairn.workspace.context import data_rel
from cairn.workspace.gitignore import gitignore_entry

if TYPE_CHECKING:
    from cairn.repo.repo import Repo


def unignore_in_git(root: Path, rel: str) -> bool:
    """Drop the entry `ignore_in_git` wrote for `rel`; a .gitignore left empty goes too (as in
    DVC). Returns True when the file changed."""
    parent, _, name = rel.rpartition("/")
    gi = root / parent / ".gitignore" if parent else root / ".gitignore"
    try:
        text = gi.read_text()
    except FileNotFoundError:
        return False
    entry = gitignore_entry(name)
    lines = text.splitlines()
    if entry not in lines:
        return False
    kept = [ln for ln in lines if ln != entry]
    if not any(ln.strip() for ln in kept):
        gi.unlink()
        return True
    tmp = gi.with_name(f".gitignore.{os.getpid()}.tmp")
    tmp.write_text("\n".join(kept) + "\n")
    os.replace(tmp, gi)
    return True


def delete_path(path: Path) -> bool:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
        return True
    if os.path.lexists(path):
        path.unlink()
        return True
    return False


def remove(repo: Repo, targets: list[str], outs: bool = False) -> list[dict[str, Any]]:
    """Untrack each target (a pointer file, a tracked path, or a stage of cairn.yaml); all are
    checked before anything changes."""
    pipeline = repo.pipeline_graph().pipeline if repo.has_pipeline() else None
    plan: list[tuple[str, str]] = []  # (kind, pointer file or stage name)
    for target in targets:
        rel = target if target.endswith(ptr.SUFFIX) else target + ptr.SUFFIX
        try:
            pointer_rel = repo.ws.rel(rel)
        except PathError:
            pointer_rel = None  # outside the repository: maybe a stage name
        if pointer_rel is not None and (repo.root / pointer_rel).is_file():
            plan.append(("data", pointer_rel))
        elif pipeline is not None and _is_stage(pipeline, target):
            plan.append(("stage", _stage_name(pipeline, target)))
        else:
            stages = ", ".join(list(pipeline.stages)[:8]) if pipeline is not None else "none"
            raise PathError(
                f"{target} is neither tracked by cairn (no {rel}) nor a stage of cairn.yaml",
                f"name a pointer file, a tracked path or a stage (stages: {stages})",
            )
    done = []
    with repo.lock():
        for kind, what in plan:
            done.append(_remove_data(repo, what, outs) if kind == "data" else _remove_stage(repo, what, outs))
    return done


def _is_stage(pipeline, target: str) -> bool:
    return pipeline is not None and (target in pipeline.stages or target in pipeline.groups())


def _stage_name(pipeline, target: str) -> str:
    if "@" in target:
        group = target.partition("@")[0]
        raise PipelineError(
            f"stage {target!r} is one of the stages foreach/matrix stage {group!r} generates",
            f"remove them all with `cairn remove {group}`, or drop the item from its list in cairn.yaml",
        )
    return target


def _remove_data(repo: Repo, pointer_rel: str, outs: bool) -> dict[str, Any]:
    p = repo.ws.load_pointer(pointer_rel)
    rel = data_rel(pointer_rel, p)
    (repo.root / pointer_rel).unlink()
    unignore_in_git(repo.root, rel)
    deleted = delete_path(repo.root / rel) if outs else False
    return {"kind": "data", "target": rel, "pointer": pointer_rel, "deleted": deleted}


def _remove_stage(repo: Repo, name: str, outs: bool) -> dict[str, Any]:
    from cairn.pipelines import lock as lock_mod
    from cairn.pipelines.spec import PIPELINE_FILE
    from cairn.repo.stagetext import without_stage

    pipeline = repo.pipeline_graph().pipeline
    generated = pipeline.groups().get(name, [name])
    out_paths = [(o.path, o.cache) for s in generated for o in pipeline.stages[s].outs]
    path = repo.root / PIPELINE_FILE
    text = without_stage(path.read_text(), name)
    tmp = path.with_name(f".{PIPELINE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    locks = lock_mod.read(repo.root)
    if any(s in locks for s in generated):
        for s in generated:
            locks.pop(s, None)
        lock_mod.write(repo.root, locks, list(locks))
    deleted = []
    for out, cached in out_paths:
        if cached:
            unignore_in_git(repo.root, out)
        if outs and delete_path(repo.root / out):
            deleted.append(out)
    return {"kind": "stage", "target": name, "stages": generated, "outs": [o for o, _ in out_paths], "deleted": deleted}
