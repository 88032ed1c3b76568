"""Three-way merge of tree objects, behind the git merge driver for folder pointers.

The merge walks base, ours and theirs side by side and descends only where they differ: an
entry equal on two sides is settled without loading it, so merging two versions of a
1,000,000-file folder costs what changed. Only the folders whose merged listing differs from
ours get a new tree object. Paths that cannot merge are reported as conflicts; the merged tree
then holds ours at those paths (the "clean part"), and `apply_edits` settles them later.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter

from blake3 import blake3

from cairn.objects.tree import FILE, TREE, Entry, Tree, TreeLoader, diff_trees, encode_rows

# conflict kinds
BOTH_MODIFIED = "both-modified"  # a file changed differently on both sides
BOTH_ADDED = "both-added"  # a file added on both sides with different bytes (or no common base)
MODIFY_DELETE = "modify-delete"  # changed on one side, deleted on the other
FILE_VS_FOLDER = "file-vs-folder"  # a file on one side where the other has a folder

Store = Callable[[bytes, str], object]  # (tree bytes, oid) -> stores the object


@dataclass(frozen=True, slots=True)
class Conflict:
    path: str  # relative to the merged folder, "/"-separated
    kind: str
    base: Entry | None
    ours: Entry | None
    theirs: Entry | None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind,
            "base": entry_dict(self.base),
            "ours": entry_dict(self.ours),
            "theirs": entry_dict(self.theirs),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Conflict:
        return cls(str(d["path"]), str(d["kind"]), entry_of(d["base"]), entry_of(d["ours"]), entry_of(d["theirs"]))


@dataclass
class TreeMerge:
    """The merged tree (with ours at conflicting paths), its size, how many files it holds more
    than ours, and the conflicts. `oid` is None when nothing is left (both sides emptied it)."""

    oid: str | None
    size: int
    files_delta: int
    conflicts: list[Conflict] = field(default_factory=list)
    written: int = 0  # new tree objects stored

    @property
    def clean(self) -> bool:
        return not self.conflicts


def entry_dict(e: Entry | None) -> dict | None:
    if e is None:
        return None
    return {"name": e.name, "kind": e.kind, "oid": e.oid, "size": e.size, "exec": e.exec}


def entry_of(d: dict | None) -> Entry | None:
    if d is None:
        return None
    return Entry(str(d["name"]), str(d["kind"]), str(d["oid"]), int(d["size"]), bool(d["exec"]))


def _same(a: Entry | None, b: Entry | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.kind == b.kind and a.oid == b.oid and a.exec == b.exec


class _Merger:
    def __init__(self, load: TreeLoader, store: Store) -> None:
        self.load = load
        self.store = store
        self.conflicts: list[Conflict] = []
        self.written = 0

    def delta(self, old: Entry | None, new: Entry | None) -> int:
        """Files under `new` minus files under `old`, from their diff: identical subtrees are
        skipped, so taking one side's version of a huge folder costs what that side changed."""
        if _same(old, new):
            return 0
        d = (new is not None and new.kind == FILE) - (old is not None and old.kind == FILE)
        a = old.oid if old is not None and old.kind == TREE else None
        b = new.oid if new is not None and new.kind == TREE else None
        if a or b:
            for ch in diff_trees(a, b, self.load):
                d += (ch.status == "added") - (ch.status == "deleted")
        return d

    def entry(
        self, path: str, name: str, base: Entry | None, ours: Entry | None, theirs: Entry | None
    ) -> tuple[Entry | None, int]:
        """The merged entry at `path` and its file count minus ours'."""
        if _same(ours, theirs) or _same(base, theirs):
            return ours, 0
        if _same(base, ours):
            return theirs, self.delta(ours, theirs)
        # changed on both sides, differently
        if ours is not None and theirs is not None and ours.kind == FILE and theirs.kind == FILE:
            return self._files(path, base, ours, theirs)
        if (ours is None or ours.kind == TREE) and (theirs is None or theirs.kind == TREE):
            if (ours is None or theirs is None) and (base is None or base.kind != TREE):
                return self._conflict(MODIFY_DELETE, path, base, ours, theirs)
            return self._trees(path, name, base, ours, theirs)
        if ours is None or theirs is None:
            return self._conflict(MODIFY_DELETE, path, base, ours, theirs)
        return self._conflict(FILE_VS_FOLDER, path, base, ours, theirs)

    def _files(self, path: str, base: Entry | None, ours: Entry, theirs: Entry) -> tuple[Entry | None, int]:
        # content and executable bit merge independently, as git merges content and mode
        b = base if base is not None and base.kind == FILE else None
        if ours.oid == theirs.oid:
            oid, size = ours.oid, ours.size
        elif b is not None and b.oid == ours.oid:
            oid, size = theirs.oid, theirs.size
        elif b is not None and b.oid == theirs.oid:
            oid, size = ours.oid, ours.size
        else:
            return self._conflict(BOTH_MODIFIED if b is not None else BOTH_ADDED, path, base, ours, theirs)
        if ours.exec == theirs.exec:
            exe = ours.exec
        elif b is not None:
            exe = theirs.exec if b.exec == ours.exec else ours.exec
        else:
            return self._conflict(BOTH_ADDED, path, base, ours, theirs)
        return Entry(ours.name, FILE, oid, size, exe), 0

    def _conflict(
        self, kind: str, path: str, base: Entry | None, ours: Entry | None, theirs: Entry | None
    ) -> tuple[Entry | None, int]:
        self.conflicts.append(Conflict(path, kind, base, ours, theirs))
        return ours, 0  # the clean part holds ours until the conflict is settled

    def _trees(
        self, path: str, name: str, base: Entry | None, ours: Entry | None, theirs: Entry | None
    ) -> tuple[Entry | None, int]:
        b = base.oid if base is not None and base.kind == TREE else None
        oid, size, delta = self.tree(
            path + "/", b, ours.oid if ours is not None else None, theirs.oid if theirs is not None else None
        )
        if oid is None and (ours is None or theirs is None):
            return None, delta  # deleted on one side, and nothing of the other's changes is left
        if oid is None:
            oid, size = self.write([])
        return Entry(name, TREE, oid, size, False), delta

    def tree(self, prefix: str, base: str | None, ours: str | None, theirs: str | None) -> tuple[str | None, int, int]:
        """(merged tree id or None when empty, its size, files minus ours') of three trees."""
        bt = self.load(base) if base else Tree([])
        ot = self.load(ours) if ours else Tree([])
        tt = self.load(theirs) if theirs else Tree([])
        # entry() keeps ours wherever theirs equals ours or base, so only the names where theirs
        # differs from both need a look. Whole entries are compared in C (sets of tuples): when
        # every folder differs, Python code per entry would cost more than parsing the trees.
        todo = set(map(_name, set(tt.entries).difference(ot.entries, bt.entries)))
        todo.update(set(map(_name, ot.entries)).intersection(map(_name, bt.entries)).difference(map(_name, tt.entries)))
        merged = dict(zip(map(_name, ot.entries), ot.entries, strict=True))
        delta = 0
        changed = False
        for name in sorted(todo):  # in name order, as the conflicts are listed
            o = merged.get(name)
            m, d = self.entry(prefix + name, name, bt.get(name), o, tt.get(name))
            delta += d
            if not _same(m, o):
                changed = True
            if m is None:
                merged.pop(name, None)
            else:
                merged[name] = m
        if ours is not None and not changed:
            return ours, sum(map(_size, merged.values())), delta  # unchanged from ours: no new object
        if not merged:
            return None, 0, delta
        oid, size = self.write(list(merged.values()))
        return oid, size, delta

    def write(self, entries: list[Entry]) -> tuple[str, int]:
        entries.sort(key=_name)
        data = encode_rows(entries)  # an Entry is the row (name, kind, oid, size, exec)
        oid = blake3(data).hexdigest()
        self.store(data, oid)
        self.written += 1
        return oid, sum(map(_size, entries))


