"""One commit as lineage sees it: its cairn.lock, pointers and git files, read from git
objects without checking anything out. Parsed locks and pointers are shared between commits
by git blob id, so walking a long history parses each distinct lock once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cairn.errors import CairnError
from cairn.index import pointer as ptr
from cairn.objects.tree import TREE, Tree
from cairn.pipelines import lock as lock_mod
from cairn.pipelines.lock import StageLock
from cairn.workspace.context import data_rel

STAGE_OUTPUT, POINTER, GIT, UNTRACKED = "stage_output", "pointer", "git", "untracked"


@dataclass
class Where:
    """How `path` is tracked at one commit. `within` is the tracked folder (stage output or
    pointer) a file sits in; `gap` says why its own id is unknown (a tree missing from the cache)."""

    path: str
    tracked: str
    oid: str | None
    kind: str
    size: int | None
    stage: str | None = None
    within: str | None = None
    within_oid: str | None = None
    gap: str | None = None


class Shared:
    """What every view of one repository shares: parsed locks, pointers and cache trees."""

    def __init__(self, git, store, index=None) -> None:
        self.git = git
        self.store = store
        self.index = index  # the lineage index (cairn.lineage.index), when there is one
        self._memo: dict[tuple[str, str], Any] = {}
        self._views: dict[str, View] = {}

    def memo(self, kind: str, key: str, make):
        slot = (kind, key)
        if slot not in self._memo:
            self._memo[slot] = make()
        return self._memo[slot]

    def view(self, commit: str) -> View:
        v = self._views.get(commit)
        if v is None:
            v = self._views[commit] = View(self, commit)
        return v

    def parse_lock(self, text: str, where: str) -> dict[str, StageLock]:
        """A lock parsed stage by stage: consecutive locks differ in a stage or two, so over a
        long history each distinct stage entry is parsed once (~0.3 ms) instead of every lock
        whole (~8 ms for 30 stages). A layout the split does not know is parsed whole."""
        split = split_stages(text)
        if split is None:
            return lock_mod.parse(text, where)
        header, blocks = split
        stages: dict[str, StageLock] = {}
        try:
            for block in blocks:
                part = self.memo("stage-entry", header + block, lambda b=block: lock_mod.parse(header + b, where))
                if len(part) != 1 or next(iter(part)) in stages:
                    return lock_mod.parse(text, where)
                stages.update(part)
        except CairnError:
            return lock_mod.parse(text, where)  # the whole file says what is wrong, and where
        return stages

    def tree(self, oid: str) -> Tree | None:
        """A tree object from the local cache, or None when the cache lacks it (lineage reads
        git and locks, not data: a missing tree is a gap to report, not a reason to fetch)."""

        def load() -> Tree | None:
            if not self.store.exists(oid):
                return None
            try:
                return Tree.from_bytes(self.store.read(oid), oid)
            except CairnError:
                return None

        return self.memo("tree", oid, load)


class View:
    def __init__(self, shared: Shared, commit: str) -> None:
        self.shared = shared
        self.commit = commit
        self.obj = shared.git.repo[commit]
        self._lock: dict[str, StageLock] | None = None
        self.lock_error: CairnError | None = None

    def git_obj(self, path: str):
        try:
            return self.obj.tree[path]
        except (KeyError, ValueError):
            return None

    def blob_id(self, path: str) -> str | None:
        obj = self.git_obj(path)
        return str(obj.id) if obj is not None and obj.type_str == "blob" else None

    @property
    def lock(self) -> dict[str, StageLock]:
        """This commit's cairn.lock (empty when absent or unreadable; `lock_error` says which)."""
        if self._lock is None:
            blob = self.git_obj(lock_mod.LOCK_FILE)
            if blob is None or blob.type_str != "blob":
                self._lock = {}
            else:
                where = f"{lock_mod.LOCK_FILE} at commit {self.commit[:7]}"
                try:
                    self._lock = self.shared.memo(
                        "lock",
                        str(blob.id),
                        lambda: self.shared.parse_lock(blob.data.decode("utf-8", "replace"), where),
                    )
                except CairnError as e:
                    self.lock_error, self._lock = e, {}
        return self._lock

    # -- cheap keys from the lock's text (history.first_seen): equal keys, equal answers ------
    def _text_parts(self) -> tuple[dict[str, str], str] | None:
        """(stage name -> its entry's text, the text of every `outs:` list) of this lock, from
        its text alone; None when the layout is not the one cairn writes."""
        blob = self.git_obj(lock_mod.LOCK_FILE)
        if blob is None or blob.type_str != "blob":
            return {}, ""
        return self.shared.memo("text-parts", str(blob.id), lambda: text_parts(blob.data.decode("utf-8", "replace")))

    def entry_key(self, stage: str) -> str | None:
        """The raw text of `stage`'s lock entry ("" when it has none); None when unknown."""
        parts = self._text_parts()
        return None if parts is None else parts[0].get(stage, "")

    def source_key(self, path: str) -> tuple | None:
        """What decides how a path no lock out holds is tracked: the blobs of the pointer files
        that could name it and its git object. None when some `outs:` list mentions the path
        or a folder above it (the lock may hold it: only a parse can tell)."""
        parts = self._text_parts()
        if parts is None:
            return None
        prefixes = _prefixes(path)
        if any(p in parts[1] for p in prefixes):
            return None
        pointers = tuple(_oid(self.git_obj(p + ptr.SUFFIX)) for p in prefixes)
        return pointers, _oid(self.git_obj(path))

    def checked_lock(self) -> dict[str, StageLock]:
        """The lock, or its PipelineError when it is damaged (for the commit asked about)."""
        lock = self.lock
        if self.lock_error is not None:
            raise self.lock_error
        return lock

    def pointer(self, data_path: str) -> ptr.Pointer | None:
        blob = self.git_obj(data_path + ptr.SUFFIX)
        if blob is None or blob.type_str != "blob":
            return None
        where = f"{data_path}{ptr.SUFFIX} at commit {self.commit[:7]}"
        try:
            p = self.shared.memo("pointer", str(blob.id), lambda: ptr.parse(blob.data, where))
        except CairnError:
            return None
        return p if data_rel(data_path + ptr.SUFFIX, p) == data_path else None

    def entry(self, stage: str) -> StageLock | None:
        """One stage's lock entry, parsing only that entry where the layout allows."""
        parts = self._text_parts()
        blob = self.git_obj(lock_mod.LOCK_FILE)
        if parts is None or blob is None or stage not in parts[0]:
            return self.lock.get(stage)
        header = "version: 2\nstages:\n"  # entries parse alike under either readable version
        where = f"{lock_mod.LOCK_FILE} at commit {self.commit[:7]}"
        text = parts[0][stage]
        try:
            got = self.shared.memo("stage-entry", header + text, lambda: lock_mod.parse(header + text, where))
        except CairnError:
            return self.lock.get(stage)
        return got.get(stage)

    def _outs(self) -> dict[str, tuple[str, lock_mod.PathState]]:
        """out path -> (stage, out) of this lock; shared by every commit with the same lock.
        The lineage index holds every lock's outs already: no parse then."""
        blob = self.git_obj(lock_mod.LOCK_FILE)
        if blob is None or blob.type_str != "blob":
            return {}
        index = self.shared.index
        if index is not None:
            known = self.shared.memo("outs-index", str(blob.id), lambda: index.outs_of(str(blob.id)))
            if known is not None:
                return known
        if not self.lock:
            return {}
        return self.shared.memo(
            "outs", str(blob.id), lambda: {o.path: (n, o) for n, e in self.lock.items() for o in e.outs}
        )

    def producer(self, path: str) -> tuple[str, lock_mod.PathState] | None:
        """(stage, out) of the lock entry whose out is `path` or a folder holding it."""
        outs = self._outs()
        if not outs:
            return None
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            found = outs.get("/".join(parts[:i]))
            if found is not None:
                return found
        return None

    def producers_below(self, path: str) -> list[str]:
        """Stages whose outs lie inside folder `path` (a dep on a folder several stages fill)."""
        prefix = path.rstrip("/") + "/"
        return [n for n, e in self.lock.items() if any(o.path.startswith(prefix) for o in e.outs)]

    def locate(self, path: str) -> Where | None:
        """How `path` is tracked here: a stage output (or a file in one), pointer data (or a
        file in it), a git file or folder; None when nothing holds it."""
        found = self.producer(path)
        if found is not None:
            stage, out = found
            return self._inside(path, STAGE_OUTPUT, out.path, out.kind, out.oid, out.size, stage)
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            top = "/".join(parts[:i])
            p = self.pointer(top)
            if p is not None:
                return self._inside(path, POINTER, top, p.kind, p.oid, p.size, None)
        obj = self.git_obj(path)
        if obj is not None:
            is_blob = obj.type_str == "blob"
            return Where(path, GIT, str(obj.id), "file" if is_blob else TREE, obj.size if is_blob else None)
        return None

    def _inside(self, path: str, tracked: str, top: str, kind: str, oid: str, size: int, stage) -> Where | None:
        if path == top:
            return Where(path, tracked, oid, kind, size, stage)
        where = Where(path, tracked, None, "file", None, stage, within=top, within_oid=oid)
        for name in path[len(top) + 1 :].split("/"):
            if kind != TREE:
                return None
            tree = self.shared.tree(oid)
            if tree is None:
                where.gap = f"tree object {oid} of {top} is not in the cache (run `cairn fetch`)"
                return where
            entry = tree.get(name)
            if entry is None:
                return None  # the folder holds no such file at this commit
            kind, oid, size = entry.kind, entry.oid, entry.size
        where.oid, where.kind, where.size = oid, kind, size
        return where


