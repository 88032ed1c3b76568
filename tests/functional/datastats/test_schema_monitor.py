"""schema: checks (cairn data check, repro) and monitors (monitor run, show) in a real project."""

from __future__ import annotations

import json

from cairn.errors import DataStatsError, PipelineError, SchemaViolationError, UserInputError

SCHEMA = """\
schema:
  data/t.csv:
    columns:
      x: {type: float, nulls: 0}
      k: {type: str, categories: [a, b, c]}
      n: {type: int, min: 0, max: 9}
"""


def test_data_check_passes_then_names_the_broken_column(versions, tables) -> None:
    (versions.root / "cairn.yaml").write_text(SCHEMA)
    doc = versions.json("data", "check")
    assert doc["ok"] and doc["datasets"][0]["path"] == "data/t.csv" and doc["datasets"][0]["problems"] == []
    df = tables(9)
    df = df.with_columns(n=df["n"] + 5)
    df.write_csv(versions.root / "data" / "t.csv")
    proc = versions.cairn("data", "check", expect=1)
    assert proc.stdout.splitlines() == ["data/t.csv: FAILED", "  column 'n' has values above 9 (its max is 14)"]
    assert versions.json("data", "check", "data/t.csv", "--rev", "v1")["ok"]


def test_repro_stops_before_any_stage_runs(versions, tables, assert_error) -> None:
    (versions.root / "cairn.yaml").write_text(
        SCHEMA + "stages:\n  train:\n    cmd: touch ran\n    deps: [data/t.csv]\n"
    )
    versions.cairn("repro")
    assert (versions.root / "ran").exists()
    (versions.root / "ran").unlink()
    tables(9).with_columns(k=tables(9)["k"].replace("c", "zebra")).write_csv(versions.root / "data" / "t.csv")
    proc = versions.cairn("repro", expect=None)
    assert_error(
        proc,
        SchemaViolationError,
        "input data breaks its schema: data/t.csv: column 'k' has values outside its categories: 'zebra' "
        "(read by train)",
        "fix the data or the schema: in cairn.yaml; `cairn data check` lists every problem",
    )
    assert not (versions.root / "ran").exists()


def test_bad_schema_and_no_schema(repo, assert_error) -> None:
    assert_error(repo.cairn("data", "check", expect=None), UserInputError, "cairn.yaml declares no schema:")
    (repo.root / "cairn.yaml").write_text("schema:\n  d.csv:\n    columns:\n      x: {type: decimal}\n")
    assert_error(
        repo.cairn("data", "check", expect=None),
        PipelineError,
        "cairn.yaml: the schema section has 1 problem(s): schema.d.csv.columns.x.type: 'decimal' is not one of",
    )
    (repo.root / "cairn.yaml").write_text("schema:\n  d.csv:\n    columns:\n      x: {type: int}\n")
    assert_error(
        repo.cairn("data", "check", "e.csv", expect=None), UserInputError, "cairn.yaml has no schema for e.csv"
    )


MONITOR = """\
monitors:
  prod:
    reference: data/t.csv@v1
    features: [x, k]
    on_alert: {py} -c "import sys, json; json.dump(json.load(sys.stdin), open('alert.json', 'w'))"
"""


