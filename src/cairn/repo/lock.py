"""The repo lock: one writer at a time. A second writer says whom it waits for, waits
`core.lock_wait` seconds, then fails naming the holder (PID, command, start time, host).

What guarantees what (see docs/decisions.md, "The repository lock"): flock(2) on
`.cairn/tmp/lock` is the lock; the kernel releases it when its holder dies, kill -9 too, so on a
local disk it never goes stale. `lock.holder` only says who holds it, and can lie: a killed holder
never removes it, and on a network file system flock may not reach other hosts. So the holder
record carries the host: a record of this host is checked against the running PIDs and taken over
with a message; a record of another host is trusted while its process may still run there."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cairn.errors import LockedError
from cairn.processes import running

HOLDER = "lock.holder"
_POLL_S = 0.05
# `cairn exp run` is a group and a verb: the holder is named by both words
_GROUPS = frozenset({"exp", "queue", "remote", "stage", "params", "metrics", "plots"})


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str  # "cairn add", or the program's command line when not the cairn CLI
    since: float

    def describe(self) -> str:
        here = "" if self.host == _host() else f" on host {self.host}"
        return f"PID {self.pid} ({self.command}) since {_clock(self.since)}{here}"

    def on_this_host(self) -> bool:
        return self.host == _host()


def _host() -> str:
    # what socket.gethostname() returns (both ask uname(2)), without importing socket in every
    # command that takes the lock
    return os.uname().nodename


def current_command(argv: list[str] | None = None) -> str:
    """`cairn add` for the CLI (`cairn exp run` for a group's verb); the command line otherwise."""
    argv = sys.argv if argv is None else argv
    prog = os.path.basename(argv[0]) if argv else "python"
    if prog in ("cairn", "__main__.py"):
        words = [a for a in argv[1:] if not a.startswith("-")]
        name = words[:2] if words and words[0] in _GROUPS else words[:1]
        return " ".join(["cairn", *name])
    if argv and (argv[0] == "-c" or argv[0].endswith(".py")):
        return " ".join(["python", *argv])
    return " ".join(argv) or "python"


def read_holder(tmp_dir: Path) -> Holder | None:
    """Who the holder record names; None when there is none or it cannot be read."""
    try:
        info = json.loads((tmp_dir / HOLDER).read_text())
        return Holder(int(info["pid"]), str(info["host"]), str(info["command"]), float(info["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def repo_lock(tmp_dir: Path, wait: float, notice: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the repository lock. `notice(message)` is told when this waits for another holder
    and when it takes over the record of a holder that is gone."""
    import fcntl

    say = notice or (lambda message: None)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        told: set[Holder | None] = set()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = read_holder(tmp_dir)
                _wait_or_fail(holder, deadline, wait, told, say, tmp_dir)
                continue
            holder = read_holder(tmp_dir)
            if holder is not None and not holder.on_this_host():
                # flock may not reach across hosts on a network file system: the record rules
                fcntl.flock(fd, fcntl.LOCK_UN)
                _wait_or_fail(holder, deadline, wait, told, say, tmp_dir)
                continue
            break
        if holder is not None and holder.pid != os.getpid():
            gone = "which is no longer running" if not running(holder.pid) else "which no longer holds it"
            say(f"taking over the lock of PID {holder.pid} ({holder.command}), {gone}")
        try:
            _write_holder(tmp_dir)
            yield
        finally:
            try:
                (tmp_dir / HOLDER).unlink()
            except FileNotFoundError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait_or_fail(
    holder: Holder | None,
    deadline: float,
    wait: float,
    told: set[Holder | None],
    say: Callable[[str], None],
    tmp_dir: Path,
) -> None:
    if time.monotonic() >= deadline:
        raise _locked(holder, wait, tmp_dir)
    if holder not in told:
        told.add(holder)
        who = f"held by {holder.describe()}" if holder else "held by another cairn process"
        say(f"waiting for the lock {who} (up to {wait:g} s, core.lock_wait)")
    time.sleep(_POLL_S)


def _locked(holder: Holder | None, wait: float, tmp_dir: Path) -> LockedError:
    waited = f"; waited {wait:g} s" if wait > 0 else ""
    if holder is None:
        return LockedError(
            f"the repository is locked by another cairn process{waited}",
            "wait for it to finish, or raise core.lock_wait (cairn config core.lock_wait SECONDS)",
        )
    where = f" on host {holder.host}" if not holder.on_this_host() else ""
    message = (
        f"the repository is locked by PID {holder.pid}{where} ({holder.command}), "
        f"running since {_clock(holder.since)}{waited}"
    )
    if where:
        hint = (
            f"wait for it to finish; if that process is no longer running on {holder.host}, delete {tmp_dir / HOLDER}"
        )
    else:
        hint = "wait for it to finish, or raise core.lock_wait (cairn config core.lock_wait SECONDS)"
    return LockedError(message, hint)


def _write_holder(tmp_dir: Path) -> None:
    # whole or not at all: a waiting process reads it to say whom it waits for
    record = {
        "pid": os.getpid(),
        "host": _host(),
        "command": current_command(),
        "argv": sys.argv,
        "since": time.time(),
    }
    tmp = tmp_dir / f"{HOLDER}.{os.getpid()}"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, tmp_dir / HOLDER)


def _clock(t: float) -> str:
    """12:01:05 today; with the date on another day."""
    local = time.localtime(t)
    if time.strftime("%Y-%m-%d", local) != time.strftime("%Y-%m-%d"):
        return time.strftime("%Y-%m-%d %H:%M:%S", local)
    return time.strftime("%H:%M:%S", local)
