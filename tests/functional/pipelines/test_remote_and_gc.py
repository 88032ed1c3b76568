"""Pipeline outputs and the rest of cairn: `repro --pull`, push, gc."""

from __future__ import annotations

import shutil

import pytest

TRAIN = """
stages:
  train:
    cmd: echo run >> {log}; cat data.csv > model.bin
    deps: [data.csv]
    outs: [model.bin]
"""


@pytest.fixture
def trained(pipe, tmp_path):
    pipe.log = tmp_path / "runs.log"
    pipe.remote = tmp_path / "remote"
    pipe.remote.mkdir()
    pipe.cairn("remote", "add", "-d", "store", str(pipe.remote))
    pipe.file("data.csv", "x,y\n1,2\n")
    pipe.yaml(TRAIN.format(log=pipe.log))
    pipe.repro()
    pipe.commit("trained")
    return pipe


def _clone(pipe, tmp_path, git):
    clone = tmp_path / "clone"
    git("clone", "-q", str(pipe.root), str(clone), cwd=tmp_path)
    return clone


def test_outputs_the_lock_records_come_back_without_running(trained):
    # no run-cache (as in a fresh clone): the lock's own entry is enough when inputs match it
    shutil.rmtree(trained.root / ".cairn" / "cache" / "runs")
    (trained.root / "model.bin").unlink()
    proc = trained.repro()
    assert trained.ran(proc) == [] and "Restored from the run-cache (not run): train" in proc.stdout
    assert trained.read("model.bin") == "x,y\n1,2\n"
    assert trained.log.read_text() == "run\n"


def test_repro_pull_needs_a_remote(pipe):
    pipe.yaml("stages:\n  s:\n    cmd: echo > o\n    outs: [o]\n")
    pipe.repro()
    proc = pipe.repro("--pull", expect=2)
    assert "error: no remote given and no default remote set" in proc.stderr


def test_push_then_repro_pull_in_a_clone_restores_without_running(trained, tmp_path, git, run_cairn):
    trained.cairn("push")
    clone = _clone(trained, tmp_path, git)
    proc = run_cairn("repro", "--pull", cwd=clone)
    assert "Running stage" not in proc.stderr and "Restored from the run-cache (not run): train" in proc.stdout
    assert (clone / "model.bin").read_text() == "x,y\n1,2\n"
    assert trained.log.read_text() == "run\n"


def test_repro_pull_in_a_clone_also_brings_the_tracked_data_stages_read(pipe, tmp_path, git, run_cairn):
    # data/raw is `cairn add`ed (a pointer in git, the files only on the remote): a fresh clone
    # has no data/raw, and `repro --pull` stopped at "dependency data/raw does not exist"
    pipe.log = tmp_path / "runs.log"
    (tmp_path / "remote").mkdir()
    pipe.cairn("remote", "add", "-d", "store", str(tmp_path / "remote"))
    pipe.file("data/raw/a.csv", "x\n1\n")
    pipe.cairn("add", "data/raw")
    pipe.yaml(f"stages:\n  train:\n    cmd: echo run >> {pipe.log}; cat data/raw/a.csv > model.bin\n"
              "    deps: [data/raw]\n    outs: [model.bin]\n")  # fmt: skip
    pipe.repro()
    pipe.commit("trained")
    pipe.cairn("push")
    clone = _clone(pipe, tmp_path, git)
    proc = run_cairn("repro", "--pull", cwd=clone)
    assert "Running stage" not in proc.stderr and "Restored from the run-cache (not run): train" in proc.stdout
    assert (clone / "data/raw/a.csv").read_text() == "x\n1\n" and (clone / "model.bin").read_text() == "x\n1\n"
    assert pipe.log.read_text() == "run\n"
    assert "Data and pipeline are up to date." in run_cairn("status", cwd=clone).stdout


def test_gc_keeps_pipeline_outputs(trained):
    model = trained.expected("model.bin")[0]
    trained.cairn("gc", "--yes")
    assert model in trained.cache_oids()
    # also those only an older commit's cairn.lock records
    trained.file("data.csv", "x,y\n3,4\n")
    trained.repro()
    trained.commit("retrained")
    trained.cairn("gc", "--yes")
    assert model in trained.cache_oids()
