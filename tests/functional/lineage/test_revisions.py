"""`cairn lineage --rev REV` and `--exp NAME`: the same output at other commits, on another
branch and in an experiment, read from git without checking anything out."""

from __future__ import annotations


def _stages(doc: dict) -> dict[str, dict]:
    return {s["name"]: s for s in doc["stages"]}


def _nodes(doc: dict) -> dict[str, dict]:
    return {n["path"]: n for n in doc["nodes"]}


def test_an_older_commit(history):
    doc = history.json("model", "--rev", "HEAD~1")
    assert (doc["rev"], doc["commit"]) == ("HEAD~1", history.c1)
    assert _stages(doc)["train"]["params"] == {"params.yaml": {"train.lr": 0.1}}
    assert _stages(doc)["train"]["ran"]["author"] == "Alice"
    assert _nodes(doc)["model"]["introduced"]["commit"] == history.c1
    assert doc["rebuild"] == f"git checkout {history.c1} && cairn pull && cairn repro train"
    # the workspace stays as it was: the model is still c2's
    assert (history.root / "model/model.txt").read_text().startswith("lr=0.2 ")


def test_another_branch(history):
    doc = history.json("model/model.txt", "--rev", "more-data")
    assert doc["commit"] == history.c3
    nodes, stages = _nodes(doc), _stages(doc)
    # new raw data came in on the branch: every stage reran there, by Carol
    assert nodes["data/raw"]["introduced"]["commit"] == history.c3
    assert nodes["data/raw"]["introduced"]["author"] == "Carol"
    assert nodes["data/raw"]["size"] == 6
    assert stages["prepare"]["ran"]["commit"] == history.c3
    assert stages["train"]["params"] == {"params.yaml": {"train.lr": 0.2}}
    # code unchanged since Alice's commit
    assert nodes["train.py"]["introduced"]["commit"] == history.c1
    # a file inside pointer data on that branch
    inner = history.json("data/raw/c.txt", "--rev", "more-data")
    node = _nodes(inner)["data/raw/c.txt"]
    assert (node["tracked"], node["within"], node["size"]) == ("pointer", "data/raw", 2)
    assert node["introduced"]["commit"] == history.c3


def test_an_experiment(history):
    doc = history.json("model", "--exp", "fast")
    assert doc["commit"] == history.exp_commit and doc["rev"] == "fast"
    exp = doc["experiment"]
    assert exp["name"] == "fast" and exp["baseline"] == history.c2 and exp["ref"].endswith("/fast")
    train, prepare = _stages(doc)["train"], _stages(doc)["prepare"]
    assert train["params"] == {"params.yaml": {"train.lr": 0.3}}
    # the experiment ran train; prepare's result came from the baseline history
    assert train["ran"]["experiment"] == "fast" and train["ran"]["commit"] == history.exp_commit
    assert train["ran"]["created"].startswith("20")
    assert "experiment" not in prepare["ran"] and prepare["ran"]["commit"] == history.c1
    assert doc["rebuild"] == f"git checkout {history.exp_commit} && cairn pull && cairn repro train"
    text = history.cairn("lineage", "model", "--exp", "fast").stdout
    assert text.splitlines()[0] == f"lineage of model at experiment fast (commit {history.exp_commit[:7]})"
    assert "ran: experiment fast, created " in text
    assert "params params.yaml: train.lr=0.3" in text
