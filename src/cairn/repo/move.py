"""`cairn move SRC DST`: tracked data and its pointer move together, and the .gitignore lines
follow. Everything is checked first; the new pointer is written before the data moves and the
old one goes last, so an interrupted move leaves the data tracked under one name or the other."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

from cairn.errors import OverlapError, PathError
from cairn.index import pointer as ptr
from cairn.repo.remove import unignore_in_git
from cairn.workspace.context import pointer_rel_for
from cairn.workspace.gitignore import ignore_in_git

if TYPE_CHECKING:
    from cairn.repo.repo import Repo


def move(repo: Repo, src: str, dst: str) -> dict[str, Any]:
    src = src[: -len(ptr.SUFFIX)] if src.endswith(ptr.SUFFIX) else src
    dst = dst[: -len(ptr.SUFFIX)] if dst.endswith(ptr.SUFFIX) else dst
    src_rel = repo.ws.rel(src)
    old_pointer = pointer_rel_for(src_rel)
    if not (repo.root / old_pointer).is_file():
        raise PathError(
            f"{src_rel} is not tracked by cairn (no {old_pointer})",
            "move untracked files with `mv` (or `git mv`); `cairn move` moves tracked data and its pointer",
        )
    dst_rel = repo.ws.rel(dst)
    into = dst.endswith(("/", os.sep))  # `models/` names a folder, even one that does not exist yet
    if into or ((repo.root / dst_rel).is_dir() and not (repo.root / pointer_rel_for(dst_rel)).exists()):
        dst_rel = f"{dst_rel}/{src_rel.rpartition('/')[2]}"  # into a folder, as mv does
    new_pointer = pointer_rel_for(dst_rel)
    if dst_rel == src_rel:
        raise PathError(f"{src_rel} is already there", "give another destination")
    if os.path.lexists(repo.root / dst_rel) or os.path.lexists(repo.root / new_pointer):
        raise PathError(f"{dst_rel} exists already", "remove it first, or choose another destination")
    if dst_rel.startswith(src_rel + "/"):
        raise PathError(f"cannot move {src_rel} into itself ({dst_rel})", "choose a destination outside it")
    if any(c in dst_rel.rpartition("/")[2] for c in "\r\n"):
        raise PathError(f"{dst_rel!r} has a line break in its name", "choose a name a .gitignore line can hold")
    parts = dst_rel.split("/")
    for i in range(1, len(parts)):
        anc = "/".join(parts[:i])
        if (repo.root / pointer_rel_for(anc)).exists():
            raise OverlapError(
                f"{dst_rel} is inside {anc}, which is tracked on its own ({anc}{ptr.SUFFIX})",
                "move it next to that folder instead, or re-add the whole folder after moving by hand",
            )
    with repo.lock():
        p = repo.ws.load_pointer(old_pointer)
        # every field but the name carries over: an import's `source:` too, or `cairn update`
        # would no longer know where the data came from
        moved = dataclasses.replace(p, path=dst_rel.rpartition("/")[2])
        (repo.root / dst_rel).parent.mkdir(parents=True, exist_ok=True)
        ptr.save(repo.root / new_pointer, moved)
        had_data = os.path.lexists(repo.root / src_rel)
        try:
            if had_data:
                os.rename(repo.root / src_rel, repo.root / dst_rel)
        except OSError:
            (repo.root / new_pointer).unlink()
            raise
        (repo.root / old_pointer).unlink()
        if had_data and (repo.root / dst_rel).is_dir():
            _move_stat_rows(repo, src_rel, dst_rel)
        ignore_in_git(repo.root, dst_rel)
        unignore_in_git(repo.root, src_rel)
    return {"from": src_rel, "to": dst_rel, "pointer": new_pointer, "old_pointer": old_pointer, "data_moved": had_data}


def _move_stat_rows(repo: Repo, src_rel: str, dst_rel: str) -> None:
    """A renamed folder's files keep their inode, mtime and ctime: their stat cache rows move with
    them, so the next status or add does not read them again. (A renamed file's own ctime
    changes, so a single file is simply hashed once more.)"""
    rows = repo.stats.load(src_rel)
    records = [
        (f"{dst_rel}{folder[len(src_rel) :]}/{name}", *entry)
        for folder, files in rows.items()
        for name, entry in files.items()
    ]
    repo.stats.update(records, {folder: set() for folder in rows})
