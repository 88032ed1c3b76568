"""Tree objects: one per folder, canonical JSON of its sorted entries, as in git.

A change to one file rewrites only the trees on its path, and two versions of a folder can
be compared by skipping every subtree whose id is the same on both sides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses
from operator import itemgetter
from typing import NamedTuple

from blake3 import blake3

from cairn.errors import CorruptObjectError, shown

TREE_VERSION = 1
FILE = "file"
TREE = "tree"


class Entry(NamedTuple):
    """Immutable and hashable; a NamedTuple rather than a frozen dataclass because trees are
    parsed by the thousand entries (merge, checkout, push) and a tuple is built in C."""

    name: str
    kind: str  # FILE or TREE
    oid: str
    size: int  # bytes of the file, or of every file below a tree
    exec: bool = False


class Tree:
    """An immutable folder listing; entries are sorted by name."""

    __slots__ = ("_by_name", "entries")

    def __init__(self, entries: list[Entry]) -> None:
        entries.sort(key=_name)  # a hostile tree need not be sorted
        self.entries: tuple[Entry, ...] = tuple(entries)
        self._by_name: dict[str, Entry] | None = None

    def get(self, name: str) -> Entry | None:
        if self._by_name is None:
            self._by_name = dict(zip(map(_name, self.entries), self.entries, strict=True))
        return self._by_name.get(name)

    def to_bytes(self) -> bytes:
        body = [{"exec": e.exec, "kind": e.kind, "name": e.name, "oid": e.oid, "size": e.size} for e in self.entries]
        doc = {"entries": body, "version": TREE_VERSION}
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    def encode(self) -> tuple[str, bytes]:
        data = self.to_bytes()
        return blake3(data).hexdigest(), data

    @classmethod
    def from_bytes(cls, data: bytes, oid: str = "?") -> Tree:
        """Parse and validate: a tree can come from a remote or a shared cache, and its names
        become paths on checkout, so `..`, `a/b` or duplicates must never get through."""
        try:
            doc = json.loads(data)
            version = doc.get("version")
            if type(version) is not int or version != TREE_VERSION:
                raise CorruptObjectError(
                    f"tree object {oid} has format version {shown(version)}, this cairn reads version {TREE_VERSION}",
                    "upgrade cairn",
                )
            rows = doc["entries"]
            if type(rows) is not list:  # a string or mapping would iterate as something else
                raise ValueError("`entries` is not a list")
            entries = _entries(rows)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            # RecursionError: JSON nested thousands deep, which no tree cairn writes holds
            raise CorruptObjectError(
                f"object {oid} is not a valid tree object ({_reason(e)})",
                "run `cairn fsck`; if it is damaged, remove it and `cairn pull` it again",
            ) from None
        if len({e.name for e in entries}) != len(entries):
            raise CorruptObjectError(
                f"object {oid} is not a valid tree object (duplicate names)",
                "run `cairn fsck`; if it is damaged, remove it and `cairn pull` it again",
            )
        return cls(entries)


def _reason(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "nested too deeply"
    if isinstance(e, KeyError):
        return f"missing {e}"
    return str(e)


_KINDS = frozenset((FILE, TREE))
_BAD_NAMES = frozenset(("", ".", ".."))
_OID = re.compile("[0-9a-f]{64}").fullmatch


_ROW = itemgetter("name", "kind", "oid", "size", "exec")  # Entry's field order
_STR, _INT, _BOOL, _64 = frozenset((str,)), frozenset((int,)), frozenset((bool,)), frozenset((64,))


def _hex(s: str) -> bool:
    """Only 0-9 a-f in `s`: bytes.translate deletes them in C, ten times faster than a regex."""
    return s.isascii() and not s.encode().translate(None, b"0123456789abcdef")


def _entries(rows: list) -> list[Entry]:
    """Entries of valid rows. Every check of _entries_checked runs here on whole columns with
    C builtins (no Python code per row): a merge or checkout parses hundreds of thousands of
    entries. Anything it does not accept goes through _entries_checked, which raises the
    error of the first invalid row."""
    try:
        values = list(map(_ROW, rows))
        if not values:
            return []
        names, kinds, oids, sizes, execs = zip(*values, strict=True)
        joined = "/".join(names) if _STR.issuperset(map(type, names)) else None
        valid = (
            joined is not None
            and joined.count("/") == len(names) - 1  # no name holds a "/"
            and "\0" not in joined
            and _BAD_NAMES.isdisjoint(names)
            and _KINDS.issuperset(kinds)
            and _STR.issuperset(map(type, oids))
            and _64.issuperset(map(len, oids))
            and _hex("".join(oids))  # with 64 characters each: every oid is 64 lowercase hex digits
            and _INT.issuperset(map(type, sizes))
            and min(sizes) >= 0
            and _BOOL.issuperset(map(type, execs))
        )
    except (KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        return _entries_checked(rows)
    return list(map(tuple.__new__, repeat(Entry), values))


def _entries_checked(rows: list) -> list[Entry]:
    """Entries of valid rows; the first invalid one raises ValueError from _entry."""
    out = []
    append = out.append
    for d in rows:
        name, kind, oid, size, exe = d["name"], d["kind"], d["oid"], d["size"], d["exec"]
        if (
            type(name) is not str
            or name in _BAD_NAMES
            or "/" in name
            or "\0" in name
            or kind not in _KINDS
            or type(oid) is not str
            or not _OID(oid)
            or type(size) is not int
            or size < 0
            or type(exe) is not bool
        ):
            _entry(d)
        append(Entry(name, kind, oid, size, exe))
    return out


def _entry(d: dict) -> Entry:
    from cairn.objects.hashing import is_oid

    name, kind, oid, size, exe = d["name"], d["kind"], d["oid"], d["size"], d["exec"]
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"invalid entry name {shown(name)}")
    if kind not in (FILE, TREE):
        raise ValueError(f"invalid kind {kind!r} for {shown(name)}")
    if not is_oid(oid):
        raise ValueError(f"invalid oid for {shown(name)}")
    if type(size) is not int or size < 0:
        raise ValueError(f"invalid size for {shown(name)}")
    if type(exe) is not bool:
        raise ValueError(f"invalid exec flag for {shown(name)}")
    return Entry(name, kind, oid, size, exe)


def encode_rows(rows: Iterable[Sequence]) -> bytes:
    """Canonical tree bytes from (name, kind, oid, size, exec, ...) rows already sorted by name.

    Equal to json.dumps({"entries": [...], "version": 1}, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False), written out by hand because snapshots encode a tree per folder on
    every status and this is several times faster."""
    body = ",".join(
        [
            f'{{"exec":{"true" if r[4] else "false"},"kind":"{r[1]}","name":{encode_basestring(r[0])},'
            f'"oid":"{r[2]}","size":{r[3]}}}'
            for r in rows
        ]
    )
    return f'{{"entries":[{body}],"version":{TREE_VERSION}}}'.encode()


_name = itemgetter(0)  # Entry.name, without a Python call per entry


TreeLoader = Callable[[str], Tree]


@dataclass(frozen=True, slots=True)
class Change:
    path: str  # relative to the compared folder, with "/" separators
    status: str  # "added" | "deleted" | "modified"
    old: Entry | None
    new: Entry | None


def diff_trees(old: str | None, new: str | None, load: TreeLoader, prefix: str = "") -> Iterator[Change]:
    """File-level changes from tree `old` to tree `new`; identical subtrees are not visited."""
    if old == new:
        return
    old_t = load(old) if old else Tree([])
    new_t = load(new) if new else Tree([])
    names = sorted({e.name for e in old_t.entries} | {e.name for e in new_t.entries})
    for name in names:
        a, b = old_t.get(name), new_t.get(name)
        path = f"{prefix}{name}"
        if a is not None and b is not None and a.oid == b.oid and a.kind == b.kind:
            if a.exec != b.exec:
                yield Change(path, "modified", a, b)
            continue
        a_tree = a.oid if a is not None and a.kind == TREE else None
        b_tree = b.oid if b is not None and b.kind == TREE else None
        if a_tree or b_tree:
            yield from diff_trees(a_tree, b_tree, load, path + "/")
        a_file = a if a is not None and a.kind == FILE else None
        b_file = b if b is not None and b.kind == FILE else None
        if a_file and b_file:
            yield Change(path, "modified", a_file, b_file)
        elif a_file:
            yield Change(path, "deleted", a_file, None)
        elif b_file:
            yield Change(path, "added", None, b_file)


def walk_files(oid: str, load: TreeLoader, prefix: str = "") -> Iterator[tuple[str, Entry]]:
    """Every file below tree `oid` as (relative path, entry)."""
    for e in load(oid).entries:
        if e.kind == TREE:
            yield from walk_files(e.oid, load, f"{prefix}{e.name}/")
        else:
            yield f"{prefix}{e.name}", e


def walk_trees(oid: str, load: TreeLoader) -> Iterator[str]:
    """The ids of tree `oid` and every tree below it."""
    yield oid
    for e in load(oid).entries:
        if e.kind == TREE:
            yield from walk_trees(e.oid, load)
