"""Merging tracked data with git: the merge driver git runs for pointer files and cairn.lock, and
its setup (the merge state is in repo/mergestate.py, settling conflicts in repo/mergeresolve.py).

Git runs `cairn merge driver %O %A %B %P` (base, ours, theirs, path) from the work tree's top for
each `*.cairn` and `cairn.lock` that changed on both sides; the result goes into %A, exit 0 means
merged, anything else a conflict git stops on. Folder pointers merge file by file
(workspace/merge.py). What cannot merge is recorded in `.cairn/state/merge.json` (docs/formats.md)
so that `cairn status` can list it and `cairn merge resolve` can settle it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.errors import CairnError, MergeError, ObjectMissingError, PointerError, RemoteError, shown
from cairn.index import pointer as ptr
from cairn.objects.tree import FILE, TREE, Tree
from cairn.repo.mergestate import MergeState, PointerMerge, data_rel_of, write_atomic
from cairn.workspace.merge import (
    BOTH_ADDED,
    BOTH_MODIFIED,
    FILE_VS_FOLDER,
    merge_trees,
)

if TYPE_CHECKING:
    from cairn.repo.repo import Repo

ATTRIBUTES = ("*.cairn merge=cairn", "cairn.lock merge=cairn-lock")
DRIVERS = {
    "cairn": ("cairn: three-way merge of tracked data (pointer files)", "cairn merge driver %O %A %B %P"),
    "cairn-lock": (
        "cairn: merge of cairn.lock (stages changed on both sides dropped)",
        "cairn merge driver %O %A %B %P",
    ),
}
# whole-pointer conflict kinds, besides those of workspace/merge.py
RENAME = "rename"  # the pointer's `path` differs between the sides
MISSING = "missing-object"  # a folder version could not be had from the cache or a remote


# -- setup ---------------------------------------------------------------------------------


@dataclass
class SetupResult:
    attributes: str  # the .gitattributes file, relative to the root
    added: list[str]  # lines it did not have yet
    drivers: list[str]


def setup(repo: Repo) -> SetupResult:
    """Write the .gitattributes lines (kept if present, other lines untouched) and register the
    drivers in this clone's git config (git config is per clone: a fresh clone runs this once)."""
    from cairn.scm.gitcli import failure, run_git

    repo._need_git("merge setup")
    path = repo.root / ".gitattributes"
    text = path.read_text() if path.exists() else ""
    have = {ln.strip() for ln in text.splitlines()}
    added = [ln for ln in ATTRIBUTES if ln not in have]
    if added:
        body = text + ("\n" if text and not text.endswith("\n") else "") + "".join(f"{ln}\n" for ln in added)
        write_atomic(repo, path, body)
    for name, (label, command) in DRIVERS.items():
        for key, value in ((f"merge.{name}.name", label), (f"merge.{name}.driver", command)):
            proc = run_git(repo.root, ["config", key, value], 30)
            if proc is None or proc.returncode != 0:
                raise MergeError(
                    f"could not set {key} in the git config: {failure(proc) if proc else 'git timed out'}",
                    "check that .git/config is writable, then run `cairn merge setup` again",
                )
    return SetupResult(".gitattributes", added, list(DRIVERS))


# -- the driver ----------------------------------------------------------------------------


@dataclass
class DriverResult:
    path: str
    clean: bool
    dropped: list[str] = field(default_factory=list)  # cairn.lock stages changed on both sides
    conflicts: list[dict] = field(default_factory=list)
    detail: str = ""  # what merged, in a few words
    reason: str | None = None  # why a whole pointer conflicts, and what settles it
    hint: str | None = None


def driver(repo: Repo, base_file: str, ours_file: str, theirs_file: str, path: str) -> DriverResult:
    """Merge one file as git asks: %O, %A (the result is written here), %B and %P."""
    files = [Path(f) for f in (base_file, ours_file, theirs_file)]
    try:
        base, ours, theirs = (f.read_bytes() for f in files)
    except OSError as e:
        raise MergeError(
            f"cannot read the versions git handed over for {path}: {e.strerror} ({e.filename})",
            "run the merge again with git (`git merge --abort`, then `git merge ...`)",
        ) from None
    if path.rpartition("/")[2] == "cairn.lock":
        from cairn.pipelines.lockmerge import merge_locks

        text, dropped = merge_locks(base.decode() if base.strip() else None, ours.decode(), theirs.decode(), path)
        write_atomic(repo, files[1], text)
        return DriverResult(path, True, dropped=dropped)
    with repo.lock():
        return _merge_pointer(repo, path, base, ours, theirs, files[1])


