"""`cairn report`: after a change of params and data and a `cairn repro`, the Markdown report
holds the verdict, checks, diffs, the data that changed, the stage that reran, the model's
lineage and PNG plots beside it; --html writes one self-contained page; --json says it all."""

from __future__ import annotations

import json

from .conftest import write

CHECKS = """
floor: {metric: 'metrics.json:acc', min: 0.8}
vs-main: {metric: 'metrics.json:acc', baseline: main, max_drop: 1%}
"""


def change(proj) -> None:
    write(proj.root, "params.yaml", "train:\n  acc: 0.86\n")
    write(proj.root, "data/raw/b.txt", "second file, 23 bytes\n")
    proj.cairn("add", "data/raw")
    proj.cairn("repro")


def test_markdown_report_with_plots(proj, set_checks):
    set_checks(proj, CHECKS)
    change(proj)
    proc = proj.cairn("report")
    assert proc.stdout == "Wrote cairn_report/report.md and 1 plot: passed\n"
    assert "note: lineage is read at HEAD: runs in the workspace are not committed yet" in proc.stderr
    out = proj.root / "cairn_report"
    md = (out / "report.md").read_text()
    head = md.splitlines()
    assert head[:3] == ["## cairn report", "", "✅ **All 2 checks passed**"]
    assert "Compared: **workspace** against baseline **HEAD (" in md
    assert "| vs-main | 0.86 | drop <= 1% vs main | 0.84 (main) | ✅ pass |" in md
    assert "| metrics.json | acc | 0.84 | 0.86 | +0.02 |" in md
    assert "| params.yaml | train.acc | 0.84 | 0.86 |" in md
    assert "| data/raw | 1 | 0 | 0 | 22 B |" in md
    assert "| train | reran | deps, params, outs |" in md
    assert "- `model/model.txt` from stage `train`; inputs " in md and "rebuild: `git checkout " in md
    assert "![Training loss](plots/loss.csv.png)" in md
    png = (out / "plots" / "loss.csv.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert sorted(p.name for p in out.rglob("*")) == ["loss.csv.png", "plots", "report.md"]  # no temp file left


def test_failed_checks_are_reported_first_and_exit_0(proj, set_checks):
    set_checks(proj, CHECKS)
    write(proj.root, "params.yaml", "train:\n  acc: 0.5\n")
    proj.cairn("repro")
    proc = proj.cairn("report", "--baseline", "v1", "--no-plots", "-o", "pr")
    assert proc.stdout == "Wrote pr/report.md: checks failed\n"
    md = (proj.root / "pr" / "report.md").read_text()
    assert md.splitlines()[2] == "❌ **2 of 2 checks failed**"
    assert "Compared: **workspace** against baseline **v1 (" in md
    # --baseline v1 is the checks' baseline too
    assert "| vs-main | 0.5 | drop <= 1% vs v1 | 0.8 (v1) | ❌ fail |" in md
    assert "### Plots" not in md


def test_html_report_is_one_offline_page(proj, set_checks):
    set_checks(proj, CHECKS)
    change(proj)
    proj.cairn("report", "--html", "-o", "html")
    files = sorted(p.name for p in (proj.root / "html").iterdir())
    assert files == ["report.html"]
    page = (proj.root / "html" / "report.html").read_text()
    assert "<strong>All 2 checks passed</strong>" in page
    assert page.count('src="data:image/png;base64,') == 1
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_report_json(proj, set_checks):
    set_checks(proj, CHECKS)
    change(proj)
    doc = json.loads(proj.cairn("report", "--json", "--rev", "HEAD", "--baseline", "v1", "--no-plots").stdout)
    assert doc["page"] == "cairn_report/report.md" and doc["files"] == []
    report = doc["report"]
    assert report["passed"] is True and report["rev"]["rev"] == "HEAD" and report["baseline"]["rev"] == "v1"
    assert {(r["key"], r["old"], r["new"]) for r in report["metrics"]} >= {("acc", 0.8, 0.84)}
    assert [s["name"] for s in report["stages"]] == ["train"]
    assert report["data"] == []  # data/raw is the same at v1 and HEAD
    assert [item["path"] for item in report["lineage"]] == ["model/model.txt"]
    assert report["lineage"][0]["params"] == {"train.acc": 0.84}
