"""`cairn lineage PATH`: the upstream graph of an output on a real history (conftest.py)."""

from __future__ import annotations

import yaml
from blake3 import blake3


def _by_path(doc: dict) -> dict[str, dict]:
    return {n["path"]: n for n in doc["nodes"]}


def _stages(doc: dict) -> dict[str, dict]:
    return {s["name"]: s for s in doc["stages"]}


def test_json_of_a_stage_output_at_head(history):
    doc = history.json("model")
    assert doc["version"] == 1
    assert (doc["target"], doc["rev"], doc["commit"], doc["stage"]) == ("model", "HEAD", history.c2, "train")
    assert doc["experiment"] is None
    nodes, stages = _by_path(doc), _stages(doc)
    assert set(nodes) == {"model", "train.py", "data/features", "prepare.py", "data/raw"}
    assert set(stages) == {"train", "prepare"}
    tracked = {p: n["tracked"] for p, n in nodes.items()}
    assert tracked == {
        "model": "stage_output",
        "data/features": "stage_output",
        "train.py": "git",
        "prepare.py": "git",
        "data/raw": "pointer",
    }
    # the model came in with Bob's commit; its input data is Alice's, unchanged since
    assert nodes["model"]["introduced"]["commit"] == history.c2
    assert nodes["model"]["introduced"]["author"] == "Bob"
    assert nodes["model"]["introduced"]["message"] == "train with lr 0.2"
    assert nodes["data/features"]["introduced"]["commit"] == history.c1
    assert nodes["data/raw"]["introduced"]["author"] == "Alice"
    assert nodes["data/raw"]["kind"] == "tree" and nodes["data/raw"]["size"] == 4
    train, prepare = stages["train"], stages["prepare"]
    assert train["params"] == {"params.yaml": {"train.lr": 0.2}}
    assert prepare["params"] == {"params.yaml": {"prepare.scale": 2}}
    assert train["cmd"].endswith("train.py") and train["wdir"] == "."
    assert train["deps"] == ["train.py", "data/features"] and train["outs"] == ["model"]
    assert train["ran"]["commit"] == history.c2 and train["ran"]["author"] == "Bob"
    assert prepare["ran"]["commit"] == history.c1 and prepare["ran"]["author"] == "Alice"
    assert train["code"] == [
        {"path": "train.py", "git_blob": history.git("rev-parse", f"{history.c2}:train.py").strip()}
    ]
    assert train["code_commit"] == history.c2
    # the environment record is the lock entry's `env` object id, when the lock has one
    lock = yaml.safe_load(history.git("show", f"{history.c2}:cairn.lock"))
    assert train["env"] == lock["stages"]["train"].get("env")
    assert {"from": "data/features", "to": "stage:train"} in doc["edges"]
    assert {"from": "stage:prepare", "to": "data/features"} in doc["edges"]
    assert doc["gaps"] == []
    assert doc["rebuild"] == f"git checkout {history.c2} && cairn pull && cairn repro train"


def test_a_file_inside_an_output_folder(history):
    doc = history.json("model/model.txt")
    node = _by_path(doc)["model/model.txt"]
    content = (history.root / "model/model.txt").read_bytes()
    assert node["oid"] == blake3(content).hexdigest() and node["size"] == len(content)
    assert (node["tracked"], node["within"], node["stage"]) == ("stage_output", "model", "train")
    assert {"from": "model", "to": "model/model.txt"} in doc["edges"]
    assert doc["stage"] == "train"


def test_source_data_is_its_own_lineage(history):
    doc = history.json("data/raw")
    assert doc["stage"] is None and doc["stages"] == []
    assert _by_path(doc)["data/raw"]["tracked"] == "pointer"
    assert doc["rebuild"] == f"git checkout {history.c2} && cairn pull"
    # the pointer file names the same data
    assert history.json("data/raw.cairn")["target"] == "data/raw"


def test_human_tree(history):
    out = history.cairn("lineage", "model").stdout.splitlines()
    assert out[0] == f"lineage of model at HEAD (commit {history.c2[:7]})"
    assert out[1].startswith("model  [stage output, tree, ")
    text = "\n".join(out)
    assert "written by stage train: " in text and "written by stage prepare: " in text
    assert "params params.yaml: train.lr=0.2" in text
    assert f"ran: {history.c2[:7]} " in text and "Bob: train with lr 0.2" in text
    assert "└─ data/raw  [pointer, tree, 4 B, " in text
    assert "env: " in text
    assert out[-1] == f"rebuild: git checkout {history.c2} && cairn pull && cairn repro train"


def test_mermaid_and_dot(history):
    mermaid = history.cairn("lineage", "model", "--mermaid").stdout
    assert mermaid.startswith("flowchart LR\n")
    assert '["data/raw"]' in mermaid and '{{"prepare"}}' in mermaid and " --> " in mermaid
    dot = history.cairn("lineage", "model", "--dot").stdout
    assert dot.startswith("digraph lineage {") and '[label="train", shape=ellipse];' in dot
    assert dot.count(" -> ") == len(history.json("model")["edges"])


def test_from_a_subfolder(history):
    proc = history.cairn("lineage", "features", "--json", cwd=history.root / "data")
    assert '"target": "data/features"' in proc.stdout