def _parse(data: bytes, path: str, side: str) -> ptr.Pointer:
    try:
        return ptr.parse(data, f"{path} ({side})")
    except PointerError as e:
        raise PointerError(
            e.message,
            f"fix the pointer on that side's branch, or take one side whole: "
            f"`git checkout --ours -- {path}` (or --theirs), then `git add {path}`",
        ) from None


def _merge_pointer(repo: Repo, path: str, base_b: bytes, ours_b: bytes, theirs_b: bytes, out: Path) -> DriverResult:
    ours, theirs = _parse(ours_b, path, "ours"), _parse(theirs_b, path, "theirs")
    base = _parse(base_b, path, "base") if base_b.strip() else None  # git passes an empty file: no base
    state = MergeState.load(repo)
    state.pointers.pop(path, None)  # a new merge of this path replaces what an abandoned one left
    taken = ours if ours == theirs or base == theirs else theirs if base == ours else None
    if taken is not None:
        write_atomic(repo, out, taken.to_yaml())
        state.save(repo)
        return DriverResult(path, True, detail="one side's version taken whole")
    entry = PointerMerge(base, ours, theirs)
    if ours.path != theirs.path:
        entry.whole(RENAME, f"ours names {shown(ours.path)}, theirs {shown(theirs.path)}")
    elif ours.source or theirs.source:
        # merged file by file, an import would match no revision of its source, and `cairn update`
        # would no longer know where it came from: one side is kept whole
        entry.whole(
            BOTH_MODIFIED,
            "an import changed on both sides",
            f"keep one side whole (`cairn merge resolve {data_rel_of(path, ours)} --ours` or `--theirs`), "
            "then `cairn update --rev REV` moves it to the revision you want",
        )
    elif ours.kind == FILE or theirs.kind == FILE:
        if ours.kind != theirs.kind:
            entry.whole(FILE_VS_FOLDER, "a file on one side, a folder on the other")
        else:
            entry.whole(BOTH_MODIFIED if base is not None else BOTH_ADDED, "the file changed on both sides")
    else:
        b = base.oid if base is not None and base.kind == TREE and base.path == ours.path else None
        try:
            m = merge_trees(b, ours.oid, theirs.oid, tree_loader(repo, path), repo.store.add_bytes)
        except ObjectMissingError as e:
            entry.whole(MISSING, e.message, e.hint)
        else:
            entry.clean = {"oid": m.oid, "size": m.size, "files": max(ours.files + m.files_delta, 0)}
            entry.conflicts = [c.to_dict() for c in m.conflicts]
            if m.clean:
                write_atomic(repo, out, entry.pointer().to_yaml())
                state.save(repo)
                return DriverResult(path, True, detail=f"merged file by file ({m.written} folder(s) rewritten)")
    state.pointers[path] = entry
    state.save(repo)
    return DriverResult(path, False, conflicts=entry.conflicts, reason=entry.reason, hint=entry.hint)


def tree_loader(repo: Repo, path: str):
    """Trees from the cache, else from the default remote (then any other), kept in the cache.
    When no remote has it: ObjectMissingError naming the object and the fetch that would help."""
    memo: dict[str, Tree] = {}
    remotes: dict[str, object] = {}
    tried: list[str] = []

    def fetch(oid: str) -> bytes | None:
        names = list(repo.remotes.list())
        default = repo.remotes.default()
        names.sort(key=lambda n: n != default)
        for name in names:
            try:
                r = remotes.get(name) or remotes.setdefault(name, repo.remotes.open(name))
                data = r.read_object(oid)  # verified against its id
            except (RemoteError, CairnError, OSError):
                if name not in tried:
                    tried.append(name)
                continue
            repo.store.add_bytes(data, oid)
            return data
        return None

    def load(oid: str) -> Tree:
        t = memo.get(oid)
        if t is None:
            try:
                data = repo.store.read(oid)
            except ObjectMissingError:
                got = fetch(oid)
                if got is None:
                    raise _missing_tree(oid, path, tried) from None
                data = got
            t = memo[oid] = Tree.from_bytes(data, oid)
        return t

    return load


def _missing_tree(oid: str, path: str, tried: list[str]) -> ObjectMissingError:
    if not tried:
        hint = "add the remote the other side pushed to (`cairn remote add NAME URL`), then `cairn fetch -r NAME`"
    else:
        hint = (
            f"the clone that made it must `cairn push` it; then `cairn fetch -r {tried[0]}` and merge again, "
            f"or settle this with `cairn merge resolve {path.removesuffix(ptr.SUFFIX)} --ours` (or --theirs)"
        )
    where = f" (tried remote(s) {', '.join(tried)})" if tried else " and no remote is configured"
    return ObjectMissingError(f"folder version {oid} of {path} is not in the cache{where}", hint, [oid])