def test_monitor_run_alerts_and_keeps_a_history(versions, tables, tmp_path, assert_error) -> None:
    import sys

    (versions.root / "cairn.yaml").write_text(MONITOR.format(py=sys.executable))
    quiet = tmp_path / "batch1.parquet"
    tables(11, rows=2000).write_parquet(quiet)
    s = versions.json("monitor", "run", "prod", str(quiet))
    assert not s["alert"] and s["health"] == 1.0 and s["tested"] == 2 and s["rows"] == 2000
    assert not (versions.root / "alert.json").exists()

    folder = tmp_path / "batch2"
    folder.mkdir()
    tables(12, shift=1.5, rows=1000).write_csv(folder / "a.csv")
    tables(13, shift=1.5, rows=1000).write_csv(folder / "b.csv")
    proc = versions.cairn("monitor", "run", "prod", str(folder), expect=1)
    assert "monitor prod: ALERT  health 0.50 (min 0.50), 1 of 2 features drifted, 2,000 rows" in proc.stdout
    alert = json.loads((versions.root / "alert.json").read_text())
    assert alert["alert"] and alert["drifted_features"] == ["x"] and alert["monitor"] == "prod"

    rows = versions.json("monitor", "show", "prod")["rows"]
    assert [r["alert"] for r in rows] == [False, True]  # typed as `monitor run --json` has them
    assert isinstance(rows[0]["rows"], int) and isinstance(rows[0]["health"], float)
    assert list(rows[0]) == ["time", "batch", "rows", "health", "drifted", "tested", "alert", "score:x", "score:k"]
    out = versions.cairn("monitor", "show", "prod", "--html", str(tmp_path / "page")).stdout
    page = (tmp_path / "page" / "monitor-prod.html").read_text()
    assert "trend page:" in out and "vegaEmbed" in page and "score:x" in page
    (tmp_path / "afile").write_text("")
    proc = versions.cairn("monitor", "show", "prod", "--html", str(tmp_path / "afile" / "sub"), expect=2)
    assert "Traceback" not in proc.stderr and "is a file, not a folder" in proc.stderr

    wrong = tmp_path / "wrong.csv"
    tables(14, rows=10).drop("k").write_csv(wrong)
    assert_error(
        versions.cairn("monitor", "run", "prod", str(wrong), expect=None),
        DataStatsError,
        f"the batch {wrong} does not match the reference of monitor 'prod': it lacks column(s) 'k' (it has n, x)",
        "send batches with the reference's columns, or narrow the monitor's `features:`",
    )
    assert len(versions.json("monitor", "show", "prod")["rows"]) == 2  # a refused batch leaves no row
    # a bad file of a batch is named as it was given (it read 'x/e.csv/x/e.csv', 'x//x/e.csv')
    (tmp_path / "day").mkdir()
    (tmp_path / "day" / "e.csv").write_bytes(b"")
    for given, named in (
        (tmp_path / "day" / "e.csv", tmp_path / "day" / "e.csv"),
        (tmp_path / "day", tmp_path / "day" / "e.csv"),
    ):
        assert_error(
            versions.cairn("monitor", "run", "prod", str(given), expect=None),
            DataStatsError,
            f"error: {named} is empty (0 bytes)",
        )
    assert_error(
        versions.cairn("monitor", "run", "nope", str(wrong), expect=None),
        UserInputError,
        "there is no monitor named 'nope'",
    )


def test_cairn_check_runs_the_schema_and_drift_checks(versions, tables) -> None:
    (versions.root / "cairn.yaml").write_text(
        SCHEMA + "checks:\n  schema:\n    command: cairn data check\n"
        "  no-drift:\n    command: cairn data diff data/t.csv v1 --fail-on-drift\n"
    )
    versions.cairn("check", venv_first=True)  # the workspace is v3: v1's distribution
    tables(9, shift=2.0).with_columns(n=tables(9)["n"] + 20).write_csv(versions.root / "data" / "t.csv")
    proc = versions.cairn("check", venv_first=True, expect=1)
    assert "failed: check 'schema': exited with 1" in proc.stderr
    assert "column 'n' has values above 9 (its max is 29)" in proc.stderr
    assert "failed: check 'no-drift': exited with 1" in proc.stderr


EVALUATE = """\
monitors:
  prod:
    reference: data/t.csv@v1
    features: [x]
    evaluate:
      cmd: {py} eval.py
      labels: n
      min: {{accuracy: 0.4}}
"""

EVAL_SCRIPT = """\
import json, os, polars as pl
df = pl.concat([pl.read_csv(p) for p in os.environ["CAIRN_BATCH"].split(os.pathsep)])
acc = float((df["n"] < 5).mean())
json.dump({"accuracy": acc, "detail": {"rows": df.height}}, open(os.environ["CAIRN_METRICS"], "w"))
"""


