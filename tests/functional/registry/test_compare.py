"""Champion / challenger: both models evaluated on the same data in temporary workspaces,
paired bootstrap intervals over per-row results, checks with the champion as baseline, and
promotion only when they pass."""

from __future__ import annotations

import json
import sys

import pytest

from cairn.errors import RegistryError

TRAIN = """\
import os, yaml
t = yaml.safe_load(open("params.yaml"))["train"]["threshold"]
os.makedirs("models", exist_ok=True)
open("models/churn.bin", "w").write(f"threshold {t}\\n")
"""

EVALUATE = """\
import csv, json
t = float(open("models/churn.bin").read().split()[1])
rows = list(csv.DictReader(open("data/eval.csv")))
out = [{"id": r["id"], "prediction": int(float(r["x"]) > t), "label": int(r["label"])} for r in rows]
with open("predictions.csv", "w", newline="") as f:
    w = csv.DictWriter(f, ["id", "prediction", "label"]); w.writeheader(); w.writerows(out)
acc = sum(o["prediction"] == o["label"] for o in out) / len(out)
json.dump({"accuracy": acc}, open("metrics.json", "w"))
"""

PIPELINE = f"""\
stages:
  train:
    cmd: {sys.executable} train.py
    deps: [train.py]
    params: [train.threshold]
    outs: [models/churn.bin]
  evaluate:
    cmd: {sys.executable} evaluate.py
    deps: [evaluate.py, models/churn.bin, data/eval.csv]
    outs:
      - predictions.csv: {{cache: false}}
    metrics:
      - metrics.json: {{cache: false}}
artifacts:
  churn:
    path: models/churn.bin
    type: model
checks:
  not-worse:
    metric: metrics.json:accuracy
    baseline: main
    max_drop: 0
"""


@pytest.fixture
def pipeline(repo, tmp_path):
    """Three trained versions: v0.0.1 (threshold 10, in prod), v0.0.2 (15: better), v0.0.3 (100: worse)."""
    rows = "id,x,label\n" + "".join(f"{i},{x},{int(x > 15)}\n" for i, x in enumerate(range(0, 40, 2)))
    repo.write({"train.py": TRAIN.encode(), "evaluate.py": EVALUATE.encode(), "cairn.yaml": PIPELINE.encode()})
    repo.write({"data/eval.csv": rows.encode()})
    repo.cairn("add", "data/eval.csv")
    for threshold in (10, 15, 100):
        repo.write({"params.yaml": f"train:\n  threshold: {threshold}\n".encode()})
        repo.cairn("repro")
        repo.commit(f"threshold {threshold}")
        repo.cairn("model", "register", "churn")
    repo.cairn("model", "assign", "churn@v0.0.1", "--stage", "prod")
    return repo


def test_compare_refuses_a_worse_model_and_promotes_a_better_one(pipeline):
    worse = pipeline.cairn("model", "compare", "churn@prod", "churn@v0.0.3", "--promote", "prod", "--json", expect=1)
    doc = json.loads(worse.stdout)
    assert doc["passed"] is False and doc["promoted"] is None
    assert [c["verdict"] for c in doc["checks"]["checks"]] == ["fail"]
    assert pipeline.json("model", "list")[0]["stages"] == {"prod": "v0.0.1"}

    better = pipeline.json("model", "compare", "churn@prod", "v0.0.2", "--promote", "prod")
    metrics = {(m["path"], m["key"]): m for m in better["metrics"]}
    acc = metrics[("metrics.json", "accuracy")]
    assert (acc["champion"], acc["challenger"]) == (0.9, 1.0)
    paired = {p["metric"]: p for p in better["paired"]}
    assert paired["accuracy"]["rows"] == 20 and paired["accuracy"]["diff"] == pytest.approx(0.1)
    low, high = paired["accuracy"]["ci95"]
    # two rows of 20 differ, both in the challenger's favour: a resample often misses both
    assert low == 0 and 0.1 <= high <= 0.25
    assert better["passed"] is True and better["promoted"]["tag"] == "churn#prod#2"
    assert pipeline.json("model", "list")[0]["stages"] == {"prod": "v0.0.2"}
    # nothing left behind: no hidden refs, no temporary workspace, the workspace untouched
    assert pipeline.git("for-each-ref", "refs/cairn/compare/") == ""
    scratch = pipeline.root / ".cairn/tmp/compare"
    assert not scratch.exists() or not any(scratch.iterdir())
    assert pipeline.git("status", "--porcelain") == ""
    # `cairn check` resolves MODEL@STAGE baselines through the registry (resolve_ref)
    check = json.loads(pipeline.cairn("check", "--baseline", "churn@prod", "--json", expect=1).stdout)
    assert check["baseline"] == "churn@prod" and check["checks"][0]["verdict"] == "fail"


