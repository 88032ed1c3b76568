"""Parallel stages (-j N) and Ctrl-C. Parallelism is tested by behaviour, never by timing: two
stages that each wait for a file the other creates can only both finish if they run at once."""

from __future__ import annotations

import os
import signal

from cairn.errors import PipelineError, StageFailedError, StoppedError


def _wait_for(marker: str, then: str) -> str:
    """Shell: wait (at most ~10 s) for `marker`, then run `then`; fail when it never came."""
    loop = f"i=0; while [ ! -e {marker} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done"
    return f"{loop}; test -e {marker} && {then}"


RENDEZVOUS = f"""
stages:
  left:
    cmd: touch left.ready; echo left is up; {_wait_for("right.ready", "echo L > left.txt")}
    outs: [left.txt]
  right:
    cmd: touch right.ready; echo right is up; {_wait_for("left.ready", "echo R > right.txt")}
    outs: [right.txt]
  join:
    cmd: cat left.txt right.txt > both.txt
    deps: [left.txt, right.txt]
    outs: [both.txt]
"""


def test_independent_stages_run_at_once_and_output_is_prefixed(pipe):
    pipe.yaml(RENDEZVOUS)
    proc = pipe.repro("-j", "2", timeout=60)
    assert pipe.read("both.txt") == "L\nR\n"
    assert "[left] left is up" in proc.stdout.splitlines()
    assert "[right] right is up" in proc.stdout.splitlines()
    assert pipe.locked() == ["left", "right", "join"]
    assert pipe.stale() == {}


def test_without_jobs_output_is_not_prefixed(pipe):
    pipe.yaml(
        """
        stages:
          hello:
            cmd: echo hello world > out.txt; echo said hello
            outs: [out.txt]
        """
    )
    assert pipe.repro().stdout == "said hello\n"


def test_a_failure_lets_running_stages_finish_and_starts_no_new_one(pipe):
    # `fails` fails once `slow` has started; `slow` is still running then, and must be recorded;
    # `later` (independent, next in line) must not start
    pipe.yaml(
        f"""
        stages:
          fails:
            cmd: touch fails.ready; {_wait_for("slow.ready", "exit 7")}
            outs: [fails.txt]
          slow:
            cmd: touch slow.ready; {_wait_for("fails.ready", "sleep 1 && echo S > slow.txt")}
            outs: [slow.txt]
          later:
            cmd: echo never > later.txt
            outs: [later.txt]
        """
    )
    proc = pipe.repro("-j", "2", expect=StageFailedError.exit_code, timeout=60)
    assert "error: stage 'fails' failed (exit code 7)" in proc.stderr
    assert "not checked, the run stopped at the failure: later" in proc.stderr  # it needs nothing that failed
    assert pipe.locked() == ["slow"]
    assert not (pipe.root / "later.txt").exists()


def test_bad_input_found_while_stages_run_waits_for_them(pipe, assert_error):
    # `late`'s missing dependency is found only when `quick` is done, while `slow` runs; cairn
    # must not exit and leave `slow` running unrecorded in the background
    pipe.yaml(
        f"""
        stages:
          slow:
            cmd: touch slow.ready; {_wait_for("quick.txt", "sleep 0.5 && echo S > slow.txt")}
            outs: [slow.txt]
          quick:
            cmd: {_wait_for("slow.ready", "echo Q > quick.txt")}
            outs: [quick.txt]
          late:
            cmd: cp missing.txt late.txt
            deps: [quick.txt, missing.txt]
            outs: [late.txt]
        """
    )
    proc = pipe.repro("-j", "2", expect=None, timeout=60)
    assert proc.returncode == PipelineError.exit_code, proc.stderr
    assert "error: cairn.yaml:8:3: dependency missing.txt of stage 'late' does not exist" in proc.stderr
    assert pipe.read("slow.txt") == "S\n"  # finished before cairn exited
    assert pipe.locked() == ["slow", "quick"]


