"""Merging tracked data with git: the merge driver git runs for pointer files and cairn.lock,
its setup, the merge state of unfinished merges, and settling their conflicts.

Git runs `cairn merge driver %O %A %B %P` (base, ours, theirs, path) from the work tree's top for
each `*.cairn` and `cairn.lock` that changed on both sides; the result goes into %A, exit 0 means
merged, anything else a conflict git stops on. Folder pointers merge file by file
(workspace/merge.py). What cannot merge is recorded in `.cairn/state/merge.json` (docs/formats.md)
so that `cairn status` can list it and `cairn merge resolve` can settle it."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.errors import CairnError, MergeError, ObjectMissingError, PointerError, RemoteError, shown
from cairn.index import pointer as ptr
from cairn.objects.tree import FILE, TREE, Entry, Tree
from cairn.workspace.merge import (
    BOTH_ADDED,
    BOTH_MODIFIED,
    FILE_VS_FOLDER,
    Conflict,
    apply_edits,
    entry_of,
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
STATE_FILE = "merge.json"
STATE_VERSION = 1
# whole-pointer conflict kinds, besides those of workspace/merge.py
RENAME = "rename"  # the pointer's `path` differs between the sides
MISSING = "missing-object"  # a folder version could not be had from the cache or a remote
SIDE_HEADS = ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")


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
        _write_atomic(path, body)
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
        _write_atomic(files[1], text)
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
        _write_atomic(out, taken.to_yaml())
        state.save(repo)
        return DriverResult(path, True, detail="one side's version taken whole")
    entry = PointerMerge(base, ours, theirs)
    if ours.path != theirs.path:
        entry.whole(RENAME, f"ours names {shown(ours.path)}, theirs {shown(theirs.path)}")
    elif ours.kind == FILE or theirs.kind == FILE:
        if ours.kind != theirs.kind:
            entry.whole(FILE_VS_FOLDER, "a file on one side, a folder on the other")
        else:
            entry.whole(BOTH_MODIFIED if base is not None else BOTH_ADDED, "the file changed on both sides")
    else:
        b = base.oid if base is not None and base.kind == TREE and base.path == ours.path else None
        try:
            m = merge_trees(b, ours.oid, theirs.oid, _tree_loader(repo, path), repo.store.add_bytes)
        except ObjectMissingError as e:
            entry.whole(MISSING, e.message, e.hint)
        else:
            entry.clean = {"oid": m.oid, "size": m.size, "files": max(ours.files + m.files_delta, 0)}
            entry.conflicts = [c.to_dict() for c in m.conflicts]
            if m.clean:
                _write_atomic(out, entry.pointer().to_yaml())
                state.save(repo)
                return DriverResult(path, True, detail=f"merged file by file ({m.written} folder(s) rewritten)")
    state.pointers[path] = entry
    state.save(repo)
    return DriverResult(path, False, conflicts=entry.conflicts)


def _tree_loader(repo: Repo, path: str):
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


# -- the merge state -----------------------------------------------------------------------


def _pointer_dict(p: ptr.Pointer | None) -> dict | None:
    if p is None:
        return None
    return {
        "path": p.path,
        "kind": p.kind,
        "oid": p.oid,
        "size": p.size,
        "files": p.files,
        "exec": p.exec,
        "follow_symlinks": p.follow_symlinks,
    }


def _pointer_of(d: dict | None) -> ptr.Pointer | None:
    return None if d is None else ptr.Pointer(**d)


@dataclass
class PointerMerge:
    """One pointer file's unfinished merge: the three versions, the merged part (a tree holding
    ours where paths conflict) and the conflicts. A whole-pointer conflict has path "" and no
    merged part."""

    base: ptr.Pointer | None
    ours: ptr.Pointer
    theirs: ptr.Pointer
    clean: dict | None = None  # {"oid", "size", "files"}
    conflicts: list[dict] = field(default_factory=list)
    reason: str = ""
    hint: str | None = None

    def whole(self, kind: str, reason: str, hint: str | None = None) -> None:
        self.clean, self.reason, self.hint = None, reason, hint
        self.conflicts = [
            Conflict("", kind, _as_entry(self.base), _as_entry(self.ours), _as_entry(self.theirs)).to_dict()
        ]

    def pointer(self) -> ptr.Pointer:
        assert self.clean is not None
        o = self.ours
        return ptr.Pointer(
            o.path, TREE, self.clean["oid"], self.clean["size"], self.clean["files"], False, o.follow_symlinks
        )

    def to_dict(self) -> dict:
        return {
            "base": _pointer_dict(self.base),
            "ours": _pointer_dict(self.ours),
            "theirs": _pointer_dict(self.theirs),
            "clean": self.clean,
            "conflicts": self.conflicts,
            "reason": self.reason,
            "hint": self.hint,
        }

    @classmethod
    def from_dict(cls, d: dict) -> PointerMerge:
        return cls(
            _pointer_of(d["base"]),
            _pointer_of(d["ours"]),
            _pointer_of(d["theirs"]),
            d["clean"],
            list(d["conflicts"]),
            str(d.get("reason") or ""),
            d.get("hint"),
        )

    def roots(self) -> list[tuple[str, str]]:
        out = [(p.kind, p.oid) for p in (self.base, self.ours, self.theirs) if p is not None]
        return out + ([(TREE, self.clean["oid"])] if self.clean else [])


def _as_entry(p: ptr.Pointer | None) -> Entry | None:
    return None if p is None else Entry(p.path, p.kind, p.oid, p.size, p.exec)


@dataclass
class MergeState:
    pointers: dict[str, PointerMerge] = field(default_factory=dict)  # pointer file -> its merge

    @staticmethod
    def file(repo: Repo) -> Path:
        return repo.dot / "state" / STATE_FILE

    @classmethod
    def load(cls, repo: Repo) -> MergeState:
        f = cls.file(repo)
        try:
            doc = json.loads(f.read_bytes())
        except FileNotFoundError:
            return cls()
        except ValueError:
            raise _bad_state(f, "it is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            version = doc.get("version") if isinstance(doc, dict) else None
            raise _bad_state(f, f"it has format version {shown(version)}, this cairn reads {STATE_VERSION}")
        try:
            return cls({str(k): PointerMerge.from_dict(v) for k, v in doc["pointers"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise _bad_state(f, f"it is damaged ({e})") from None

    def save(self, repo: Repo) -> None:
        f = self.file(repo)
        if not self.pointers:
            f.unlink(missing_ok=True)
            return
        f.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": STATE_VERSION, "pointers": {k: v.to_dict() for k, v in sorted(self.pointers.items())}}
        _write_atomic(f, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def _bad_state(f: Path, why: str) -> MergeError:
    return MergeError(
        f"the merge state {f.name} in .cairn/state cannot be read: {why}",
        "finish the merge with git alone (`git checkout --ours|--theirs -- PATH`), then delete that file",
    )


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _live(repo: Repo, state: MergeState) -> dict[str, PointerMerge]:
    """The entries git still has a conflict for: an aborted merge, or a path settled with git
    alone, leaves an entry that no longer counts."""
    if repo.git is None or not state.pointers:
        return {}
    index = repo.git.repo.index
    index.read()
    conflicted = set()
    for sides in index.conflicts or ():
        conflicted.update(s.path for s in sides if s is not None)
    return {k: v for k, v in state.pointers.items() if k in conflicted}


def merge_roots(repo: Repo) -> list[tuple[str, str]]:
    """Versions an unfinished merge needs (both sides, the base, the merged part): gc keeps them."""
    try:
        state = MergeState.load(repo)
    except MergeError:
        return []
    return [r for entry in state.pointers.values() for r in entry.roots()]


# -- status and resolve --------------------------------------------------------------------


def _heads(repo: Repo) -> dict[str, dict]:
    """The commit on each side: HEAD, and MERGE_HEAD / REBASE_HEAD / CHERRY_PICK_HEAD."""
    gitdir = Path(repo.git.repo.path)
    out = {"ours": _commit(repo, "HEAD")}
    for name in SIDE_HEADS:
        if (gitdir / name).exists():
            out["theirs"] = _commit(repo, name)
            break
    return out


def _commit(repo: Repo, ref: str) -> dict:
    try:
        c = repo.git.resolve(ref)
    except CairnError:
        return {"ref": ref, "commit": None, "subject": None}
    return {"ref": ref, "commit": str(c.id), "subject": c.message.partition("\n")[0]}


def conflicts(repo: Repo) -> list[dict]:
    """Every conflicting path of an unfinished merge, with both versions (size, oid, kind) and
    the commit of each side; empty when there is none."""
    if not MergeState.file(repo).exists():
        return []
    live = _live(repo, MergeState.load(repo))
    if not live:
        return []
    heads = _heads(repo)
    out = []
    for pointer_file, entry in sorted(live.items()):
        folder = _data_rel(pointer_file, entry.ours)
        for c in entry.conflicts:
            row = {"pointer": pointer_file, "path": f"{folder}/{c['path']}" if c["path"] else folder, "kind": c["kind"]}
            for side in ("base", "ours", "theirs"):
                e = c[side]
                row[side] = None if e is None else {"kind": e["kind"], "oid": e["oid"], "size": e["size"]}
                if side in heads and row[side] is not None:
                    row[side].update(heads[side])
            if entry.reason:
                row["reason"] = entry.reason
            out.append(row)
    return out


def _data_rel(pointer_file: str, p: ptr.Pointer) -> str:
    parent = pointer_file.rpartition("/")[0]
    return f"{parent}/{p.path}" if parent else p.path


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
        live = _live(repo, state)
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
                _write_atomic(repo.root / pointer_file, _final(entry).to_yaml())
                _git_add(repo, pointer_file)
                state.pointers.pop(pointer_file)
                result.finished.append(pointer_file)
            state.save(repo)  # after the pointer: a rerun after a kill redoes the same, never less
        return result


def _pick(live: dict[str, PointerMerge], rel: str) -> dict[str, list[dict]]:
    out = {}
    for pointer_file, entry in live.items():
        folder = _data_rel(pointer_file, entry.ours)
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
    folder = _data_rel(pointer_file, entry.ours)
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
    taken_names: set[str] = set()
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
            for label, e in (("ours", ours), ("theirs", theirs)):
                new = _side_name(name, label, e.kind, taken_names)
                edits[f"{parent}/{new}" if parent else new] = Entry(new, e.kind, e.oid, e.size, e.exec)
        result.settled.append(f"{folder}/{path}")
    oid, size, delta = apply_edits(entry.clean["oid"], edits, _tree_loader(repo, pointer_file), repo.store.add_bytes)
    entry.clean = {"oid": oid, "size": size, "files": max(entry.clean["files"] + delta, 0)}
    done = {id(c) for c in chosen}
    entry.conflicts = [c for c in entry.conflicts if id(c) not in done]


def _side_name(name: str, label: str, kind: str, taken: set[str]) -> str:
    """`cat.png` -> `cat~ours.png`; a folder or a name without extension: `data~ours`."""
    stem, dot, ext = name.rpartition(".")
    if kind == TREE or not dot or not stem:
        stem, ext = name, ""
    new = f"{stem}~{label}" + (f".{ext}" if ext else "")
    taken.add(new)
    return new


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
