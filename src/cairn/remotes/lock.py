"""Locks on a shared remote, as restic takes them: a push holds a shared lock, `gc --remote` an
exclusive one, so gc never deletes an object a push in progress has decided not to upload
because the remote already held it.

Object stores have no compare-and-swap, so a lock is a key of its own, `locks/<random>.json`:
write yours, then list the others. A conflict (an exclusive lock beside any other) makes the
later writer remove its key and try again; two that race both see each other and both back
off, so neither proceeds wrongly. A holder rewrites its key every REFRESH_S; a lock not
refreshed for STALE_S (its holder died with its machine) is ignored, and one that names this
host and a process that no longer runs is removed at once."""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cairn.errors import CairnError, RemoteKeyMissingError, RemoteLockedError
from cairn.processes import running
from cairn.storage.base import Storage

LOCKS = "locks"
LOCK_VERSION = 1
REFRESH_S = 5 * 60
STALE_S = 30 * 60


@dataclass(frozen=True)
class LockInfo:
    key: str
    exclusive: bool
    who: str
    host: str
    pid: int
    command: str
    created: float
    refreshed: float

    def describe(self) -> str:
        kind = "gc" if self.exclusive else "push"
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created))
        return f"{self.command or 'cairn ' + kind} by {self.who} on {self.host} (pid {self.pid}) since {since}"

    def stale(self, now: float) -> bool:
        if self.refreshed < now - STALE_S:
            return True
        return self.host == socket.gethostname() and not running(self.pid)


def _parse(key: str, data: bytes) -> LockInfo | None:
    try:
        d = json.loads(data)
        return LockInfo(
            key,
            bool(d["exclusive"]),
            str(d["who"]),
            str(d["host"]),
            int(d["pid"]),
            str(d["command"]),
            float(d["created"]),
            float(d["refreshed"]),
        )
    except (ValueError, KeyError, TypeError):
        return None  # not a lock this cairn can read: a stranger's key, ignored


def holders(storage: Storage) -> list[LockInfo]:
    """The locks on the remote (unreadable keys are left out)."""
    out = []
    for key, _ in storage.list(LOCKS):
        try:
            info = _parse(key, storage.get_bytes(key))
        except RemoteKeyMissingError:  # released meanwhile
            continue
        if info is not None:
            out.append(info)
    return out


@contextmanager
def remote_lock(
    storage: Storage,
    name: str,
    exclusive: bool,
    who: str,
    wait: float,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold a shared (push) or exclusive (gc) lock on the remote `name` while the block runs;
    wait up to `wait` seconds for a conflicting one to go, reporting it once through `on_wait`."""
    key = f"{LOCKS}/{secrets.token_hex(16)}.json"
    created = time.time()

    def put() -> None:
        doc = {
            "version": LOCK_VERSION,
            "exclusive": exclusive,
            "who": who,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "command": " ".join(["cairn", *sys.argv[1:]]) if sys.argv else "cairn",
            "created": created,
            "refreshed": time.time(),
        }
        storage.put_bytes(key, json.dumps(doc).encode())

    deadline = time.monotonic() + wait
    told = False
    delay = 0.2
    while True:
        put()
        try:
            blocking = _conflicts(storage, key, exclusive, on_wait)
        except BaseException:
            _release(storage, key)
            raise
        if not blocking:
            break
        storage.delete(key)
        if time.monotonic() >= deadline:
            raise RemoteLockedError(
                f"remote {name!r} is locked: {blocking.describe()}",
                "wait for it to finish and run the command again; a lock whose process died is ignored "
                f"{STALE_S // 60} minutes after its last refresh (at once on the machine that held it)",
            )
        if not told and on_wait is not None:
            on_wait(f"waiting for the lock on remote {name!r} held by {blocking.describe()}")
            told = True
        # jitter: two clones that saw each other must not retry in step forever
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())) * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 5.0)
    stop = threading.Event()
    keeper = threading.Thread(target=_keep_fresh, args=(put, stop), name="cairn-remote-lock", daemon=True)
    keeper.start()
    try:
        yield
    except BaseException:
        stop.set()
        keeper.join()
        _release(storage, key)
        raise
    stop.set()
    keeper.join()
    storage.delete(key)


def _release(storage: Storage, key: str) -> None:
    """Remove our lock after another error: when that fails too (the network that broke the
    push), the first error is what the user needs; the lock expires or is taken over."""
    try:
        storage.delete(key)
    except CairnError:
        pass


def _conflicts(storage: Storage, own: str, exclusive: bool, on_wait: Callable[[str], None] | None) -> LockInfo | None:
    """The first live lock that conflicts with ours. Stale ones of this host's dead processes
    are removed on the way, and every stale one by gc (it holds the remote alone)."""
    now = time.time()
    for info in holders(storage):
        if info.key == own:
            continue
        if info.stale(now):
            if exclusive or info.host == socket.gethostname():
                storage.delete(info.key)
                if on_wait is not None:
                    on_wait(f"removed the stale lock of {info.describe()}: that process is no longer running")
            continue
        if exclusive or info.exclusive:
            return info
    return None


def _keep_fresh(put: Callable[[], None], stop: threading.Event) -> None:
    while not stop.wait(REFRESH_S):
        try:
            put()
        except Exception:  # a missed refresh only shortens the lock's life
            pass
