"""The repo lock, held by real processes: a second writer waits `core.lock_wait`, then fails
naming the holder; the operating system releases the lock when its holder dies, even by SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.errors import LockedError
from cairn.repo import Repo
from cairn.repo.config import write
from cairn.repo.lock import repo_lock

# Holds the repo lock until a line arrives on stdin (or the process is killed).
HOLDER = """
import sys
from cairn.repo import Repo
repo = Repo.find(sys.argv[1])
with repo.lock():
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class Holder:
    def __init__(self, root: Path, *argv: str, script: str = HOLDER) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, str(root), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert line == "locked\n", f"the holder did not take the lock (said {line!r})"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> str:
        out, _ = self.proc.communicate(timeout=60)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=60)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for h in started:
        h.stop()


@pytest.fixture
def root(repo: Repo) -> Path:
    write(repo.dot, "core.lock_wait", 0.2, local=True)
    return repo.root


def test_second_writer_fails_naming_the_holder(root: Path, holders: list[Holder]) -> None:
    holder = Holder(root, "holder-marker")
    holders.append(holder)
    other = Repo(root)
    with pytest.raises(LockedError) as e, other.lock():
        pytest.fail("took a lock another process holds")
    message = e.value.message
    assert message.startswith(f"the repository is locked by PID {holder.pid} (")
    assert "holder-marker" in message  # the holder's command line
    assert message.endswith("; waited 0.2 s")
    assert e.value.hint == "wait for it to finish, or raise core.lock_wait (cairn config core.lock_wait SECONDS)"
    assert e.value.code == "locked"
    assert e.value.exit_code == 6


def test_second_writer_waits_for_the_holder(root: Path, holders: list[Holder]) -> None:
    holder = Holder(root)
    holders.append(holder)
    timer = threading.Timer(0.3, holder.release)
    timer.start()
    try:
        with repo_lock(root / ".cairn" / "tmp", wait=60):
            # we only get here once the holder has let go
            assert holder.finish() == "released\n"
            info = json.loads((root / ".cairn" / "tmp" / "lock.holder").read_text())
            assert info["pid"] == os.getpid()
    finally:
        timer.cancel()


def test_released_when_the_holder_exits(root: Path, holders: list[Holder]) -> None:
    holder = Holder(root)
    holders.append(holder)
    holder.release()
    assert holder.finish() == "released\n"
    assert holder.proc.returncode == 0
    assert not (root / ".cairn" / "tmp" / "lock.holder").exists()
    with Repo(root).lock():
        pass


def test_released_when_the_holder_is_killed(root: Path, holders: list[Holder]) -> None:
    holder = Holder(root)
    holders.append(holder)
    holder_file = root / ".cairn" / "tmp" / "lock.holder"
    assert json.loads(holder_file.read_text())["pid"] == holder.pid
    os.kill(holder.pid, signal.SIGKILL)
    holder.proc.wait(timeout=60)
    assert holder.proc.returncode == -signal.SIGKILL
    assert holder_file.exists()  # a killed holder leaves its note behind...
    with Repo(root).lock():  # ...but not the lock
        assert json.loads(holder_file.read_text())["pid"] == os.getpid()
    assert not holder_file.exists()


def test_unknown_holder(root: Path, holders: list[Holder]) -> None:
    # something holds the lock file without writing a holder note (an old or foreign process)
    script = """
import fcntl, os, sys
fd = os.open(sys.argv[1] + "/.cairn/tmp/lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""
    (root / ".cairn" / "tmp").mkdir(exist_ok=True)
    holders.append(Holder(root, script=script))
    expected = r"^the repository is locked by another cairn process; waited 0.2 s\n"
    with pytest.raises(LockedError, match=expected), Repo(root).lock():
        pass


def test_lock_is_reusable_in_one_process(root: Path) -> None:
    repo = Repo(root)
    for _ in range(3):
        with repo.lock():
            assert (root / ".cairn" / "tmp" / "lock.holder").exists()
        assert not (root / ".cairn" / "tmp" / "lock.holder").exists()


def test_lock_released_when_the_body_raises(root: Path) -> None:
    repo = Repo(root)
    with pytest.raises(RuntimeError), repo.lock():
        raise RuntimeError("boom")
    with repo.lock():
        pass
