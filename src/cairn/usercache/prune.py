"""Removing entries of the per-user cache not used for a while (all of them: `max_age` 0).

An entry of a held kind goes only when its stamp's lock can be taken exclusively without
waiting (no process reads it) and, under that lock, its last use is still old enough. It is
then renamed aside (`.trash-*`) before anything is deleted, so a removal killed half-way leaves
nothing that reads as a valid entry; the next prune deletes the rest."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.usercache import auto_max_age
from cairn.usercache.entries import _LOCK, HELD, TRASH, Entry, entry_doc, list_all
from cairn.usercache.hold import SQLITE_SIDECARS, fcntl, stamp_of

_YOUNG = 3600.0  # s: a half-made entry (`.new-*`, `*.tmp`) this young may still be being made


@dataclass
class Pruned:
    removed: list[Entry] = field(default_factory=list)  # (or, in a dry run, what would be)
    in_use: list[Entry] = field(default_factory=list)  # old enough, but a process reads it now
    kept: list[Entry] = field(default_factory=list)  # used more recently than the age
    leftovers: list[Path] = field(default_factory=list)  # interrupted removals and creations

    @property
    def bytes_removed(self) -> int:
        return sum(e.size or 0 for e in self.removed)

    def doc(self, max_age: float, dry_run: bool) -> dict[str, Any]:
        """What `cairn cache prune --json` prints."""
        return {
            "dry_run": dry_run,
            "older_than_seconds": max_age,
            "removed": [entry_doc(e) for e in self.removed],
            "bytes_removed": self.bytes_removed,
            "in_use": [entry_doc(e) for e in self.in_use],
            "kept": len(self.kept),
            "leftovers": [str(p) for p in self.leftovers],
        }


def prune(max_age: float, dry_run: bool = False, sizes: bool = True) -> Pruned:
    """Remove the entries not used for `max_age` seconds (0: every entry not in use), and what
    interrupted removals left. `sizes` measures what goes (one walk of each)."""
    out = Pruned()
    now = time.time()
    for listing in list_all(sizes=sizes):
        for entry in listing.entries:
            if now - entry.last_used < max_age:
                out.kept.append(entry)
            elif listing.kind not in HELD:
                if not dry_run:
                    entry.path.unlink(missing_ok=True)  # one file, replaced atomically by its writer
                out.removed.append(entry)
            else:
                state = _remove_held(entry, max_age, dry_run)
                {"removed": out.removed, "in-use": out.in_use, "kept": out.kept}[state].append(entry)
        for path in listing.leftovers:
            if _leftover(path, now, dry_run):
                out.leftovers.append(path)
    return out


def auto_prune() -> Pruned | None:
    """The prune run when a new source repository is cloned: the default age (or
    $CAIRN_USER_CACHE_MAX_AGE), no sizes measured; None when turned off. A folder it cannot
    change is left for the next time; only a malformed $CAIRN_USER_CACHE_MAX_AGE fails the read
    that triggered it (ConfigError)."""
    age = auto_max_age()
    if age is None:
        return None
    try:
        return prune(age, sizes=False)
    except OSError:
        return None


def _remove_held(entry: Entry, max_age: float, dry_run: bool) -> str:
    stamp = stamp_of(entry.path)
    fds: list[int] = []
    try:
        try:  # made here: the entry is older than stamps, and its last use is what the listing found
            fd, adopt = os.open(stamp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            fd, adopt = os.open(stamp, os.O_RDWR), False
        fds.append(fd)
        if not _try_lock(fd) or os.stat(stamp).st_ino != os.fstat(fd).st_ino:
            return "in-use"
        if adopt:
            os.utime(fd, (entry.last_used, entry.last_used))
        lock = entry.path.with_name(entry.path.name + _LOCK)
        if lock.exists():  # a fetch by a cairn older than stamps takes only this lock
            fds.append(os.open(lock, os.O_RDWR))
            if not _try_lock(fds[-1]):
                return "in-use"
        entry.last_used = os.fstat(fd).st_mtime  # read again under the lock: a reader may have come and gone
        if time.time() - entry.last_used < max_age:
            return "kept"
        if dry_run:
            return "removed"
        trash = entry.path.with_name(f"{TRASH}{secrets.token_hex(6)}")
        try:
            os.rename(entry.path, trash)
        except PermissionError:
            if os.name == "nt":
                return "in-use"  # Windows refuses to rename a folder another process has open
            raise
        for suffix in SQLITE_SIDECARS:
            entry.path.with_name(entry.path.name + suffix).unlink(missing_ok=True)
        lock.unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)
    except FileNotFoundError:
        return "kept"  # removed by another prune meanwhile: nothing of it to count
    finally:
        for fd in fds:
            os.close(fd)
    _delete(trash)
    return "removed"


def _leftover(path: Path, now: float, dry_run: bool) -> bool:
    """Remove (or, in a dry run, count) one leftover; False when it is kept."""
    name = path.name
    try:
        age = now - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if name.startswith(TRASH):
        pass  # renamed aside by a removal: nobody reads it
    elif name.startswith(".new-") or name.endswith(".tmp"):
        if age < _YOUNG:
            return False  # another process may be making it right now
    elif name.endswith((".used", _LOCK, *SQLITE_SIDECARS)):
        # a stamp, lock or SQLite file whose entry is gone: only when no one holds it
        entry = _entry_of(path)
        if not dry_run:
            return _drop_orphan(entry, stamp_of(entry))
    else:
        return False  # not ours: left alone
    if not dry_run:
        _delete(path)
    return True


def _entry_of(path: Path) -> Path:
    for suffix in (".used", _LOCK, *SQLITE_SIDECARS):
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path


def _drop_orphan(entry: Path, stamp: Path) -> bool:
    try:
        fd = os.open(stamp, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        if not _try_lock(fd) or entry.exists():
            return False  # a reader is making the entry again
        for suffix in (_LOCK, *SQLITE_SIDECARS):
            entry.with_name(entry.name + suffix).unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
