"""A helper process forked to take a share of a walk (index/snapshot.py splits the no-op walk
of a big tree this way): it runs one function on its share and sends back the result, marshalled,
through a pipe.

Forked, not spawned: the child has every module imported and the stat cache's seals in memory
already, so it starts in about a millisecond instead of a new interpreter's ~0.1 s. The child
only lists, stats and hashes (no locks, no SQLite, no threads of its own) and always leaves with
`os._exit`, so it never runs the parent's exit handlers or flushes its buffers. A child that
fails, is killed, or exits without a whole result is a CairnError in the parent, never a hang:
the parent reads until the pipe closes, and the pipe closes when the child ends however it ends.
"""

from __future__ import annotations

import marshal
import os
import signal
from collections.abc import Callable
from typing import Any

from cairn.errors import HelperProcessError

_CHUNK = 1 << 20


class Forked:
    """`fn(arg)` running in a forked child; `result()` waits for it."""

    def __init__(self, fn: Callable[[Any], Any], arg: Any, hint: str) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 3
            try:
                os.close(read_end)
                try:
                    out = marshal.dumps((True, fn(arg)))
                except BaseException as e:  # reported to the parent, which raises
                    out = marshal.dumps((False, f"{type(e).__name__}: {e}"))
                view = memoryview(out)
                while view:
                    view = view[os.write(write_end, view) :]
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        self.pid = pid
        self._fd = read_end
        self._hint = hint

    def result(self) -> Any:
        """The child's result once it has ended; HelperProcessError (with `hint`) when it failed or died."""
        chunks = []
        try:
            while chunk := os.read(self._fd, _CHUNK):
                chunks.append(chunk)
        finally:
            os.close(self._fd)
            self._fd = -1
        pid = self.pid
        _, status = os.waitpid(pid, 0)
        self.pid = 0
        try:
            ok, value = marshal.loads(b"".join(chunks))
        except (EOFError, ValueError, TypeError):
            raise HelperProcessError(
                f"a helper process of the walk (pid {pid}) {_ended(status)} before sending its result", self._hint
            ) from None
        if not ok:
            raise HelperProcessError(f"a helper process of the walk (pid {pid}) failed: {value}", self._hint)
        return value

    def close(self) -> None:
        """Stop the child if it still runs (the parent failed or was interrupted) and reap it."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.pid = 0


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"was killed by signal {sig} ({name})"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