def test_compare_bad_input(pipeline, assert_error):
    head = pipeline.git("rev-parse", "HEAD").strip()
    pipeline.git("commit", "-q", "--allow-empty", "-m", "unregistered")
    proc = pipeline.cairn("model", "compare", "churn@prod", "HEAD", "--promote", "prod", expect=None)
    assert_error(proc, RegistryError, "the candidate 'HEAD' is not a registered version of 'churn'", "register it")
    proc = pipeline.cairn("model", "compare", "churn@prod", head, "--stage", "evaluat", expect=None)
    assert proc.returncode == 2 and "there is no stage named 'evaluat'" in proc.stderr


def test_compare_refuses_a_candidate_of_another_artifact(pipeline, assert_error):
    """Promotion assigns the candidate's version string to the champion's artifact, so a version
    of another artifact would have put a different model (churn's own v0.0.1) in the stage."""
    text = (pipeline.root / "cairn.yaml").read_text()
    pipeline.write(
        {
            "cairn.yaml": text.replace(
                "artifacts:\n", "artifacts:\n  churn-small:\n    path: models/churn.bin\n"
            ).encode()
        }
    )
    pipeline.commit("a second artifact on the same file")
    pipeline.cairn("model", "register", "churn-small")
    before = pipeline.git("tag", "-l")
    proc = pipeline.cairn("model", "compare", "churn@prod", "churn-small@v0.0.1", "--promote", "prod", expect=None)
    assert_error(
        proc,
        RegistryError,
        "the candidate 'churn-small@v0.0.1' is a version of 'churn-small', not of the champion's artifact 'churn'",
        "compare two versions of one artifact",
    )
    assert pipeline.git("tag", "-l") == before
    assert pipeline.json("model", "list")[0]["stages"] == {"prod": "v0.0.1"}


def test_bundle_lineage_lists_data_not_code(pipeline):
    """The bundle's data versions (bundle.json, /metadata, MODEL_CARD.md) are what cairn tracks;
    the stage's script is code, pinned by the commit, not a data version."""
    pipeline.write({"cairn.yaml": PIPELINE.replace("deps: [train.py]", "deps: [train.py, data/eval.csv]").encode()})
    pipeline.cairn("repro")
    pipeline.commit("train reads the data")
    pipeline.cairn("model", "register", "churn")
    pipeline.cairn("model", "bundle", "churn", "-o", "b")
    meta = json.loads((pipeline.root / "b/bundle.json").read_text())
    assert [d["path"] for d in meta["lineage"]["data"]] == ["data/eval.csv"]
    assert meta["lineage"]["params"] == {"params.yaml": {"train.threshold": 100}}
    card = (pipeline.root / "b/MODEL_CARD.md").read_text()
    data_section = card.split("## Data versions", 1)[1].split("##", 1)[0]
    assert "data/eval.csv" in data_section and "train.py" not in data_section


def test_compare_says_whose_evaluation_failed(pipeline, assert_error):
    from cairn.errors import StageFailedError

    pipeline.write({"evaluate.py": b"import sys\nprint('no labels today', file=sys.stderr)\nsys.exit(3)\n"})
    pipeline.commit("the evaluation breaks")
    proc = pipeline.cairn("model", "compare", "churn@prod", "v0.0.2", "--data", "HEAD", expect=None)
    assert_error(
        proc,
        StageFailedError,
        "the champion's evaluation (churn@prod = v0.0.1, commit ",
        "fix stage 'evaluate' at the data revision",
    )
    assert "no labels today" in proc.stderr and "cairn repro" not in proc.stderr
    assert pipeline.git("for-each-ref", "refs/cairn/compare/") == ""
    scratch = pipeline.root / ".cairn/tmp/compare"
    assert not scratch.exists() or not any(scratch.iterdir())
