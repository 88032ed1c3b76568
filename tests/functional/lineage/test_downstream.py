"""`cairn lineage --downstream PATH[@REV]`: every commit on a branch or tag and every experiment
whose lock consumed that exact version, through the trees for a file inside a folder."""

from __future__ import annotations

import json
import shutil

import yaml

from cairn.errors import ObjectMissingError, RevisionError, UserInputError


def _by_commit(doc: dict) -> dict[str, dict]:
    return {c["commit"]: c for c in doc["consumers"]}


def _lock(history, commit: str) -> dict:
    return yaml.safe_load(history.git("show", f"{commit}:cairn.lock"))["stages"]


def test_a_data_version_and_everything_it_fed(history):
    doc = history.json("--downstream", "data/raw@HEAD")
    assert (doc["version"], doc["target"], doc["kind"]) == (1, "data/raw", "tree")
    assert doc["oid"] == _lock(history, history.c2)["prepare"]["deps"][1]["oid"]
    found = _by_commit(doc)
    # the branch's new data is another version: c3 is not a consumer
    assert set(found) == {history.c1, history.c2, history.exp_commit}
    c2 = found[history.c2]
    assert "main" in c2["refs"] and c2["experiment"] is None and c2["author"] == "Bob"
    stages = {s["stage"]: s for s in c2["stages"]}
    assert stages["prepare"]["dep"] == "data/raw" and stages["prepare"]["via"] is None
    assert stages["train"]["dep"] == "data/features" and stages["train"]["via"] == "prepare"
    model = _lock(history, history.c2)["train"]["outs"][0]
    assert stages["train"]["outs"] == [{"path": "model", "oid": model["oid"], "kind": "tree", "size": model["size"]}]
    assert found[history.exp_commit]["experiment"] == "fast"
    assert found[history.exp_commit]["refs"] == ["exps/" + history.c2 + "/fast"]
    other = history.json("--downstream", "data/raw@more-data")
    assert [c["commit"] for c in other["consumers"]] == [history.c3]
    assert other["consumers"][0]["refs"] == ["more-data"]


def test_a_file_inside_a_folder_is_followed_through_the_trees(history):
    # a.txt is the same file in every version of data/raw, the branch's included
    doc = history.json("--downstream", "data/raw/a.txt@main")
    assert set(_by_commit(doc)) == {history.c1, history.c2, history.c3, history.exp_commit}
    only_branch = history.json("--downstream", "data/raw/c.txt@more-data")
    assert set(_by_commit(only_branch)) == {history.c3}
    # a git file (code) is matched by the id the lock records for it
    code = history.json("--downstream", "train.py")
    assert set(_by_commit(code)) == {history.c1, history.c2, history.c3, history.exp_commit}
    assert [s["stage"] for s in _by_commit(code)[history.c1]["stages"]] == ["train"]


def test_human_output_and_a_version_nobody_used(history):
    text = history.cairn("lineage", "--downstream", "data/features@" + history.c1).stdout.splitlines()
    assert text[0].startswith(f"consumers of data/features at {history.c1} (commit {history.c1[:7]}, version ")
    assert any(line.endswith("[main]") and "Bob: train with lr 0.2" in line for line in text)
    assert any("[experiment fast, exps/" in line for line in text)
    assert "  train read data/features -> model (" in "\n".join(text)
    unused = history.cairn("lineage", "--downstream", "model").stdout.splitlines()
    assert unused[-1] == "no commit or experiment consumed this version"
    mermaid = history.cairn("lineage", "--downstream", "data/raw", "--mermaid").stdout
    assert mermaid.startswith("flowchart LR") and '{{"train"}}' in mermaid and '["model"]' in mermaid


def test_bad_input(history, assert_error):
    proc = history.cairn("lineage", "--downstream", "nope.csv@HEAD", expect=None)
    assert_error(proc, UserInputError, "nope.csv is not tracked at HEAD")
    proc = history.cairn("lineage", "--downstream", "data/raw@nope", expect=None)
    assert_error(proc, RevisionError, "unknown revision 'nope'")
    proc = history.cairn("lineage", "--downstream", "data/raw", "--exp", "nope", expect=None)
    assert_error(proc, UserInputError, "there is no experiment named 'nope'")


def test_missing_trees_are_gaps(history, tmp_path, assert_error):
    root = tmp_path / "copy"
    shutil.copytree(history.root, root, symlinks=True)
    objects = root / ".cairn" / "cache" / "objects"
    raw_c3 = _lock(history, history.c3)["prepare"]["deps"][1]["oid"]
    (objects / raw_c3[:2] / raw_c3[2:]).unlink()
    doc = json.loads(history.cairn("lineage", "--downstream", "data/raw/a.txt", "--json", cwd=root).stdout)
    assert set(_by_commit(doc)) == {history.c1, history.c2, history.exp_commit}
    assert doc["gaps"] == [
        {
            "commit": history.c3,
            "path": "data/raw",
            "oid": raw_c3,
            "problem": f"tree object {raw_c3} is not in the cache (run `cairn fetch`)",
        }
    ]
    shutil.rmtree(objects)
    proc = history.cairn("lineage", "--downstream", "data/raw/a.txt", cwd=root, expect=None)
    assert_error(proc, ObjectMissingError, "the version of data/raw/a.txt cannot be read: tree object", "cairn fetch")
