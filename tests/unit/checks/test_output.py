"""JUnit XML, Markdown and HTML of check results and reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from cairn.checks import html, junit, markdown
from cairn.checks.evaluate import CheckReport, CheckResult
from cairn.checks.report import DataChange, PlotImage, Report, StageChange
from cairn.checks.rules import parse
from cairn.metrics.revisions import Rev, workspace
from cairn.metrics.values import MISSING, DiffRow
from cairn.pipelines.yamlfile import parse as parse_yaml

YAML = """checks:
  floor: {metric: 'm.json:acc', min: 0.8}
  base: {metric: 'm.json:acc', baseline: main, max_drop: 1%}
  broken: {metric: 'm.json:nope', min: 0}
  soft: {metric: 'm.json:acc', max: 0.5, severity: warning}
  cmd: {command: 'pytest -q'}
"""


def sample() -> CheckReport:
    floor, base, broken, soft, cmd = parse(parse_yaml(YAML, "cairn.yaml"))
    main = Rev("main", "a" * 40)
    return CheckReport(
        workspace(),
        None,
        [
            CheckResult(floor, "pass", "0.85 is within bounds", value=0.85, rule=floor.rule()),
            CheckResult(base, "fail", "dropped 0.02", value=0.85, baseline=main, baseline_value=0.87, rule=base.rule()),
            CheckResult(broken, "error", "check 'broken': m.json has no key 'nope'", hint="did you mean acc?"),
            CheckResult(soft, "warn", "0.85 is above the maximum 0.5", value=0.85, rule=soft.rule()),
            CheckResult(
                cmd, "pass", "exited with 0", rule=cmd.rule(), output="1 passed ``` \x1b[0m\n", exit_code=0, seconds=1.5
            ),
        ],
    )


def test_junit_document(tmp_path: Path):
    path = junit.write(sample(), tmp_path / "out" / "checks.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5", "failures": "1", "errors": "1", "skipped": "0"
    }  # fmt: skip
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["floor", "base", "broken", "soft", "cmd"]
    assert cases["floor"].find("failure") is None and cases["floor"].find("error") is None
    failure = cases["base"].find("failure")
    assert failure is not None and failure.get("message") == "dropped 0.02"
    assert "baseline: 0.87" in (failure.text or "")
    error = cases["broken"].find("error")
    assert error is not None and "hint: did you mean acc?" in (error.text or "")
    assert cases["soft"].findtext("system-out") == "warning: 0.85 is above the maximum 0.5\n"
    assert cases["cmd"].findtext("system-out") == "1 passed ``` \\x1b[0m\n"  # control characters escaped
    assert cases["cmd"].get("time") == "1.500"
    assert [p.name for p in tmp_path.joinpath("out").iterdir()] == ["checks.xml"]  # no temp file left


def test_markdown_checks_table():
    text = markdown.checks_table(sample())
    lines = text.splitlines()
    assert lines[0] == "| Check | Value | Rule | Baseline | Verdict |"
    assert lines[2] == "| floor | 0.85 | >= 0.8 | — | ✅ pass |"
    assert lines[3] == "| base | 0.85 | drop <= 1% vs main | 0.87 (main) | ❌ fail |"
    assert lines[5] == "| soft | 0.85 | <= 0.5 | — | ⚠️ warn |"
    assert lines[6] == "| cmd | exit 0 | exit 0 (timeout 10m) | — | ✅ pass |"
    assert "- **broken**: check 'broken': m.json has no key 'nope'" in lines
    assert markdown.verdict_line(sample()) == "❌ **2 of 5 checks failed**, 1 warning"


def test_fence_cannot_be_closed_by_the_output():
    assert markdown.fenced("a ``` b\n````\n") == "`````text\na ``` b\n````\n`````"
    assert markdown.fenced("plain") == "```text\nplain\n```"


def test_report_markdown_and_html():
    report = Report(
        workspace(),
        Rev("main", "b" * 40),
        sample(),
        metrics=[DiffRow("m.json", "acc", 0.87, 0.85)],
        params=[DiffRow("params.yaml", "lr", MISSING, 0.1, numeric=False)],
        data=[DataChange("data/raw", added=2, modified=1, bytes=3072)],
        stages=[StageChange("train", "reran", ["deps", "outs"])],
        lineage=[
            {
                "path": "model.pkl",
                "stage": "train",
                "inputs": ["data/raw"],
                "params": {"lr": 0.1},
                "rebuild": "cairn repro train",
            }
        ],
        plots=[PlotImage("loss.csv", "Loss | train", "plots/loss.csv.png", b"\x89PNG")],
        notes=["lineage is read at HEAD"],
    )
    md = markdown.render(report)
    assert md.startswith("## cairn report\n\n❌ **2 of 5 checks failed**, 1 warning\n")
    assert "Compared: **workspace** against baseline **main (bbbbbbb)**." in md
    assert "| m.json | acc | 0.87 | 0.85 | -0.02 |" in md
    assert "| params.yaml | lr | — | 0.1 |" in md
    assert "| data/raw | 2 | 0 | 1 | 3.0 KiB |" in md
    assert "| train | reran | deps, outs |" in md
    assert "- `model.pkl` from stage `train`; inputs `data/raw`; params `lr=0.1`; rebuild: `cairn repro train`" in md
    assert "![Loss \\| train](plots/loss.csv.png)" in md
    assert "<details><summary>Output of <code>cmd</code></summary>" in md
    assert "- _lineage is read at HEAD_" in md
    # sections in the order the issue gives
    order = ["### Checks", "### Metrics", "### Params", "### Data", "### Stages that reran", "### Lineage", "### Plots"]
    assert [md.index(h) for h in order] == sorted(md.index(h) for h in order)
    page = html.render(report)
    assert page.startswith("<!doctype html>") and "<script" not in page and 'src="http' not in page
    assert 'src="data:image/png;base64,iVBORw==' in page
    assert "<strong>2 of 5 checks failed</strong>" in page
    assert "Loss | train" in page and "&lt;" not in md
