"""cairn.lock through a real `git merge` with the cairn-lock driver: stages changed on one branch
keep that branch's entry, a stage changed on both is dropped, and `cairn repro` then reruns the
dropped stages and what depends on them, nothing else (issue 26)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

# featA and featB read the raw rows and their own params; combine joins their outputs. Each
# param is on its own line with an unchanged line between, so git merges params.yaml as text.
PIPELINE = """
stages:
  featA:
    cmd: "{ cat raw.txt; grep -E ' (x|z):' params.yaml; } > a.txt"
    deps: [raw.txt]
    params: [a.x, a.z]
    outs: [a.txt]
  featB:
    cmd: "{ cat raw.txt; grep ' y:' params.yaml; } > b.txt"
    deps: [raw.txt]
    params: [b.y]
    outs: [b.txt]
  combine:
    cmd: cat a.txt b.txt > report.txt
    deps: [a.txt, b.txt]
    outs: [report.txt]
"""
PARAMS = {"x": 1, "z": 1, "y": 1}


def _params(**changed: int) -> str:
    v = {**PARAMS, **changed}
    return f"a:\n  x: {v['x']}\n  sep: 0\n  z: {v['z']}\nb:\n  y: {v['y']}\n"


class Branches:
    """One repository (so one cache holds every branch's outputs), the pipeline run and
    committed on main, then changed on two branches."""

    def __init__(self, repo) -> None:
        self.repo = repo
        self.root = repo.root

    def params(self, **changed: int) -> None:
        (self.root / "params.yaml").write_text(_params(**changed))

    def repro(self) -> list[str]:
        """The stages `cairn repro` ran."""
        proc = self.repo.cairn("repro")
        return [ln.split("'")[1] for ln in proc.stderr.splitlines() if ln.startswith("Running stage '")]

    def lock(self, rev: str | None = None) -> dict:
        text = self.repo.git("show", f"{rev}:cairn.lock") if rev else (self.root / "cairn.lock").read_text()
        return yaml.safe_load(text)["stages"]

    def stale(self) -> dict[str, list[str]]:
        return self.repo.json("status")["stages"]

    def branch(self, name: str, **changed: int) -> list[str]:
        """Change params on a new branch from main, repro, commit; back on main."""
        self.repo.git("checkout", "-q", "-b", name, "main")
        self.repo.cairn("checkout")
        self.params(**changed)
        ran = self.repro()
        self.repo.commit(f"{name}: {changed}")
        self.repo.git("checkout", "-q", "main")
        self.repo.cairn("checkout")
        return ran

    def merge(self, name: str):
        return self.repo.git("merge", "--no-edit", name, venv_first=True, full=True)


@pytest.fixture
def branches(repo) -> Branches:
    b = Branches(repo)
    (repo.root / "raw.txt").write_text("rows\n")
    (repo.root / "cairn.yaml").write_text(textwrap.dedent(PIPELINE).lstrip())
    b.params()
    repo.cairn("merge", "setup")
    assert b.repro() == ["featA", "featB", "combine"]
    repo.commit("pipeline, run")
    return b


def test_one_sided_entries_are_kept_and_the_stage_changed_on_both_is_dropped(branches):
    b, repo = branches, branches.repo
    assert b.branch("theirs", y=2) == ["featB", "combine"]
    assert b.branch("ours", x=2) == ["featA", "combine"]
    repo.git("checkout", "-q", "ours")
    repo.cairn("checkout")

    proc = b.merge("theirs")
    assert "CONFLICT" not in proc.stdout
    assert "cairn.lock: dropped stage(s) combine (changed on both sides)" in proc.stderr
    assert repo.git("status", "--porcelain", "--", "cairn.lock", "params.yaml") == ""
    assert len(repo.git("rev-list", "--parents", "-n1", "HEAD").split()) == 3  # committed merge

    merged = b.lock()
    assert list(merged) == ["featA", "featB"]
    assert merged["featA"] == b.lock("ours")["featA"]
    assert merged["featB"] == b.lock("theirs")["featB"]
    assert (repo.root / "params.yaml").read_text() == _params(x=2, y=2)

    repo.cairn("checkout")  # theirs' b.txt from the cache, as the merged lock records it
    assert (repo.root / "b.txt").read_text() == "rows\n  y: 2\n"
    assert b.stale() == {"combine": ["never run"]}
    assert b.repro() == ["combine"]
    assert (repo.root / "report.txt").read_text() == "rows\n  x: 2\n  z: 1\nrows\n  y: 2\n"
    assert b.stale() == {}


def test_a_stage_whose_params_changed_on_both_branches_reruns_with_what_depends_on_it(branches):
    b, repo = branches, branches.repo
    base = b.lock("HEAD")
    assert b.branch("theirs", z=3) == ["featA", "combine"]
    assert b.branch("ours", x=2) == ["featA", "combine"]
    repo.git("checkout", "-q", "ours")
    repo.cairn("checkout")

    proc = b.merge("theirs")
    assert "CONFLICT" not in proc.stdout
    assert "cairn.lock: dropped stage(s) combine, featA (changed on both sides)" in proc.stderr
    merged = b.lock()
    assert list(merged) == ["featB"]  # featA and combine changed differently on both sides
    assert merged["featB"] == base["featB"]

    repo.cairn("checkout")
    assert set(b.stale()) == {"featA", "combine"}
    assert b.repro() == ["featA", "combine"]
    assert (repo.root / "a.txt").read_text() == "rows\n  x: 2\n  z: 3\n"
    assert b.stale() == {}
    assert list(b.lock()) == ["featA", "featB", "combine"]


def test_an_unreadable_lock_on_one_side_stops_the_merge_with_the_reason(branches):
    b, repo = branches, branches.repo
    repo.git("checkout", "-q", "-b", "theirs")
    b.params(y=2)
    b.repro()
    lock = repo.root / "cairn.lock"
    lock.write_text(re.sub(r"(?m)^version: \d+$", "version: 77", lock.read_text()))
    repo.commit("a lock from a newer cairn")
    repo.git("checkout", "-q", "main")
    b.params(x=2)
    b.repro()
    repo.commit("ours")
    ours_lock = lock.read_text()

    # git's fixture fails the test on a non-zero exit; this merge must stop
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])}
    proc = subprocess.run(
        ["git", "merge", "--no-edit", "theirs"], cwd=repo.root, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1, proc.stderr
    assert "CONFLICT (content): Merge conflict in cairn.lock" in proc.stdout
    assert (
        "error: cannot merge cairn.lock: its theirs version is unreadable: cairn.lock has format version 77; "
        "this cairn reads " in proc.stderr
    )
    assert "hint: upgrade cairn" in proc.stderr
    assert repo.git("status", "--porcelain", "--", "cairn.lock") == "UU cairn.lock\n"
    assert lock.read_text() == ours_lock  # the driver wrote nothing
