"""`cairn check` as a user runs it: the table, the exit code, --json, --md, --junit, --rev and
--baseline over a real history whose metrics are cached outputs (read through cairn.lock), and
every bad input of the issue with its message."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from cairn.errors import PathError, PipelineError, RevisionError

from .conftest import write

ISSUE_CHECKS = """
accuracy-floor:
  metric: metrics.json:acc
  min: 0.80
not-worse-than-main:
  metric: metrics.json:acc
  baseline: main
  max_drop: 1%
stable:
  metric: metrics.json:acc
  stddev: 3
  history: 20
  severity: warning
regressions:
  command: echo "2 passed"
  timeout: 10m
"""


def test_passing_checks_exit_0(proj, set_checks):
    set_checks(proj, ISSUE_CHECKS)
    proc = proj.cairn("check")
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Check", "Value", "Rule", "Baseline", "Verdict"]
    assert lines[1].split() == ["accuracy-floor", "0.84", ">=", "0.8", "—", "pass"]
    assert lines[2].split()[:2] == ["not-worse-than-main", "0.84"] and lines[2].split()[-1] == "pass"
    assert "0.84 (main)" in lines[2]
    assert lines[-1] == "✅ All 4 checks passed"
    assert proc.stderr == ""


def test_failing_check_exits_1_and_says_why(proj, set_checks):
    set_checks(proj, ISSUE_CHECKS)
    write(proj.root, "params.yaml", "train:\n  acc: 0.7\n")
    proj.cairn("repro")
    proc = proj.cairn("check", expect=1)
    assert "❌ 2 of 4 checks failed, 1 warning" in proc.stdout
    assert "failed: check 'accuracy-floor': 0.7 is below the minimum 0.8" in proc.stderr
    assert "failed: check 'not-worse-than-main': dropped 0.14 (-16.67%) from 0.84 at main; at most 1%" in proc.stderr
    assert "warning: check 'stable': 0.7 is " in proc.stderr  # far from 0.80-0.84, but only a warning


def test_json_md_and_junit(proj, set_checks):
    set_checks(proj, ISSUE_CHECKS)
    write(proj.root, "params.yaml", "train:\n  acc: 0.7\n")
    proj.cairn("repro")
    doc = json.loads(proj.cairn("check", "--json", "--junit", "out/checks.xml", expect=1).stdout)
    assert doc["passed"] is False and doc["counts"] == {"pass": 1, "fail": 2, "warn": 1, "error": 0}
    by = {c["name"]: c for c in doc["checks"]}
    vs_main = by["not-worse-than-main"]
    assert vs_main["baseline"]["rev"] == "main" and vs_main["baseline_value"] == 0.84
    assert by["stable"]["history"]["n"] == 6 and by["regressions"]["output"] == "2 passed\n"
    suite = ET.parse(proj.root / "out" / "checks.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("4", "2")
    md = proj.cairn("check", "--md", expect=1).stdout
    assert "| accuracy-floor | 0.7 | >= 0.8 | — | ❌ fail |" in md


def test_a_revision_and_a_baseline(proj, set_checks):
    set_checks(
        proj,
        """
        floor: {metric: 'metrics.json:acc', min: 0.81}
        vs: {metric: 'metrics.json:acc', baseline: main, max_rise: 0.01}
        f1: {metric: 'eval/scores.json:f1', min: 0.5}
        """,
    )
    # v1: metrics.json is a cached output of that commit, read through its cairn.lock
    doc = json.loads(proj.cairn("check", "--rev", "v1", "--json", expect=1).stdout)
    by = {c["name"]: c for c in doc["checks"]}
    assert (by["floor"]["value"], by["floor"]["verdict"]) == (0.8, "fail")
    assert doc["rev"]["rev"] == "v1"
    # eval/scores.json came with the third commit: missing at v1
    assert by["f1"]["verdict"] == "error"
    assert by["f1"]["message"].startswith("check 'f1': eval/scores.json is missing at v1, commit ")
    # --baseline replaces every check's own: HEAD 0.84 vs v1 0.80 rose 0.04
    doc = json.loads(proj.cairn("check", "--baseline", "v1", "--json", expect=1).stdout)
    by = {c["name"]: c for c in doc["checks"]}
    assert by["vs"]["message"] == "rose 0.04 (+5.00%) from 0.8 at v1; at most 0.01"
    assert doc["baseline"] == "v1"


def test_stddev_over_50_commits_reads_each_metric_once(proj, set_checks):
    set_checks(proj, "s: {metric: 'metrics.json:acc', stddev: 2, history: 50, on_insufficient_history: fail}")
    doc = json.loads(proj.cairn("check", "--json").stdout)
    (c,) = doc["checks"]
    # the workspace is HEAD's checkout: HEAD is part of the history, the first commit (no cairn.lock yet) is not
    assert c["history"]["n"] == 6 and c["history"]["commits"] == 7
    assert abs(c["history"]["mean"] - sum([0.80, 0.82, 0.81, 0.83, 0.82, 0.84]) / 6) < 1e-9


def test_no_checks(proj):
    proc = proj.cairn("check")
    assert proc.stdout == "No checks: add a `checks:` section to cairn.yaml (see docs/ci.md).\n"


# -- bad input -------------------------------------------------------------------------------


def test_unknown_metric_key_suggests_the_nearest(proj, set_checks):
    set_checks(proj, "c: {metric: 'metrics.json:loss', max: 1}")
    proc = proj.cairn("check", expect=1)
    assert "error: check 'c': metrics.json has no key 'loss' in the workspace\n  hint: did you mean train.loss?" in (
        proc.stderr
    )
    assert proc.stdout.splitlines()[1].split() == ["c", "—", "<=", "1", "—", "error"]


def test_metrics_file_missing_at_a_revision(proj, set_checks):
    set_checks(proj, "c: {metric: 'eval/scores.json:f1', baseline: v1, max_drop: 0.1}")
    proc = proj.cairn("check", expect=1)
    assert "error: check 'c': eval/scores.json is missing at v1, commit " in proc.stderr
    assert "(the baseline)\n  hint: compare with a revision that has this file" in proc.stderr


def test_non_numeric_value(proj, set_checks):
    set_checks(proj, "c: {metric: 'metrics.json:note', min: 0}")
    proc = proj.cairn("check", expect=1)
    assert "error: check 'c': metrics.json:note is 'acc=0.84' in the workspace, not a number" in proc.stderr
    assert "hint: a check compares numbers: name a numeric metric" in proc.stderr


def test_unknown_baseline(proj, set_checks, assert_error):
    set_checks(proj, "c: {metric: 'metrics.json:acc', baseline: mian, max_drop: 1%}")
    proc = proj.cairn("check", expect=1)
    assert "error: check 'c': unknown baseline 'mian'\n  hint: list revisions with `git log --oneline`" in proc.stderr
    proc = proj.cairn("check", "--baseline", "nope", expect=None)
    assert_error(proc, RevisionError, "unknown revision 'nope'", "list revisions with `git log --oneline`")


def test_malformed_rule_names_the_line(proj, set_checks, assert_error):
    set_checks(proj, "c:\n  metric: metrics.json:acc\n  max_drop: a lot\n  baseline: main\n")
    proc = proj.cairn("check", expect=None)
    line = len(with_pipeline_lines()) + 3
    assert_error(
        proc,
        PipelineError,
        "cairn.yaml has 1 problem in `checks:`:",
        "fix them and run the command again (see docs/ci.md for the format of checks)",
    )
    assert (
        f"  cairn.yaml:{line}:5: check 'c': `max_drop` is an amount (0.01) or a percentage of the baseline (1%), "
        "not 'a lot'"
    ) in proc.stderr


def with_pipeline_lines() -> list[str]:
    from .conftest import PIPELINE

    return [*PIPELINE.strip("\n").splitlines(), "checks:"]


def test_a_command_check_that_hangs_is_stopped(proj, set_checks):
    set_checks(proj, "hangs: {command: 'echo waiting; sleep 60', timeout: 1s}")
    proc = proj.cairn("check", "--junit", "j.xml", expect=1, timeout=30)
    assert "failed: check 'hangs': timed out after 1s: stopped (its output so far is kept)" in proc.stderr
    assert "hint: raise `timeout:` of the check in cairn.yaml, or find what hangs in its output" in proc.stderr
    assert "  | waiting" in proc.stderr
    case = ET.parse(proj.root / "j.xml").getroot().find("testsuite/testcase")
    assert case is not None and case.findtext("system-out") == "waiting\n"


def test_baseline_model_at_stage_through_the_registry(proj, set_checks):
    """`baseline: clf@prod` compares with the commit the registry's prod stage points to."""
    set_checks(proj, "vs-prod: {metric: 'metrics.json:acc', baseline: clf@prod, max_drop: 0.01}")
    with open(proj.root / "cairn.yaml", "a") as f:
        f.write("\nartifacts:\n  clf: {path: model/model.txt, type: model}\n")
    proj.commit("declare the model")  # HEAD: acc 0.84
    proj.cairn("model", "register", "clf")
    proj.cairn("model", "assign", "clf", "--stage", "prod")
    write(proj.root, "params.yaml", "train:\n  acc: 0.82\n")
    proj.cairn("repro")
    doc = json.loads(proj.cairn("check", "--json", expect=1).stdout)
    (c,) = doc["checks"]
    assert (c["verdict"], c["baseline_value"], c["baseline"]["rev"]) == ("fail", 0.84, "clf@prod")
    assert c["message"] == "dropped 0.02 (-2.38%) from 0.84 at clf@prod; at most 0.01"
    proc = proj.cairn("check", "--baseline", "clf@staging", expect=2)
    assert proc.stderr.splitlines()[0] == "error: no version of 'clf' is in stage 'staging'"


def test_an_output_path_with_a_file_in_the_way_is_an_error_not_a_traceback(proj, set_checks, assert_error):
    # `--junit params.yaml/checks.xml`, `-o params.yaml`: a file where a folder must go
    set_checks(proj, ISSUE_CHECKS)
    for args in (("check", "--junit", "params.yaml/checks.xml"), ("report", "-o", "params.yaml")):
        proc = proj.cairn(*args, expect=None)
        assert "Traceback" not in proc.stderr
        assert_error(proc, PathError, "cannot write there: params.yaml is in the way", "choose another output path")
    assert not list(proj.root.glob(".params.yaml*"))
