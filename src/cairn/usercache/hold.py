"""Holding an entry of the per-user cache while this process reads it, and recording its use.

The stamp `NAME.used` beside the entry: a reader takes a shared flock on it for as long as it
reads the entry and sets its mtime to now (its "last used", which git never touches); pruning
takes the lock exclusively without waiting and leaves the entry alone when it cannot. The lock
is the stamp file's, not the entry's, so git's own files and the fetch lock (`NAME.lock`, held
exclusively by one fetch at a time) stay as they were."""

from __future__ import annotations

import os
import re
import weakref
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; entries are then never seen as in use (see docs/cache.md)
    fcntl = None  # type: ignore[assignment]

STAMP = ".used"
# what SQLite leaves beside a database; without the database they are leftovers of a removal
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def stamp_of(entry: Path) -> Path:
    return entry.with_name(entry.name + STAMP)


def without_password(url: str) -> str:
    """`scheme://user:secret@host/...` as `scheme://user@host/...`, and no user at all over
    http(s), where `https://TOKEN@host` is how tokens travel: the cache folder is no place for a
    credential."""
    url = re.sub(r"^(https?://)[^/@]*@", r"\1", url, flags=re.I)
    return re.sub(r"^([a-zA-Z][\w+.-]*://[^/@:]*):[^/@]*@", r"\1@", url)


class Hold:
    """A shared hold on one entry (which need not exist yet: the holder creates it), its stamp
    set to now when taken and when released. Released by close(), or when the object it is tied
    to is garbage-collected, or at exit."""

    def __init__(self, entry: Path, label: str | None = None) -> None:
        """`label`: what the entry is a cache of (a URL), written into a new stamp for
        `cairn cache info` (credentials left out: without_password)."""
        self.entry = entry
        stamp = stamp_of(entry)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(stamp, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                same = os.stat(stamp).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # a prune removed that stamp while we waited: take the new one
        self.fd = fd
        if label and os.fstat(fd).st_size == 0:
            os.write(fd, without_password(label).encode())  # every holder writes the same bytes
        os.utime(fd)  # last used: now
        if not entry.exists():  # a removal killed half-way leaves SQLite's files without their database
            for suffix in SQLITE_SIDECARS:
                entry.with_name(entry.name + suffix).unlink(missing_ok=True)
        self._finalizer = weakref.finalize(self, _release, fd)

    def tie(self, owner: object) -> None:
        """Keep holding while `owner` lives (it is the object that reads the entry)."""
        weakref.finalize(owner, self.close)

    def close(self) -> None:
        self._finalizer()


def _release(fd: int) -> None:
    try:
        os.utime(fd)  # used until now (a long read started long ago)
    finally:
        os.close(fd)
