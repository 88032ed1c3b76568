"""The repo lock: one writer at a time. A second writer waits `core.lock_wait` seconds, then
fails with a message naming the holder (pid and command)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cairn.errors import LockedError


@contextmanager
def repo_lock(tmp_dir: Path, wait: float) -> Iterator[None]:
    """flock(2) on `.cairn/tmp/lock`: the kernel releases it when its holder dies, kill -9 too.
    (The same lock filelock takes on Unix; filelock itself cost 20 ms of start-up, see
    docs/decisions.md.)"""
    import fcntl

    tmp_dir.mkdir(parents=True, exist_ok=True)
    holder_file = tmp_dir / "lock.holder"
    fd = os.open(tmp_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"the repository is locked by another cairn process ({_describe(holder_file)})",
                        "wait for it to finish; if that process is gone, run the command again "
                        "(the lock is released by the operating system when its holder dies)",
                    ) from None
                time.sleep(0.05)
        try:
            holder_file.write_text(
                json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv), "since": time.time()})
            )
            yield
        finally:
            try:
                holder_file.unlink()
            except FileNotFoundError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _describe(holder_file: Path) -> str:
    try:
        info = json.loads(holder_file.read_text())
        return f"pid {info['pid']}: {info['command']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