def split_stages(text: str) -> tuple[str, list[str]] | None:
    """(header ending in `stages:`, one text per stage entry) of a lock in the block layout
    cairn writes (entries at two spaces under `stages:`); None for any other layout."""
    m = _STAGES.search(text)
    if m is None:
        return None
    body = text[m.end() :]
    if not body.endswith("\n") or _OTHER_LINE.search(body[:-1]):
        return None  # a top-level key, a comment, a blank or list line: parse whole
    return text[: m.end()], [b for b in _ENTRY.split(body) if b]


_STAGES = re.compile(r"^stages:\n", re.M)
_OTHER_LINE = re.compile(r"^(?!  )|^  [-#]", re.M)
_ENTRY = re.compile(r"^(?=  \S)", re.M)


_ENTRY_NAME = re.compile(r"  ([A-Za-z0-9_][A-Za-z0-9_.@-]*):\n")
_OUTS = re.compile(r"^    outs:\n(?:(?:    -|      ).*\n)*", re.M)


def text_parts(text: str) -> tuple[dict[str, str], str] | None:
    split = split_stages(text)
    if split is None:
        return None
    entries: dict[str, str] = {}
    for block in split[1]:
        m = _ENTRY_NAME.match(block)
        if m is None or m.group(1) in entries:
            return None  # a quoted or repeated name: leave it to the parser
        entries[m.group(1)] = block
    return entries, "".join(m.group() for m in _OUTS.finditer(text))


def _prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _oid(obj) -> str | None:
    return None if obj is None else str(obj.id)
