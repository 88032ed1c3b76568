"""Timing one command: wall time and peak RSS of its process tree.

Wall time: time.perf_counter() from just before the fork to the return of os.wait4().

Peak RSS: the ru_maxrss that os.wait4() returns for the child. On Linux that is the larger of
the child's own peak RSS and the peak of every descendant it waited for (the kernel folds a
reaped child's maxrss into its parent's "children" maxrss), so it is the peak of the *largest
single process* in the tree, not the sum of processes alive at the same time, and it misses
daemons that double-fork away (reaped by init). getrusage(RUSAGE_CHILDREN) deltas could not be
used instead: maxrss is a running maximum over all children ever, not a sum, so it has no delta.

CPU time (user + sys) of the tree comes from the same rusage and is reported as well.

Standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    wall_s: float
    maxrss_kib: int
    cpu_s: float
    exit_code: int
    timed_out: bool = False


def run_timed(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdout: Path,
    stderr: Path,
    timeout_s: float,
) -> Sample:
    """Run ARGV once; stdout and stderr go to files, so the child never blocks on a pipe."""
    with stdout.open("wb") as out, stderr.open("ab") as err:
        err.write(f"$ (cd {cwd} && {' '.join(argv)})  # timed\n".encode())
        err.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # already reaped: keep Popen from waiting again
    return Sample(
        wall_s=wall,
        maxrss_kib=usage.ru_maxrss,
        cpu_s=usage.ru_utime + usage.ru_stime,
        exit_code=code,
        timed_out=killed.is_set(),
    )
