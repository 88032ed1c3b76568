"""What the per-user cache holds: one listing per kind, entries with their last use and size."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cairn.usercache import KINDS, auto_max_age, folder, root
from cairn.usercache.hold import SQLITE_SIDECARS, STAMP

_SUFFIX = {"repos": ".git", "remotes": ".db", "environment": ".json", "cluster": ""}
_LOCK = ".lock"  # scm/foreign.py's fetch lock beside a cached repository
HELD = ("repos", "remotes", "cluster")  # kinds read under a Hold (environment files are replaced atomically)
TRASH = ".trash-"  # an entry renamed aside for removal
_CLUSTER = re.compile(r"[0-9a-f]{16}")
_URL = re.compile(r'^\s*\[remote "origin"\]\s*$\s*url\s*=\s*(.+?)\s*$', re.M)


@dataclass
class Entry:
    kind: str
    name: str
    path: Path
    last_used: float  # s since the epoch
    size: int | None = None  # bytes, with its stamp and lock files; None: not measured
    source: str | None = None  # what it caches: a repository's or a data remote's URL, a project's git URL
    extra: list[Path] = field(default_factory=list)  # its stamp, lock and SQLite files


@dataclass
class Listing:
    kind: str
    path: Path
    entries: list[Entry]
    leftovers: list[Path]  # removals and creations that were interrupted, files of gone entries


def list_kind(kind: str, sizes: bool = False) -> Listing:
    """The entries of one kind (one listing of its folder); `sizes` also walks each entry and
    reads a repository's URL."""
    base = folder(kind)
    suffix = _SUFFIX[kind]
    try:
        names = {e.name: e for e in os.scandir(base)}
    except FileNotFoundError:
        return Listing(kind, base, [], [])
    entries: list[Entry] = []
    claimed: set[str] = set()
    for name, dirent in names.items():
        if name.startswith(".") or not name.endswith(suffix):
            continue
        if not suffix and (not _CLUSTER.fullmatch(name) or not dirent.is_dir(follow_symlinks=False)):
            continue  # a cluster folder is named by 16 hex; its stamps sit beside it
        extras = [n for n in _extras(name) if n in names]
        claimed.update([name, *extras])
        try:
            last = _last_used(dirent, names.get(name + STAMP))
        except FileNotFoundError:
            continue  # removed meanwhile
        entry = Entry(kind, name, base / name, last, extra=[base / n for n in extras])
        if sizes:  # (the automatic prune needs neither: one listing and a stat an entry)
            entry.size = sum(_size(p) for p in [entry.path, *entry.extra])
            entry.source = _origin(entry.path) if kind == "repos" else _label(base / (name + STAMP))
        entries.append(entry)
    leftovers = [base / n for n in sorted(names) if n not in claimed and _ours(n)]
    entries.sort(key=lambda e: e.last_used, reverse=True)
    return Listing(kind, base, entries, leftovers)


def list_all(sizes: bool = False) -> list[Listing]:
    return [list_kind(kind, sizes) for kind in KINDS]


def _ours(name: str) -> bool:
    """A name cairn makes in these folders besides entries (anything else is left alone)."""
    return name.startswith((TRASH, ".new-")) or name.endswith((".tmp", STAMP, _LOCK, *SQLITE_SIDECARS))


def _extras(name: str) -> list[str]:
    return [name + STAMP, name + _LOCK, *(name + s for s in SQLITE_SIDECARS)]


def _last_used(entry: os.DirEntry, stamp: os.DirEntry | None) -> float:
    # the stamp a reader sets; an entry made before stamps existed: when it was last written
    if stamp is not None:
        return stamp.stat(follow_symlinks=False).st_mtime
    last = entry.stat(follow_symlinks=False).st_mtime
    if entry.is_dir(follow_symlinks=False) and _CLUSTER.fullmatch(entry.name):
        # an older cluster run opens its fetch lock and run slot with O_TRUNC, which sets their mtime
        for lock in [Path(entry.path, "git.lock"), *Path(entry.path, "runs").glob("*.lock")]:
            try:
                last = max(last, lock.stat().st_mtime)
            except FileNotFoundError:
                pass
    return last


def _label(stamp: Path) -> str | None:
    # what a holder wrote into the stamp: the URL the entry caches (absent from older stamps)
    try:
        return stamp.read_text(errors="replace")[:2000].strip() or None
    except OSError:
        return None


def _origin(bare: Path) -> str | None:
    try:
        m = _URL.search((bare / "config").read_text(errors="replace"))
    except OSError:
        return None
    return m.group(1) if m else None


def _size(path: Path) -> int:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return 0
    if not path.is_dir() or path.is_symlink():
        return st.st_size
    total = 0
    for folder_, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder_, name)).st_size
            except FileNotFoundError:
                pass
    return total


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_doc(entry: Entry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "name": entry.name,
        "path": str(entry.path),
        "bytes": entry.size,
        "last_used": iso(entry.last_used),
        "source": entry.source,
    }


def info() -> dict[str, Any]:
    """What `cairn cache info --json` prints: each kind's entries, bytes and last use."""
    listings = list_all(sizes=True)
    kinds = {}
    for listing in listings:
        used = [e.last_used for e in listing.entries]
        kinds[listing.kind] = {
            "path": str(listing.path),
            "entries": len(listing.entries),
            "bytes": sum(e.size or 0 for e in listing.entries),
            "last_used": iso(max(used, default=None)),
        }
    age = auto_max_age()
    return {
        "dir": str(root()),
        "kinds": kinds,
        "bytes": sum(k["bytes"] for k in kinds.values()),
        "entries": [entry_doc(e) for listing in listings for e in listing.entries],
        "leftovers": [str(p) for listing in listings for p in listing.leftovers],
        "auto_prune_after_seconds": age,
    }
