"""Notebooks wired to the repository: git setup (drivers and clean filter), executing a
notebook stage, cell-by-cell changes of notebooks the pipeline depends on (for `cairn diff` and
`cairn exp diff`), and exporting the executed notebook of a past run as HTML (docs/notebooks.md)."""

from __future__ import annotations

import contextlib
import os
import posixpath
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import CairnError, NotebookError, ObjectMissingError, PathError, RevisionError, shown
from cairn.notebooks import gitsetup

if TYPE_CHECKING:
    from cairn.notebooks.execute import Executed
    from cairn.repo.repo import Repo

RUN = ["cairn", "notebooks", "run"]  # how pipelines/notebookstage.py spells a notebook stage's command


def setup(repo: Repo, undo: bool = False) -> gitsetup.SetupResult:
    repo._need_git("notebooks setup")
    tmp = repo.dot / "tmp"
    return gitsetup.disable(repo.root, tmp) if undo else gitsetup.enable(repo.root, tmp)


def run_stage(notebook: str, out: str, param_specs: list[str], kernel: str | None) -> Executed:
    """What a notebook stage runs (in the stage's wdir): inject params, execute, write OUT."""
    from cairn.notebooks.execute import params_from, run

    cwd = Path.cwd()
    return run(cwd / notebook, cwd / out, params_from(param_specs, cwd), kernel, label=notebook, out_label=out)


# -- diffs ---------------------------------------------------------------------------------
def changes(repo: Repo, a: str | None = None, b: str | None = None) -> list[dict[str, Any]]:
    """Cell-by-cell changes of every notebook a stage depends on, from revision `a` (default
    HEAD) to `b` (default: the workspace): [{path, cells: [...]}], only notebooks that changed.
    Empty when the notebooks extra is not installed: `cairn diff` works without it."""
    import importlib.util

    if repo.git is None or importlib.util.find_spec("nbdime") is None:
        return []
    from cairn.notebooks.celldiff import cell_changes

    old_rev = a or "HEAD"
    out = []
    for path in _notebook_deps(repo, old_rev, b):
        old = repo.git.read_file(old_rev, path)
        new = repo.git.read_file(b, path) if b else _workspace_bytes(repo.root / path)
        if _sources(old) != _sources(new):
            out.append({"path": path, "cells": cell_changes(old, new)})
    return out


def exp_changes(repo: Repo, a: str, b: str | None) -> list[dict[str, Any]]:
    """`changes` between experiment A's commit and experiment B's (default: the workspace)."""
    from cairn.repo.experiments import Experiments

    exps = Experiments(repo)
    return changes(repo, exps.get(a).commit, exps.get(b).commit if b else None)


def _notebook_deps(repo: Repo, old_rev: str, new_rev: str | None) -> list[str]:
    from cairn.pipelines import lock as lock_mod
    from cairn.pipelines.spec import load_pipeline

    paths: set[str] = set()
    # a broken cairn.yaml or lock is for `cairn repro` to report: `cairn diff` of data goes on
    for rev in (old_rev, new_rev):
        text = repo.git.read_file(rev, "cairn.lock") if rev else None
        with contextlib.suppress(CairnError, UnicodeDecodeError):
            locks = lock_mod.parse(text.decode(), f"cairn.lock at {rev}") if text else {}
            paths.update(d.path for entry in locks.values() for d in entry.deps)
    with contextlib.suppress(CairnError):
        pipeline = load_pipeline(repo.root)
        for stage in pipeline.stages.values() if pipeline else []:
            paths.update(stage.deps)
    return sorted(p for p in paths if p.endswith(".ipynb"))


def _workspace_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _sources(data: bytes | None) -> Any:
    """What a cell diff looks at; a notebook whose outputs alone changed has no cell changes."""
    from cairn.notebooks.clean import clean_bytes

    return clean_bytes(data) if data is not None else None


# -- export --------------------------------------------------------------------------------
def export(repo: Repo, notebook: str, rev: str, out: str | None = None) -> dict[str, Any]:
    """Write the executed notebook that the stage running NOTEBOOK (or writing it) recorded at
    `rev` (a git revision or an experiment's name) as one offline HTML page; returns what was
    written."""
    from cairn.notebooks.export import to_html
    from cairn.pipelines import lock as lock_mod

    git = repo._need_git("notebooks export")
    wanted = repo.ws.rel(notebook)
    try:
        text = git.read_file(rev, "cairn.lock")
    except RevisionError as e:  # not a git revision: an experiment's name, whose commit holds its lock
        text = git.read_file(_experiment_commit(repo, rev, e), "cairn.lock")
    locks = lock_mod.parse(text.decode(), f"cairn.lock at {rev}") if text else {}
    found = _executed(locks, wanted)
    if found is None:
        raise NotebookError(
            f"no notebook stage at {shown(rev)} executes or writes {shown(wanted)}",
            "name the notebook of a `notebook:` stage (or its executed copy), at a revision whose "
            "cairn.lock records a run of it (`git log -- cairn.lock`)",
        )
    stage, path, oid = found
    try:
        data = repo.store.read(oid)
    except ObjectMissingError:
        if not repo.remotes.default():
            raise ObjectMissingError(
                f"the executed notebook {path} of {shown(rev)} ({oid[:12]}) is not in the cache",
                "add the remote it was pushed to (`cairn remote add -d NAME URL`) and run this again",
            ) from None
        repo.fetch([(path, oid)])
        data = repo.store.read(oid)
    title = f"{posixpath.basename(path)} @ {rev}"
    html = to_html(data, title)
    target = Path(out) if out else Path(posixpath.basename(wanted)[: -len(".ipynb")] + ".html")
    if target.is_dir():
        raise PathError(f"{target} is a folder", f"name the page's file, e.g. -o {target / 'analysis.html'}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PathError(
            f"cannot write {target}: a folder above it is a file", "choose another -o, or move that file away"
        ) from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return {"stage": stage, "notebook": path, "oid": oid, "rev": rev, "html": str(target), "bytes": len(html)}


def _experiment_commit(repo: Repo, name: str, error: RevisionError) -> str:
    from cairn.repo.experiments import Experiments

    try:
        return Experiments(repo).get(name).commit
    except CairnError:
        raise RevisionError(
            f"{shown(name)} is neither a git revision nor an experiment",
            "list them with `git log --oneline` and `cairn exp list`",
        ) from error


def _executed(locks: dict, wanted: str) -> tuple[str, str, str] | None:
    """(stage, executed notebook path, its oid) of the notebook stage whose notebook or executed
    copy is `wanted`. The lock keeps repo-relative dep and out paths; the command names them
    relative to the stage's wdir, so they are matched by their ends."""
    for name, entry in locks.items():
        args = shlex.split(entry.cmd[0]) if entry.cmd else []
        if args[:3] != RUN or "-o" not in args[3:]:
            continue
        nb, executed = posixpath.normpath(args[3]), posixpath.normpath(args[args.index("-o", 3) + 1])
        out = next((o for o in entry.outs if _ends(o.path, executed)), None)
        dep = next((d for d in entry.deps if _ends(d.path, nb)), None)
        if out is not None and wanted in (out.path, dep.path if dep else None):
            return name, out.path, out.oid
    return None


def _ends(path: str, tail: str) -> bool:
    return path == tail or path.endswith("/" + tail)
