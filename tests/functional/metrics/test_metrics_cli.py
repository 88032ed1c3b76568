"""params diff, metrics show / diff / trend through the real CLI on a project with history."""

from __future__ import annotations

import json
import re

from cairn.errors import RevisionError


def test_help_lists_the_commands(proj) -> None:
    out = proj.cairn("--help").stdout
    for name in ("params", "metrics", "plots"):
        assert re.search(rf"^\s+{name}\s", out, re.M), name
    assert "trend" in proj.cairn("metrics", "--help").stdout


def test_show_the_workspace(proj) -> None:
    out = proj.cairn("metrics", "show").stdout.splitlines()
    assert out[0].split() == ["Revision", "Path", "f1", "auc", "acc", "train.loss", "note"]
    assert out[1].split() == ["workspace", "eval/scores.yaml", "0.9", "0.95", "—", "—", "—"]
    assert out[2].split() == ["workspace", "metrics.json", "—", "—", "0.8", "0.7", "lr=0.03"]


def test_show_all_refs_reads_history_without_a_checkout(proj) -> None:
    assert "metrics.json" not in proj.git("ls-files")  # a cached output: only cairn.lock names it
    before = (proj.root / "metrics.json").read_bytes()
    data = proj.json("metrics", "show", "-A")
    revs = [r["rev"] for r in data["revisions"]]
    assert revs == ["workspace", "main", "exp", "v1", "v2", "v3"]
    by = {r["rev"]: r["files"] for r in data["revisions"]}
    assert by["v1"]["metrics.json"] == {"acc": 0.6, "train.loss": 0.9, "note": "lr=0.01"}
    assert by["exp"]["metrics.json"]["acc"] == 1.0
    assert by["v1"]["eval/scores.yaml"] == {"f1": 0.7}
    assert by["v2"]["eval/scores.yaml"] == {"f1": 0.8, "auc": 0.9}
    assert data["revisions"][3]["commit"] == proj.git("rev-parse", "v1").strip()
    assert data["errors"] == []
    assert (proj.root / "metrics.json").read_bytes() == before
    assert proj.git("status", "--porcelain") == ""


def test_show_tags_last_commits_and_named_revisions(proj) -> None:
    csv_out = proj.cairn("metrics", "show", "-T", "--csv").stdout.splitlines()
    assert csv_out[0] == "Revision,Path,f1,auc,acc,train.loss,note"
    assert csv_out[1:3] == ["workspace,eval/scores.yaml,0.9,0.95,,,", "workspace,metrics.json,,,0.8,0.7,lr=0.03"]
    assert [line.split(",")[0] for line in csv_out[1:]] == ["workspace"] * 2 + ["v1"] * 2 + ["v2"] * 2 + ["v3"] * 2
    md = proj.cairn("metrics", "show", "-n", "2", "--md").stdout.splitlines()
    v3, v2 = proj.git("rev-parse", "--short=7", "v3").strip(), proj.git("rev-parse", "--short=7", "v2").strip()
    assert md[0] == "| Revision | Path | f1 | auc | acc | train.loss | note |"
    assert md[1] == "|---|---|---|---|---|---|---|"
    assert [row.split(" | ")[0].lstrip("| ") for row in md[2:]] == ["workspace"] * 2 + [v3] * 2 + [v2] * 2
    named = proj.json("metrics", "show", "--rev", "v1", "--rev", "workspace")
    assert [r["rev"] for r in named["revisions"]] == ["v1", "workspace"]


def test_precision_rounds_numbers_in_tables_only(proj) -> None:
    proj.write({"eval/scores.yaml": b"f1: 0.123456789\n"})
    out = proj.cairn("metrics", "show", "--precision", "3").stdout
    assert " 0.123 " in out
    assert proj.json("metrics", "show")["revisions"][0]["files"]["eval/scores.yaml"]["f1"] == 0.123456789


