"""The node side's own pieces: values written into a run's .git/config read back unchanged, and
the per-node cache's place, a runner's stop request and its check of its own code."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from cairn.cluster import runner, task


@pytest.mark.parametrize("value", ["Cairn Tester", 'Jo "the" Back\\slash; #not a comment', "/srv/git/proj.git"])
def test_git_config_values_read_back_unchanged(tmp_path, value):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with open(tmp_path / ".git" / "config", "a") as f:
        f.write(f"[user]\n\tname = {task._quoted(value)}\n")
    got = subprocess.run(["git", "-C", str(tmp_path), "config", "user.name"], capture_output=True, text=True)
    assert got.stdout.rstrip("\n") == value


def test_a_line_break_is_refused():
    with pytest.raises(task.StepFailed, match="a git setting holds a line break"):
        task._quoted("a\nb")


def test_node_cache_is_per_project_under_the_configured_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(task.CACHE_ENV, str(tmp_path))
    a, b = task.node_cache("/srv/git/a.git"), task.node_cache("/srv/git/b.git")
    assert a.parent == b.parent == tmp_path and a != b
    assert task.node_cache("/srv/git/a.git") == a


def test_run_folders_are_one_per_run_going_on_and_reused(tmp_path):
    with task._slot(tmp_path) as first:
        with task._slot(tmp_path) as second:
            assert first != second and first.parent == second.parent == tmp_path / "runs"
        with task._slot(tmp_path) as again:
            assert again == second  # freed: the next run takes it
    with task._slot(tmp_path) as later:
        assert later == first


def test_a_stop_request_stops_the_step_and_its_processes(tmp_path):
    """A runner's run has no KeyboardInterrupt to stop it: `stopped` says so, and the step's
    process group gets SIGTERM as on Ctrl-C."""
    marker = tmp_path / "child"
    proc = task._popen(["sh", "-c", f"sleep 60 & echo $! > {marker}; echo started; wait"], tmp_path)
    asked = []

    def stopped() -> bool:
        asked.append(1)
        return marker.exists() and len(asked) > 3

    steps = task._follow(proc, stopped)
    with pytest.raises(task.Stopped):
        for item in steps:
            assert item == {"log": "started\n"}
    assert proc.poll() is not None
    child = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(50):  # the group's SIGTERM reaches the backgrounded sleep too
            os.kill(child, 0)
            time.sleep(0.1)


def test_a_runner_knows_when_its_code_changed_on_disk(tmp_path, monkeypatch):
    code = tmp_path / "task.py"
    code.write_text("v1\n")
    monkeypatch.setattr(runner, "_CODE", [code])
    loaded = runner.Runner()
    assert not loaded.stale()
    code.write_text("v2\n")  # cairn upgraded on the node
    assert loaded.stale()
    code.unlink()
    assert loaded.stale()
    assert runner.is_runner(runner.name("abc")) and not runner.is_runner("cairn-exp:abc")