def test_batches_with_labels_are_evaluated(versions, tables, tmp_path, assert_error) -> None:
    import sys

    from cairn.errors import StageFailedError

    (versions.root / "cairn.yaml").write_text(EVALUATE.format(py=sys.executable))
    (versions.root / "eval.py").write_text(EVAL_SCRIPT)
    good = tmp_path / "good.csv"
    tables(21, rows=1000).write_csv(good)
    s = versions.json("monitor", "run", "prod", str(good))
    assert not s["alert"] and s["metrics"]["detail.rows"] == 1000 and s["metric_failures"] == []
    assert 0.4 < s["metrics"]["accuracy"] < 0.6

    bad = tmp_path / "bad.csv"
    df = tables(22, rows=1000)
    df.with_columns(n=df["n"] + 5).write_csv(bad)  # no label below 5: accuracy 0
    proc = versions.cairn("monitor", "run", "prod", str(bad), expect=1)
    assert "  out of bounds: accuracy 0 < 0.4" in proc.stdout
    rows = versions.json("monitor", "show", "prod")["rows"]
    assert [r["alert"] for r in rows] == [False, True] and rows[1]["metric:accuracy"] == 0.0

    unlabeled = tmp_path / "unlabeled.csv"
    tables(23, rows=2000).drop("n").write_csv(unlabeled)
    assert "metrics" not in versions.json("monitor", "run", "prod", str(unlabeled))

    (versions.root / "eval.py").write_text("import sys; sys.exit('no model file')\n")
    assert_error(
        versions.cairn("monitor", "run", "prod", str(good), expect=None),
        StageFailedError,
        "the evaluation of monitor 'prod' failed (exit 1): no model file",
    )
    (versions.root / "eval.py").write_text("import sys; sys.exit(3)\n")  # fails silently
    assert_error(
        versions.cairn("monitor", "run", "prod", str(good), expect=None),
        StageFailedError,
        "the evaluation of monitor 'prod' failed (exit 3): it printed nothing",
    )
    (versions.root / "eval.py").write_text("pass\n")
    assert_error(
        versions.cairn("monitor", "run", "prod", str(good), expect=None),
        StageFailedError,
        "the evaluation of monitor 'prod' wrote no metrics: $CAIRN_METRICS holds no JSON object",
    )
    assert len(versions.json("monitor", "show", "prod")["rows"]) == 3  # failed evaluations add no row


def test_reference_is_the_training_data_of_a_registered_model(repo, tables, tmp_path, assert_error) -> None:
    from cairn.errors import RevisionError

    (repo.root / "data").mkdir()
    tables(41).write_csv(repo.root / "data" / "t.csv")
    repo.cairn("add", "data/t.csv")
    (repo.root / "cairn.yaml").write_text(
        "artifacts:\n  churn:\n    path: data/t.csv\n"
        "monitors:\n  prod:\n    reference: data/t.csv@churn@prod\n    features: [x]\n"
        "  typo:\n    reference: data/t.csv@nope@prod\n"
    )
    repo.commit("trained on v1")
    repo.cairn("model", "register", "churn", "-m", "first")
    repo.cairn("model", "assign", "churn", "--stage", "prod")
    tables(42, shift=2.0).write_csv(repo.root / "data" / "t.csv")  # the data moved on since
    repo.cairn("add", "data/t.csv")
    repo.commit("newer data")
    batch = tmp_path / "batch.csv"
    tables(43, rows=2000).write_csv(batch)  # like the training data, unlike today's
    s = repo.json("monitor", "run", "prod", str(batch))
    assert not s["alert"] and s["drifted"] == 0
    proc = repo.cairn("monitor", "run", "typo", str(batch), expect=None)
    assert_error(proc, RevisionError, "the monitor's reference revision 'nope@prod' is neither a git revision nor a")
