"""`cairn lineage` on input it cannot follow: each with its message, and a history whose
objects are missing from the cache (the gap is reported, the rest still answered)."""

from __future__ import annotations

import json
import shutil

import yaml

from cairn.errors import PathError, PipelineError, RevisionError, UserInputError


def test_a_git_file_is_not_produced_by_a_stage(history, assert_error):
    proc = history.cairn("lineage", "train.py", expect=None)
    assert_error(proc, UserInputError, "train.py is in git, not produced by a stage", "git log -- train.py")


def test_an_untracked_path(history, assert_error):
    proc = history.cairn("lineage", "data/x.csv", expect=None)
    assert_error(
        proc,
        UserInputError,
        "data/x.csv is not tracked at HEAD: no stage output, pointer or git file holds it",
        "lineage starts from what a stage wrote",
    )
    # a name inside an output folder that the folder does not hold
    proc = history.cairn("lineage", "model/nope.txt", "--rev", "more-data", expect=None)
    assert_error(proc, UserInputError, "model/nope.txt is not tracked at more-data")
    proc = history.cairn("lineage", "data/raw/c.txt", "--exp", "fast", expect=None)
    assert_error(proc, UserInputError, "data/raw/c.txt is not tracked in experiment fast")


def test_unknown_revision_and_experiment(history, assert_error):
    proc = history.cairn("lineage", "model", "--rev", "nope", expect=None)
    assert_error(proc, RevisionError, "unknown revision 'nope'", "git log --oneline")
    proc = history.cairn("lineage", "model", "--exp", "fsat", expect=None)
    assert_error(proc, UserInputError, "there is no experiment named 'fsat'", "did you mean 'fast'?")
    proc = history.cairn("lineage", "model", "--exp", "fast", "--rev", "main", expect=None)
    assert_error(proc, UserInputError, "--rev and --exp name two different runs", "give one of them")


def test_outside_the_repository_and_two_formats(history, assert_error):
    proc = history.cairn("lineage", "../elsewhere", expect=None)
    assert_error(proc, PathError, "../elsewhere is outside the repository")
    proc = history.cairn("lineage", "model", "--json", "--dot", expect=2)
    assert "choose one of --json, --mermaid, --dot" in proc.stderr and proc.stdout == ""


def test_objects_missing_from_the_cache(history, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(history.root, root, symlinks=True)
    lock_c1 = yaml.safe_load(history.git("show", f"{history.c1}:cairn.lock"))
    model_c1 = lock_c1["stages"]["train"]["outs"][0]["oid"]
    objects = root / ".cairn" / "cache" / "objects"
    # an older version's tree gone: the file's history is followed as far as it can be
    (objects / model_c1[:2] / model_c1[2:]).unlink()
    doc = json.loads(history.cairn("lineage", "model/model.txt", "--json", cwd=root).stdout)
    node = next(n for n in doc["nodes"] if n["path"] == "model/model.txt")
    assert node["introduced"]["commit"] == history.c2
    assert doc["gaps"] == [
        {
            "path": "model/model.txt",
            "oid": None,
            "problem": f"history before commit {history.c2[:7]} not compared: commit {history.c1[:7]} lacks its trees",
        }
    ]
    # the whole cache gone: lineage reads git and locks, so only a file inside a folder has a gap
    shutil.rmtree(objects)
    assert json.loads(history.cairn("lineage", "model", "--json", cwd=root).stdout)["gaps"] == []
    proc = history.cairn("lineage", "model/model.txt", cwd=root)
    lock_c2 = yaml.safe_load(history.git("show", f"{history.c2}:cairn.lock"))
    model_c2 = lock_c2["stages"]["train"]["outs"][0]["oid"]
    gap = f"gap: model/model.txt: tree object {model_c2} of model is not in the cache (run `cairn fetch`)"
    assert gap in proc.stdout.splitlines()
    assert proc.stdout.splitlines()[-1].startswith(f"rebuild: git checkout {history.c2} ")


def test_a_damaged_lock(history, tmp_path, git, assert_error):
    root = tmp_path / "copy"
    shutil.copytree(history.root, root, symlinks=True)
    (root / "cairn.lock").write_text("version: 1\nstages: [1]\n")
    git("commit", "-qam", "break the lock", cwd=root)
    proc = history.cairn("lineage", "model", cwd=root, expect=None)
    assert_error(proc, PipelineError, "cairn.lock at commit", "git checkout -- cairn.lock")
    assert "is damaged (`stages` is not a mapping)" in proc.stderr
    # the revision before it still reads
    assert json.loads(history.cairn("lineage", "model", "--rev", "HEAD~1", "--json", cwd=root).stdout)["stage"]
