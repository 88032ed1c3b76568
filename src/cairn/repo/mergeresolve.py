"""`cairn merge resolve`: settle the conflicts an unfinished merge of tracked data left, taking
ours, theirs or both side by side at the conflicting paths only (what merged cleanly stays),
then write and `git add` the pointer once its last conflict is settled."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cairn.errors import MergeError
from cairn.index import pointer as ptr
from cairn.objects.tree import TREE, Entry
from cairn.repo.merge import tree_loader
from cairn.repo.mergestate import MergeState, PointerMerge, conflicts, data_rel_of, live_entries, write_atomic
from cairn.workspace.merge import apply_edits, entry_of

if TYPE_CHECKING:
    from cairn.repo.repo import Repo

SIDES = ("ours", "theirs", "both")


@dataclass
class ResolveResult:
    settled: list[str]  # paths settled
    finished: list[str]  # pointer files written and staged (their last conflict settled)
    left: int  # conflicts still open in the pointers touched


def resolve(repo: Repo, target: str, side: str) -> ResolveResult:
    """Settle the conflicts at `target` (a path, or a folder: every conflict below it) by taking
    ours, theirs, or both side by side; what merged cleanly stays. The pointer is written and
    `git add`-ed once its last conflict is settled."""
    if side not in SIDES:
        raise MergeError(f"unknown side {side!r}", "use --ours, --theirs or --both")
    repo._need_git("merge resolve")
    rel = repo.ws.rel(target).removesuffix(ptr.SUFFIX)
    with repo.lock():
        state = MergeState.load(repo)
        live = live_entries(repo, state)
        picked = _pick(live, rel)
        if not picked:
            listed = ", ".join(c["path"] for c in conflicts(repo)[:5]) or "none"
            raise MergeError(
                f"there is no merge conflict at {rel} (conflicting paths: {listed})",
                "`cairn status` lists the paths a merge left in conflict",
            )
        result = ResolveResult([], [], 0)
        for pointer_file, chosen in picked.items():
            entry = live[pointer_file]
            _settle(repo, pointer_file, entry, chosen, side, result)
            if entry.conflicts:
                result.left += len(entry.conflicts)
            else:
                write_atomic(repo, repo.root / pointer_file, _final(entry).to_yaml())
                _git_add(repo, pointer_file)
                state.pointers.pop(pointer_file)
                result.finished.append(pointer_file)
            state.save(repo)  # after the pointer: a rerun after a kill redoes the same, never less
        return result


def _pick(live: dict[str, PointerMerge], rel: str) -> dict[str, list[dict]]:
    out = {}
    for pointer_file, entry in live.items():
        folder = data_rel_of(pointer_file, entry.ours)
        if rel == folder or folder.startswith(rel + "/"):
            chosen = list(entry.conflicts)
        elif rel.startswith(folder + "/"):
            inner = rel[len(folder) + 1 :]
            chosen = [c for c in entry.conflicts if c["path"] == inner or c["path"].startswith(inner + "/")]
        else:
            continue
        if chosen:
            out[pointer_file] = chosen
    return out


def _final(entry: PointerMerge) -> ptr.Pointer:
    return entry.pointer() if entry.clean is not None else entry.ours


def _settle(repo: Repo, pointer_file: str, entry: PointerMerge, chosen: list[dict], side: str, result) -> None:
    folder = data_rel_of(pointer_file, entry.ours)
    if entry.clean is None:  # a whole-pointer conflict
        if side == "both":
            raise MergeError(
                f"{folder} cannot be kept both ways: its conflict is about the whole pointer "
                f"({entry.conflicts[0]['kind']})",
                f"use `cairn merge resolve {folder} --ours` or `--theirs`",
            )
        taken = entry.ours if side == "ours" else entry.theirs
        entry.clean = None
        entry.ours = taken  # _final returns it
        entry.conflicts = []
        result.settled.append(folder)
        return
    edits: dict[str, Entry | None] = {}
    load = tree_loader(repo, pointer_file)
    for c in chosen:
        path = c["path"]
        ours, theirs = entry_of(c["ours"]), entry_of(c["theirs"])
        if side == "ours":
            edits[path] = ours
        elif side == "theirs":
            edits[path] = theirs
        elif ours is None or theirs is None:
            edits[path] = ours or theirs  # only one version exists: it stays under its name
        else:
            parent, _, name = path.rpartition("/")
            edits[path] = None
            prefix = f"{parent}/" if parent else ""
            taken = _names_in(load, entry.clean["oid"], parent) | {
                p[len(prefix) :] for p in edits if p.startswith(prefix)
            }
            for label, e in (("ours", ours), ("theirs", theirs)):
                new = _side_name(name, label, e.kind, taken)
                edits[prefix + new] = Entry(new, e.kind, e.oid, e.size, e.exec)
        result.settled.append(f"{folder}/{path}")
    oid, size, delta = apply_edits(entry.clean["oid"], edits, load, repo.store.add_bytes)
    entry.clean = {"oid": oid, "size": size, "files": max(entry.clean["files"] + delta, 0)}
    done = {id(c) for c in chosen}
    entry.conflicts = [c for c in entry.conflicts if id(c) not in done]


def _names_in(load, root: str, folder: str) -> set[str]:
    """Names in `folder` of tree `root` (empty when it is not a folder there)."""
    oid = root
    for part in folder.split("/") if folder else ():
        e = load(oid).get(part)
        if e is None or e.kind != TREE:
            return set()
        oid = e.oid
    return {e.name for e in load(oid).entries}


def _side_name(name: str, label: str, kind: str, taken: set[str]) -> str:
    """`cat.png` -> `cat~ours.png`; a folder or a name without extension: `data~ours`; a name
    already taken gets a number: `cat~ours-2.png`."""
    stem, dot, ext = name.rpartition(".")
    if kind == TREE or not dot or not stem:
        stem, ext = name, ""
    n = 1
    while True:
        new = f"{stem}~{label}" + (f"-{n}" if n > 1 else "") + (f".{ext}" if ext else "")
        if new not in taken:
            taken.add(new)
            return new
        n += 1


def _git_add(repo: Repo, pointer_file: str) -> None:
    proc = subprocess.run(
        ["git", "add", "--", pointer_file], cwd=repo.root, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        from cairn.scm.gitcli import failure

        raise MergeError(
            f"the merged pointer {pointer_file} is written but `git add` failed: {failure(proc)}",
            f"run `git add {pointer_file}` yourself",
        )
