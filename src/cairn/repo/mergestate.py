"""The merge state: what an unfinished merge of tracked data left to settle, in
`.cairn/state/merge.json` (docs/formats.md), and the listing `cairn status` shows of it.

Written atomically by the merge driver and by `cairn merge resolve`; an entry counts only while
git still has a conflict for its pointer file (an aborted merge leaves a stale one behind)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.errors import CairnError, MergeError, shown
from cairn.index import pointer as ptr
from cairn.objects.tree import TREE, Entry
from cairn.repo.repo import MERGE_STATE  # defined with Repo, which looks for it before importing this module

if TYPE_CHECKING:
    from cairn.repo.repo import Repo

STATE_VERSION = 1
SIDE_HEADS = ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")


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
        **({"source": p.source_doc()} if p.source else {}),
    }


def _pointer_of(d: dict | None) -> ptr.Pointer | None:
    if d is None:
        return None
    source = tuple((d.pop("source", None) or {}).items())  # an import keeps its origin through resolve
    return ptr.Pointer(**d, source=source)


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
        from cairn.workspace.merge import Conflict  # here: every `cairn status` loads this module

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
        return repo.dot / "state" / MERGE_STATE

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
        write_atomic(repo, f, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def _bad_state(f: Path, why: str) -> MergeError:
    return MergeError(
        f"the merge state {f.name} in .cairn/state cannot be read: {why}",
        "finish the merge with git alone (`git checkout --ours|--theirs -- PATH`), then delete that file",
    )


def write_atomic(repo: Repo, path: Path, text: str) -> None:
    """Write `path` whole or not at all. The temp file lives in .cairn/tmp (same file system,
    ignored by git), so one a kill -9 leaves never shows up among the user's files."""
    tmp_dir = repo.dot / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"merge.{path.name}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def live_entries(repo: Repo, state: MergeState) -> dict[str, PointerMerge]:
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


# -- what `cairn status` shows ---------------------------------------------------------------


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
    live = live_entries(repo, MergeState.load(repo))
    if not live:
        return []
    heads = _heads(repo)
    out = []
    for pointer_file, entry in sorted(live.items()):
        folder = data_rel_of(pointer_file, entry.ours)
        for c in entry.conflicts:
            row = {"pointer": pointer_file, "path": f"{folder}/{c['path']}" if c["path"] else folder, "kind": c["kind"]}
            for side in ("base", "ours", "theirs"):
                e = c[side]
                row[side] = None if e is None else {"kind": e["kind"], "oid": e["oid"], "size": e["size"]}
                if side in heads and row[side] is not None:
                    row[side].update(heads[side])
            if entry.reason:
                row["reason"] = entry.reason
            if entry.hint:  # what settles a whole-pointer conflict (a missing folder version: push, fetch)
                row["hint"] = entry.hint
            out.append(row)
    return out


def data_rel_of(pointer_file: str, p: ptr.Pointer) -> str:
    parent = pointer_file.rpartition("/")[0]
    return f"{parent}/{p.path}" if parent else p.path
