"""The node side's own pieces: values written into a run's .git/config read back unchanged, and
the per-node cache's place."""

from __future__ import annotations

import subprocess

import pytest

from cairn.cluster import task


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
