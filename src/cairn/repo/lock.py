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
    from filelock import FileLock, Timeout  # costs start-up time; read commands never lock

    tmp_dir.mkdir(parents=True, exist_ok=True)
    holder_file = tmp_dir / "lock.holder"
    lock = FileLock(str(tmp_dir / "lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise LockedError(
            f"the repository is locked by another cairn process ({_describe(holder_file)})",
            "wait for it to finish; if that process is gone, run the command again "
            "(the lock is released by the operating system when its holder dies)",
        ) from None
    try:
        holder_file.write_text(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv), "since": time.time()}))
        yield
    finally:
        try:
            holder_file.unlink()
        except FileNotFoundError:
            pass
        lock.release()


def _describe(holder_file: Path) -> str:
    try:
        info = json.loads(holder_file.read_text())
        return f"pid {info['pid']}: {info['command']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