def test_only_one_of_all_refs_tags_and_last(proj) -> None:
    proc = proj.cairn("metrics", "show", "-A", "-n", "3", expect=2)
    assert "choose one of -A, -T and -n" in proc.stderr


def test_diff_head_and_workspace_with_change(proj) -> None:
    proj.write({"eval/scores.yaml": b"f1: 0.95\nauc: 0.95\n", "metrics.json": b'{"acc": 0.8, "note": "edited"}'})
    out = proj.cairn("metrics", "diff").stdout.splitlines()
    assert out[0].split() == ["Path", "Metric", "HEAD", "workspace", "Change"]
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out[1:]}
    assert rows[("eval/scores.yaml", "f1")] == ["0.9", "0.95", "+0.05"]
    assert rows[("metrics.json", "note")] == ["lr=0.03", "edited", "—"]  # not a number: shown, not diffed
    assert rows[("metrics.json", "train.loss")] == ["0.7", "missing", "—"]
    assert ("eval/scores.yaml", "auc") not in rows  # unchanged
    md = proj.cairn("metrics", "diff", "--md", "--all").stdout.splitlines()
    assert md[0] == "| Path | Metric | HEAD | workspace | Change |"
    assert "| eval/scores.yaml | auc | 0.95 | 0.95 | 0.0 |" in md


def test_diff_between_revisions_a_metric_missing_in_one(proj) -> None:
    out = proj.cairn("metrics", "diff", "v1", "v2").stdout
    assert re.search(r"eval/scores\.yaml\s+auc\s+missing\s+0\.9\s+—", out)
    data = proj.json("metrics", "diff", "v1", "v2")
    assert data["old"]["rev"] == "v1" and data["new"]["rev"] == "v2"
    auc = next(r for r in data["diff"] if r["key"] == "auc")
    assert auc == {"path": "eval/scores.yaml", "key": "auc", "old": None, "new": 0.9, "status": "added", "change": None}
    acc = next(r for r in data["diff"] if r["key"] == "acc")
    assert acc["change"] == 0.1
    assert proj.cairn("metrics", "diff", "v2", "v2").stdout == "No metrics changed between v2 and v2.\n"


def test_params_diff(proj) -> None:
    assert proj.cairn("params", "diff").stdout == "No params changed between HEAD and workspace.\n"
    proj.write({"params.yaml": b"train:\n  lr: 0.1\n  epochs: 5\nmodel:\n  name: vit\n"})
    out = proj.cairn("params", "diff").stdout.splitlines()
    assert out[0].split() == ["Path", "Param", "HEAD", "workspace"]
    assert [line.split() for line in out[1:]] == [
        ["params.yaml", "train.lr", "0.03", "0.1"],
        ["params.yaml", "model.name", "resnet", "vit"],
    ]
    md = proj.cairn("params", "diff", "v1", "v2", "--all", "--md").stdout.splitlines()
    assert md == [
        "| Path | Param | v1 | v2 |",
        "|---|---|---|---|",
        "| params.yaml | train.lr | 0.01 | 0.02 |",
        "| params.yaml | train.epochs | 3 | 4 |",
        "| params.yaml | model.name | resnet | resnet |",
    ]
    data = proj.json("params", "diff", "v1")
    assert {(r["key"], r["old"], r["new"], r["status"]) for r in data["diff"]} == {
        ("train.lr", 0.01, 0.1, "modified"),
        ("train.epochs", 3, 5, "modified"),
        ("model.name", "resnet", "vit", "modified"),
    }