_name = itemgetter(0)  # Entry.name
_size = itemgetter(3)  # Entry.size


def merge_trees(base: str | None, ours: str, theirs: str, load: TreeLoader, store: Store) -> TreeMerge:
    """Three-way merge of folder versions `base` (None: no common version), `ours` and `theirs`.

    `load` reads a tree (raising ObjectMissingError when it cannot be had), `store` keeps a new
    tree object. Equal subtree ids on two sides are never loaded."""
    m = _Merger(load, store)
    with _gc_paused():
        oid, size, delta = m.tree("", base, ours, theirs)
        if oid is None:
            oid, size = m.write([])
    return TreeMerge(oid, size, delta, m.conflicts, m.written)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a merge reads up to hundreds of thousands of entries
    and keeps them (the loader caches trees); none is in a reference cycle, yet every full
    collection would walk them all again, which took ~40% of a merge that reads 300 trees."""
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()
    try:
        yield
    finally:
        # Everything allocated meanwhile is still "young": the first allocation after enable()
        # would walk it all (~0.1 s after 300 trees). freeze() moves it out of the young
        # generation without walking it; unfreeze() puts it in the oldest one, unless the
        # program froze objects of its own (the CLI freezes its imports): that would thaw
        # them too, so then it stays frozen, which refcounting still frees (trees hold no cycle).
        gc.freeze()
        if not frozen:
            gc.unfreeze()
        if enabled:
            gc.enable()


def apply_edits(root: str, edits: dict[str, Entry | None], load: TreeLoader, store: Store) -> tuple[str, int, int]:
    """Tree `root` with the entry at each path of `edits` replaced (None removes it); only the
    trees on the edited paths are rewritten, missing folders are created and folders an edit
    empties are dropped. Returns (new root id, its size, files added minus removed)."""
    m = _Merger(load, store)
    nested: dict[str, dict] = {}
    for path, entry in edits.items():
        node = nested
        *dirs, leaf = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
            if not isinstance(node, dict):
                raise ValueError(f"edit below the edited path {path}")
        node[leaf] = ("edit", entry)
    oid, size, delta = _apply(m, root, nested)
    if oid is None:
        oid, size = m.write([])
    return oid, size, delta


def _apply(m: _Merger, oid: str | None, nested: dict) -> tuple[str | None, int, int]:
    t = m.load(oid) if oid else Tree([])
    by_name = {e.name: e for e in t.entries}
    delta = 0
    for name, what in nested.items():
        old = by_name.get(name)
        if isinstance(what, tuple):
            new = what[1]
            delta += m.delta(old, new)
        else:
            sub = old.oid if old is not None and old.kind == TREE else None
            if old is not None and old.kind == FILE:
                delta -= 1  # a file where the edit needs a folder: the edit wins
            sub_oid, size, d = _apply(m, sub, what)
            delta += d
            new = Entry(name, TREE, sub_oid, size, False) if sub_oid is not None else None
        if new is None:
            by_name.pop(name, None)
        else:
            by_name[name] = Entry(name, new.kind, new.oid, new.size, new.exec)
    if not by_name:
        return None, 0, delta
    oid, size = m.write(list(by_name.values()))
    return oid, size, delta
