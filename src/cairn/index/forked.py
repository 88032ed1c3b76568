"""A helper process forked to take a share of a big walk or add (index/snapshot.py splits the
no-op walk of a big tree this way, index/hashpending.py the hashing of a big add): it runs one
function on its share and sends back the result, marshalled, through a pipe.

Forked, not spawned: the child has every module imported and the parent's state (the stat
cache's seals, the files to hash) in memory already, so it starts in about a millisecond
instead of a new interpreter's ~0.1 s. The child takes no lock and opens no SQLite database,
and always leaves with `os._exit`, so it never runs the parent's exit handlers or flushes its
buffers. On Linux it dies with its parent (PR_SET_PDEATHSIG): a parent killed with SIGKILL
leaves no helper working on, holding the repository lock's inherited descriptor. A child that
fails, is killed, or exits without a whole result is a CairnError in the parent, never a hang:
the parent reads until the pipe closes, and the pipe closes when the child ends however it
ends. A CairnError raised in the child (a file it may not read, a full disk) is raised again
in the parent as itself, with its message and hint.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from cairn.errors import CairnError, HelperProcessError

_CHUNK = 1 << 20
_OK, _FAILED, _ERROR = 0, 1, 2
_SETTLE_S = 0.05
# The helpers' name in `ps -o comm`, top and /proc/PID/comm: told apart from the parent, and
# from a child the parent is starting a program in (a git), which has its command line until exec
NAME = "cairn-helper"
_prctl: Callable[..., int] | None = None
_resolved = False


class Forked:
    """`fn(arg)` running in a forked child; `result()` waits for it. `what` names the work in
    error messages ("of the walk", "hashing files")."""

    def __init__(self, fn: Callable[[Any], Any], arg: Any, hint: str, what: str = "of the walk") -> None:
        prctl = _death_signal()  # resolved here: the child only calls it
        parent = os.getpid()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 3
            try:
                os.close(read_end)
                # Ctrl-C reaches the whole process group: the parent stops and kills its helpers
                # (close), a helper's own KeyboardInterrupt would only race it with an error
                with contextlib.suppress(ValueError):  # forked from a thread other than the main one
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the CLI's (Ctrl-C's path)
                if prctl is not None:
                    prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
                    prctl(15, NAME.encode())  # 15: PR_SET_NAME
                if os.getppid() != parent:  # the parent died before that took effect
                    return
                try:
                    out = marshal.dumps((_OK, fn(arg)))
                except CairnError as e:
                    out = _error(e)
                except BaseException as e:  # reported to the parent, which raises
                    out = marshal.dumps((_FAILED, f"{type(e).__name__}: {e}"))
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
        self._what = what

    def wait(self, timeout: float) -> bool:
        """Whether the child has ended (its result is ready to read) within `timeout` seconds."""
        import select

        return bool(select.select([self._fd], [], [], timeout)[0])

    def result(self) -> Any:
        """The child's result once it has ended; HelperProcessError (with `hint`) when it failed or
        died; a CairnError the child raised, raised again here."""
        got = bytearray()  # one copy of the result in memory, not the chunks and their join
        try:
            while chunk := os.read(self._fd, _CHUNK):
                got += chunk
        finally:
            os.close(self._fd)
            self._fd = -1
        pid = self.pid
        _, status = os.waitpid(pid, 0)
        self.pid = 0
        try:
            kind, value = marshal.loads(got)
        except (EOFError, ValueError, TypeError):
            raise HelperProcessError(
                f"a helper process {self._what} (pid {pid}) {_ended(status)} before sending its result", self._hint
            ) from None
        if kind == _OK:
            return value
        if kind == _ERROR:
            raise _raised(value)
        raise HelperProcessError(f"a helper process {self._what} (pid {pid}) failed: {value}", self._hint)

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


def other_threads() -> bool:
    """Whether another thread runs in this process, native ones included (a library's pool):
    a fork copies only the thread forking, so a lock another thread holds would stay held in
    the child. A thread of cairn's that called `retire` counts as gone."""
    if threading.active_count() > 1:
        return True
    # A thread Python has joined may still be exiting in the kernel for a moment (a quarter of
    # the pools shut down just before, measured: gone within ~4 ms); one still listed after
    # _SETTLE_S is a native thread
    deadline = time.monotonic() + _SETTLE_S
    while True:
        try:
            if not _running_tasks():
                return False
        except OSError:  # no /proc (macOS): the threads Python knows of
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.001)


# Threads done with Python (native id -> start time, which tells a reused id apart): under
# load the kernel took longer than _SETTLE_S to remove the walk's joined scanner threads, and
# the add that followed did not split.
_retired: dict[int, str] = {}


def retire() -> None:
    """Called by a thread of cairn's own as its last act: it holds no lock from here on."""
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        _retired[tid] = _start_time(tid)


def _running_tasks() -> list[int]:
    """The ids of this process's threads other than this one and the retired."""
    me = threading.get_native_id()
    tasks = [int(t) for t in os.listdir("/proc/self/task")]
    for tid in [t for t in _retired if t not in tasks]:
        _retired.pop(tid, None)  # gone: its id may be reused
    running = []
    for tid in tasks:
        if tid == me:
            continue
        try:
            if tid in _retired and _retired[tid] == _start_time(tid):
                continue
        except OSError:  # ended since the listing
            continue
        running.append(tid)
    return running


def _start_time(tid: int) -> str:
    with open(f"/proc/self/task/{tid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[19].decode()  # field 22: start time in ticks


def _death_signal() -> Callable[..., int] | None:
    global _prctl, _resolved
    if not _resolved:
        _resolved = True
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _prctl = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError):
                _prctl = None
    return _prctl


def _error(e: CairnError) -> bytes:
    """A CairnError as the child sends it: its class (by reference), message and attributes,
    pickled; as text when they cannot be."""
    import pickle

    text = f"{type(e).__name__}: {e}"
    try:
        return marshal.dumps((_ERROR, (pickle.dumps((type(e), e.message, e.__dict__)), text)))
    except Exception:
        return marshal.dumps((_FAILED, text))


def _raised(value: tuple[bytes, str]) -> CairnError:
    """The child's CairnError made again without calling its constructor (subclasses take
    extra arguments); its text in a HelperProcessError when that fails."""
    import pickle

    blob, text = value
    try:
        cls, message, state = pickle.loads(blob)
        if not (isinstance(cls, type) and issubclass(cls, CairnError)):
            raise TypeError(cls)
        e = cls.__new__(cls)
        Exception.__init__(e, message)
        e.__dict__.update(state)
    except Exception:
        return HelperProcessError(f"a helper process failed: {text}", None)
    return e


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"was killed by signal {sig} ({name})"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
