"""Stage commands must not outlive a cairn that was killed (kill -9, OOM killer, a crash).

Each stage command runs in its own session (so Ctrl-C, handled by cairn, can stop its whole
process group). Nothing in the kernel stops such a group when cairn dies: PR_SET_PDEATHSIG
reaches only the direct child (not the grandchildren of `sh -c`), is Linux-only and needs code
between fork and exec (unsafe in a threaded process). So a tiny watcher process, started when
the first stage command starts, holds the read end of a pipe whose only write end is cairn's.
cairn writes `+PGID` when a command starts and `-PGID` when it has ended (before the group
leader is reaped, so the id cannot be reused meanwhile). The watcher only reads; at end of file
(cairn closed the pipe, or died: the kernel closes a dead process's files) it sends SIGTERM to
every group still registered, then SIGKILL to what is left after a grace period. A normal end
unregisters everything first, so the watcher then just exits.

The watcher runs in its own session (terminal signals do not reach it) with the standard
library only (`python -I -S`), and its stdout and stderr go to /dev/null, so it never keeps a
caller's pipe open."""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # subprocess is imported when a stage is about to run: a no-op repro never needs it
    import subprocess

GRACE = 5.0  # seconds between SIGTERM and SIGKILL, as for Ctrl-C

_WATCHER = """
import os, signal, sys, time
groups, buf = set(), b""
while True:
    try:
        chunk = os.read(0, 4096)
    except InterruptedError:
        continue
    if not chunk:
        break
    *lines, buf = (buf + chunk).split(b"\\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
def alive(g):
    try:
        os.killpg(g, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True
for sig, grace in ((signal.SIGTERM, float(sys.argv[1])), (signal.SIGKILL, 0.0)):
    for g in sorted(groups):
        try:
            os.killpg(g, sig)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    groups = {g for g in groups if alive(g)}
    while groups and time.monotonic() < deadline:
        time.sleep(0.05)
        groups = {g for g in groups if alive(g)}
"""


class Lifeline:
    """The write end of the pipe and the watcher holding its read end (started on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._watcher: subprocess.Popen | None = None
        self._closed = False

    def register(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def unregister(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def start(self) -> None:
        """Start the watcher now (before the first stage command), if it is not running."""
        with self._lock:
            if self._fd is not None or self._closed:
                return
            import subprocess

            read, write = os.pipe()  # both non-inheritable: no stage command gets the write end
            try:
                self._watcher = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _WATCHER, str(GRACE), "cairn-stage-watcher", str(os.getpid())],
                    stdin=read,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd="/",
                    start_new_session=True,
                )
            except OSError:  # cannot start a process: the stages run unprotected, as they did before
                os.close(write)
                return
            finally:
                os.close(read)
            self._fd = write

    def _send(self, line: str) -> None:
        with self._lock:
            if self._fd is None:
                return
            try:
                os.write(self._fd, line.encode())  # one short write: atomic on a pipe
            except OSError:
                pass  # the watcher is gone: the stages run on unprotected, as before it existed

    def close(self) -> None:
        """Close the pipe: the watcher stops what is still registered (nothing, after a normal
        run) and exits. Not waited for: it exits as soon as it has read the end of the pipe."""
        with self._lock:
            self._closed = True
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            _exiting.append(watcher)
        _exiting[:] = [w for w in _exiting if w.poll() is None]  # reap the watchers that have exited


_exiting: list[subprocess.Popen] = []  # closed watchers, kept referenced until they are reaped
