"""The run-cache: a stage whose inputs match an earlier successful run gets that run's outputs
back from the cache instead of running again, and the user is told so."""

from __future__ import annotations

import pytest
import yaml


@pytest.fixture
def trained(pipe, tmp_path):
    """A one-stage pipeline that logs each real run outside the repository; run at lr 0.1,
    committed, then at lr 0.2, committed."""
    log = tmp_path / "runs.log"
    pipe.log = log
    pipe.file("params.yaml", "lr: 0.1\n")
    pipe.yaml(
        f"""
        stages:
          train:
            cmd: echo run >> {log} && echo "model for $(cat params.yaml)" > model.bin && echo done > score.json
            params: [lr]
            outs: [model.bin]
            metrics: [score.json]
        """
    )
    pipe.repro()
    pipe.commit("lr 0.1")
    pipe.file("params.yaml", "lr: 0.2\n")
    pipe.repro()
    pipe.commit("lr 0.2")
    assert log.read_text() == "run\nrun\n"
    return pipe


def test_checkout_of_older_params_restores_outputs_without_running(trained):
    trained.git("checkout", "-q", "HEAD~1")
    assert trained.stale() == {"train": ["out model.bin modified"]}

    proc = trained.repro()
    assert trained.ran(proc) == []
    assert "Restored from the run-cache (not run): train" in proc.stdout
    assert "Stage 'train': restored (outputs restored from the run-cache, not run)" in proc.stderr
    assert trained.log.read_text() == "run\nrun\n"
    assert trained.read("model.bin") == "model for lr: 0.1\n"
    assert trained.read("score.json") == "done\n"
    # the restored run is exactly the committed one: lock, metrics and all
    assert trained.git("status", "--porcelain") == ""
    assert trained.stale() == {}

    assert trained.project.json("repro", "--force")["ran"] == ["train"]  # --force really runs
    assert trained.log.read_text() == "run\nrun\nrun\n"


def test_no_run_cache_runs_the_command(trained):
    trained.git("checkout", "-q", "HEAD~1")
    proc = trained.repro("--no-run-cache")
    assert trained.ran(proc) == ["train"] and "Restored" not in proc.stdout
    assert trained.log.read_text() == "run\nrun\nrun\n"


def test_a_deleted_output_comes_back_from_the_run_cache(trained):
    (trained.root / "model.bin").unlink()
    assert trained.stale() == {"train": ["out model.bin missing"]}
    result = trained.project.json("repro")
    assert result["restored"] == ["train"] and result["ran"] == []
    assert trained.read("model.bin") == "model for lr: 0.2\n"
    assert trained.log.read_text() == "run\nrun\n"


def test_going_back_to_earlier_params_by_hand_uses_the_run_cache(trained):
    # the lock records lr 0.2; only the run-cache knows the lr 0.1 run
    trained.file("params.yaml", "lr: 0.1\n")
    assert trained.project.json("repro")["restored"] == ["train"]
    assert trained.read("model.bin") == "model for lr: 0.1\n"
    assert trained.log.read_text() == "run\nrun\n"


def test_run_cache_entries_are_files_in_the_cache(trained):
    runs = trained.root / ".cairn" / "cache" / "runs"
    entries = list(runs.rglob("*.json"))
    assert len(entries) == 2  # one per distinct set of inputs
    for p in entries:  # without them, going back to lr 0.1 runs the command
        p.unlink()
    trained.file("params.yaml", "lr: 0.1\n")
    assert trained.ran(trained.repro()) == ["train"]
    assert trained.log.read_text() == "run\nrun\nrun\n"


def test_a_run_cache_entry_whose_objects_left_the_cache_is_not_used(trained):
    trained.git("checkout", "-q", "HEAD~1")
    old_lock = yaml.safe_load(trained.git("show", "HEAD:cairn.lock"))
    path = trained.object_path(old_lock["stages"]["train"]["outs"][0]["oid"])  # model.bin at lr 0.1
    path.chmod(0o644)
    path.unlink()
    proc = trained.repro()
    assert trained.ran(proc) == ["train"]
    assert trained.read("model.bin") == "model for lr: 0.1\n"


def test_always_changed_stages_never_come_from_the_run_cache(pipe, tmp_path):
    log = tmp_path / "runs.log"
    pipe.yaml(
        f"""
        stages:
          fetch:
            cmd: echo run >> {log}; echo same > snapshot.txt
            always_changed: true
            outs: [snapshot.txt]
        """
    )
    pipe.repro()
    (pipe.root / "snapshot.txt").unlink()
    pipe.repro()
    assert log.read_text() == "run\nrun\n"
    assert not list((pipe.root / ".cairn" / "cache" / "runs").rglob("*.json"))