def test_trend_table_and_plot(proj) -> None:
    proc = proj.cairn("metrics", "trend", "acc", "-n", "2")
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Commit", "Date", "Subject", "acc"]
    assert lines[1].split()[0] == proj.git("rev-parse", "--short=7", "v3").strip()
    assert lines[1].split()[-1] == "0.8" and lines[2].split()[-1] == "0.7"
    assert "train 3" in lines[1]
    page = proj.root / "cairn_plots" / "trend-metrics.json-acc.html"
    assert f"Plot: {page.relative_to(proj.root)}" in proc.stderr
    text = page.read_text()
    spec = json.loads(re.search(r'<script type="application/json" id="spec-0">(.*?)</script>', text, re.S).group(1))
    assert [p["value"] for p in spec["data"]["values"]] == [0.7, 0.8]  # oldest first
    data = proj.json("metrics", "trend", "eval/scores.yaml:auc", "--no-plot")
    assert [p["value"] for p in data["points"]] == [0.95, 0.9, None, None]  # v3, v2, v1, "Initialize cairn"
    assert data["points"][2]["missing"] is True and data["page"] is None


def test_trend_of_an_unknown_or_ambiguous_key(proj, assert_error) -> None:
    from cairn.errors import PipelineError

    proc = proj.cairn("metrics", "trend", "loss", expect=None)
    assert_error(proc, PipelineError, "no metric 'loss' in the last 4 commits", "did you mean train.loss?")
    proj.write({"eval/scores.yaml": b"acc: 1\n"})
    proj.commit("acc in two files")
    proc = proj.cairn("metrics", "trend", "acc", expect=None)
    assert_error(proc, PipelineError, "metric 'acc' is in several files: eval/scores.yaml, metrics.json")


def test_unknown_revision(proj, assert_error) -> None:
    for args in (["metrics", "show", "--rev", "nope"], ["metrics", "diff", "nope"], ["params", "diff", "v1", "nope"]):
        assert_error(proj.cairn(*args, expect=None), RevisionError, "unknown revision 'nope'", "git log --oneline")


def test_a_broken_metrics_file_names_file_revision_and_line(proj) -> None:
    proj.git("checkout", "-q", "-b", "broken", "v2")
    proj.write({"eval/scores.yaml": b"f1: 0.8\nauc: [0.9\n"})
    proj.commit("broken scores")
    proj.git("checkout", "-q", "main")
    sha = proj.git("rev-parse", "--short=7", "broken").strip()
    proc = proj.cairn("metrics", "show", "--rev", "v1", "--rev", "broken", expect=2)
    assert proc.stdout.splitlines()[1].split()[:3] == ["v1", "eval/scores.yaml", "0.7"]  # the rest is shown
    assert f"error: eval/scores.yaml:3:1 (at broken, commit {sha}): invalid YAML:" in proc.stderr
    assert "hint: that commit holds a broken file" in proc.stderr
    data = json.loads(proj.cairn("metrics", "show", "--rev", "broken", "--json", expect=2).stdout)
    assert data["errors"][0]["path"] == "eval/scores.yaml" and data["errors"][0]["code"] == "bad-pipeline"
    proj.write({"eval/scores.yaml": b'{"f1": 0.8,}'})
    proj.git("mv", "eval/scores.yaml", "eval/scores.json")
    proj.write({"cairn.yaml": (proj.root / "cairn.yaml").read_bytes().replace(b"scores.yaml", b"scores.json")})
    proc = proj.cairn("metrics", "show", expect=2)
    assert "error: eval/scores.json:1:12 (in the workspace): invalid JSON:" in proc.stderr


def test_cached_metrics_missing_everywhere(proj) -> None:
    import shutil

    shutil.rmtree(proj.root / ".cairn" / "cache")
    proc = proj.cairn("metrics", "show", "--rev", "v1", expect=4)
    assert "error: metrics.json (at v1, commit " in proc.stderr
    assert "not in the local cache and no default remote is set" in proc.stderr
    assert re.search(r"^v1\s+eval/scores\.yaml\s+0\.7$", proc.stdout, re.M)


def test_no_pipeline_no_metrics(repo) -> None:
    assert repo.cairn("metrics", "show").stdout.startswith("No metrics: declare metrics files in cairn.yaml")
    assert repo.json("metrics", "show") == {"revisions": [{"rev": "workspace", "commit": None, "files": {}}],
                                            "errors": []}  # fmt: skip
    assert repo.cairn("params", "diff").stdout == "No params changed between HEAD and workspace.\n"