SLOW = """
stages:
  quick:
    cmd: echo q > q.txt
    outs: [q.txt]
  slow:
    cmd: >-
      echo partial > slow.txt;
      if [ -e go ]; then echo done >> slow.txt; exit 0; fi;
      sleep 300 & echo $! > grandchild.pid; wait
    deps: [q.txt]
    outs: [slow.txt]
"""


def test_ctrl_c_stops_the_stage_and_its_children_and_records_nothing_for_it(
    pipe, start_cairn, wait_for, gone, posix_only
):
    pipe.yaml(SLOW)
    proc = start_cairn("repro", cwd=pipe.root)
    pidfile = pipe.root / "grandchild.pid"
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the stage's grandchild")
        grandchild = int(pidfile.read_text())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == StoppedError.exit_code == 130, err
    assert "error: stopped stage(s) slow; no lock entry or cache object was written for an unfinished stage" in err
    assert "hint: run `cairn repro` again to finish" in err
    wait_for(lambda: gone(grandchild), timeout=10, what="the grandchild to be stopped")

    assert pipe.locked() == ["quick"]
    assert pipe.read("slow.txt") == "partial\n"
    assert pipe.expected("slow.txt")[0] not in pipe.cache_oids()
    pipe.assert_cache_sound()
    assert not list(pipe.root.glob(".cairn.lock*"))

    (pipe.root / "go").touch()
    assert pipe.ran(pipe.repro()) == ["slow"]
    assert pipe.read("slow.txt") == "partial\ndone\n"


def test_ctrl_c_with_parallel_stages_names_every_stopped_stage(pipe, start_cairn, wait_for, gone, posix_only):
    pipe.yaml(
        """
        stages:
          a:
            cmd: sleep 300 & echo $! > a.pid; wait
            outs: [a.txt]
          b:
            cmd: sleep 300 & echo $! > b.pid; wait
            outs: [b.txt]
        """
    )
    proc = start_cairn("repro", "-j", "2", cwd=pipe.root)
    pids = [pipe.root / "a.pid", pipe.root / "b.pid"]
    try:
        wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pids), what="both stages")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "error: stopped stage(s) a, b;" in err
    for p in pids:
        pid = int(p.read_text())
        wait_for(lambda pid=pid: gone(pid), timeout=10, what=f"process {pid} to be stopped")
    assert not (pipe.root / "cairn.lock").exists()


def test_kill_9_of_cairn_stops_the_stage_and_its_children(pipe, start_cairn, wait_for, gone, posix_only):
    # kill -9 gives cairn no chance to stop anything itself: the stage command (its own session)
    # and the process it started in the background must still go, not run on orphaned
    pipe.yaml(
        """
        stages:
          quick:
            cmd: echo q > q.txt
            outs: [q.txt]
          slow:
            cmd: echo $$ > stage.pid; sleep 300 & echo $! > grandchild.pid; wait
            deps: [q.txt]
            outs: [slow.txt]
        """
    )
    proc = start_cairn("repro", cwd=pipe.root)
    pidfiles = [pipe.root / "stage.pid", pipe.root / "grandchild.pid"]
    pids: list[int] = []
    try:
        wait_for(lambda: all(p.exists() and p.read_text().strip() for p in pidfiles), what="the stage and its child")
        pids = [int(p.read_text()) for p in pidfiles]
        proc.kill()
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        for pid in pids:
            wait_for(lambda pid=pid: gone(pid), timeout=10, what=f"process {pid} of the stage to be stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in pids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
    assert pipe.locked() == ["quick"]  # nothing of the killed stage was recorded
    pipe.yaml(
        """
        stages:
          quick:
            cmd: echo q > q.txt
            outs: [q.txt]
          slow:
            cmd: echo done > slow.txt
            deps: [q.txt]
            outs: [slow.txt]
        """
    )
    assert pipe.ran(pipe.repro()) == ["slow"]
