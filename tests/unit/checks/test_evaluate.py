"""Evaluating checks over a real git history of a metrics file: bounds, baselines (absolute and
percent), standard deviations over first-parent history, and every way a metric can be
unusable, through the Repo facade (cairn.repo.checks.run_checks)."""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path

import pytest

from cairn.errors import PipelineError, RevisionError
from cairn.repo.checks import run_checks

HISTORY = [0.80, 0.82, 0.81, 0.83, 0.82, 0.84]


def write(root: Path, rel: str, content: str | dict) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(content) if isinstance(content, dict) else textwrap.dedent(content).lstrip("\n"))


@pytest.fixture
def hist(repo, commit, git):
    """main: six commits of eval/m.json (acc per HISTORY, tagged v1 at the first); branch side
    from the third commit with one commit of acc 0.5 (not first-parent history of main)."""
    for i, acc in enumerate(HISTORY):
        write(repo.root, "eval/m.json", {"acc": acc, "train": {"loss": round(1 - acc, 2)}, "note": "text"})
        commit(f"acc {acc}")
        if i == 0:
            git("tag", "v1")
        if i == 2:
            git("branch", "side")
    git("checkout", "-q", "side")
    write(repo.root, "eval/m.json", {"acc": 0.5})
    commit("side")
    git("checkout", "-q", "main")
    return repo


def set_checks(root: Path, text: str) -> None:
    write(root, "cairn.yaml", "checks:\n" + textwrap.indent(textwrap.dedent(text).lstrip("\n"), "  "))


def one(repo, text: str, value: float | None = None, **kwargs):
    set_checks(repo.root, text)
    if value is not None:
        write(repo.root, "eval/m.json", {"acc": value, "train": {"loss": 0.2}, "note": "text"})
    report = run_checks(repo, **kwargs)
    assert len(report.results) == 1
    return report.results[0], report


def test_bounds(hist):
    r, report = one(hist, "c: {metric: 'eval/m.json:acc', min: 0.8, max: 0.9}", 0.85)
    assert (r.verdict, r.value, r.message, report.passed) == ("pass", 0.85, "0.85 is within bounds", True)
    r, report = one(hist, "c: {metric: 'eval/m.json:acc', min: 0.8}", 0.79)
    assert (r.verdict, r.message, report.passed) == ("fail", "0.79 is below the minimum 0.8", False)
    r, report = one(hist, "c: {metric: 'eval/m.json:train.loss', max: 0.1, severity: warning}", 0.79)
    assert (r.verdict, r.message, report.passed) == ("warn", "0.2 is above the maximum 0.1", True)


def test_bounds_at_a_revision(hist):
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', min: 0.81}", 0.99, rev="v1")
    assert (r.value, r.verdict) == (0.8, "fail")
    with pytest.raises(RevisionError, match="unknown revision 'nope'"):
        one(hist, "c: {metric: 'eval/m.json:acc', min: 0.81}", rev="nope")


def test_baseline_percent_and_absolute(hist):
    # main's HEAD has 0.84; 1% of it is 0.0084
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', baseline: main, max_drop: 1%}", 0.832)
    assert (r.verdict, r.baseline_value, r.baseline.name) == ("pass", 0.84, "main")
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', baseline: main, max_drop: 1%}", 0.83)
    assert r.verdict == "fail"
    assert r.message == "dropped 0.01 (-1.19%) from 0.84 at main; at most 1%"
    r, _ = one(hist, "c: {metric: 'eval/m.json:train.loss', baseline: v1, max_rise: 0.05}", 0.9)
    assert (r.baseline_value, r.verdict) == (0.2, "pass")  # loss 0.2 now, 0.2 at v1
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', baseline: v1, max_rise: 0.05}", 0.9)
    assert r.message == "rose 0.1 (+12.50%) from 0.8 at v1; at most 0.05"
    # --baseline replaces the check's own
    r, report = one(hist, "c: {metric: 'eval/m.json:acc', baseline: main, max_drop: 0.01}", 0.79, baseline="v1")
    assert (r.baseline.name, r.verdict, report.baseline) == ("v1", "fail", "v1")


def test_stddev_over_first_parent_history(hist, git):
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', stddev: 2, history: 5}", 0.83)
    window = HISTORY[-5:]
    mean, sd = statistics.fmean(window), statistics.stdev(window)
    assert r.verdict == "pass"
    assert r.history["n"] == 5 and r.history["mean"] == pytest.approx(mean) and r.history["sd"] == pytest.approx(sd)
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', stddev: 2, history: 5}", 0.70)
    assert r.verdict == "fail"
    assert r.message.startswith("0.7 is ") and f"the mean {mean:.6g} of 5 values on HEAD" in r.message
    # the side branch's 0.5 is not main's first-parent history: checking side's tip against
    # main's history fails, and side's own history holds the third commit and before
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', stddev: 2, baseline: main, history: 3}", rev="side")
    assert (r.value, r.verdict, r.history["n"]) == (0.5, "fail", 3)
    # the checked commit is not part of its own history
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', stddev: 2, history: 3}", rev="main")
    assert r.history["n"] == 3 and r.history["mean"] == pytest.approx(statistics.fmean(HISTORY[-4:-1]))


def test_stddev_with_too_little_history(repo, commit):
    for acc in (0.8, 0.81):
        write(repo.root, "eval/m.json", {"acc": acc})
        commit(f"acc {acc}")
    r, report = one(repo, "c: {metric: 'eval/m.json:acc', stddev: 3, history: 10}", 0.8)
    assert (r.verdict, report.passed) == ("warn", True)
    assert r.message == (
        "only 2 value(s) of acc in the last 2 commit(s) of HEAD; 3 are needed for a standard deviation"
    )
    r, report = one(repo, "c: {metric: 'eval/m.json:acc', stddev: 3, on_insufficient_history: fail}", 0.8)
    assert (r.verdict, report.passed) == ("fail", False)


def test_commits_without_the_metric_are_no_history(repo, commit):
    write(repo.root, "README", "no metrics yet")
    commit("start")
    for acc in (0.8, 0.81, 0.8):
        write(repo.root, "eval/m.json", {"acc": acc})
        commit(f"acc {acc}")
    write(repo.root, "eval/m.json", "{broken")
    commit("broken metrics")
    r, _ = one(repo, "c: {metric: 'eval/m.json:acc', stddev: 3, history: 10}", 0.805)
    assert (r.verdict, r.history["n"], r.history["commits"]) == ("pass", 3, 5)


@pytest.mark.parametrize(
    ("rule", "message", "hint"),
    [
        ("{metric: 'eval/m.json:accc', min: 0}", "check 'c': eval/m.json has no key 'accc' in the workspace",
         "did you mean acc?"),
        ("{metric: 'eval/m.json:loss', min: 0}", "check 'c': eval/m.json has no key 'loss' in the workspace",
         "did you mean train.loss?"),
        ("{metric: 'eval/m.json:zzzzz', min: 0}", "check 'c': eval/m.json has no key 'zzzzz' in the workspace",
         "its keys: acc, note, train.loss"),
        ("{metric: 'eval/none.json:acc', min: 0}", "check 'c': eval/none.json is missing in the workspace",
         "run the stage that writes it (`cairn repro`) or `cairn pull` it, or fix the path in cairn.yaml `checks:`"),
        ("{metric: 'eval/m.json:note', min: 0}", "check 'c': eval/m.json:note is 'text' in the workspace, not a number",
         "a check compares numbers: name a numeric metric"),
        ("{metric: 'eval/m.json:acc', baseline: mian, max_drop: 1}", "check 'c': unknown baseline 'mian'",
         "list revisions with `git log --oneline` or `git branch -a`"),
        ("{metric: 'eval/m.json:acc', max_drop: 1}", "check 'c' compares with a baseline and none is set",
         "set `baseline: main` (a branch, tag or commit) in the check, or pass --baseline REV"),
    ],
)  # fmt: skip
def test_unusable_metrics_are_errors(hist, rule, message, hint):
    r, report = one(hist, f"c: {rule}", 0.9)
    assert (r.verdict, r.message, r.hint) == ("error", message, hint)
    assert not report.passed


def test_a_warning_check_that_cannot_run_still_fails(hist):
    r, report = one(hist, "c: {metric: 'eval/m.json:nope', min: 0, severity: warning}", 0.9)
    assert r.verdict == "error" and not report.passed


def test_metrics_file_missing_at_the_baseline(hist, commit):
    write(hist.root, "eval/new.json", {"f1": 0.5})
    r, _ = one(hist, "c: {metric: 'eval/new.json:f1', baseline: v1, max_drop: 0.1}")
    assert r.verdict == "error"
    assert r.message.startswith("check 'c': eval/new.json is missing at v1, commit ")
    assert r.message.endswith("(the baseline)")
    assert r.hint == "compare with a revision that has this file, or fix the path in cairn.yaml `checks:`"


def test_broken_metrics_file(hist):
    set_checks(hist.root, "c: {metric: 'eval/m.json:acc', min: 0}")
    write(hist.root, "eval/m.json", '{"acc": ')
    (r,) = run_checks(hist).results
    assert r.verdict == "error"
    assert r.message.startswith("check 'c': eval/m.json:1:9 (in the workspace): invalid JSON")


def test_model_at_stage_without_a_registration(hist):
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', baseline: clf@prod, max_drop: 1}", 0.9)
    assert r.verdict == "error"
    assert r.message.startswith("check 'c': baseline 'clf@prod': ")


def test_unknown_cli_baseline_fails_the_run(hist):
    set_checks(hist.root, "c: {metric: 'eval/m.json:acc', min: 0}")
    with pytest.raises(RevisionError, match="unknown revision 'nope'"):
        run_checks(hist, baseline="nope")


def test_malformed_checks_fail_the_run(hist):
    set_checks(hist.root, "c: {metric: 'eval/m.json:acc', min: low}")
    with pytest.raises(PipelineError, match=r"cairn.yaml:2:34: check 'c': `min` must be a number, not 'low'"):
        run_checks(hist)


def test_no_checks(repo):
    report = run_checks(repo)
    assert (report.results, report.passed) == ([], True)


def test_command_checks(hist):
    set_checks(
        hist.root,
        """
        ok: {command: 'echo fine; exit 0'}
        bad: {command: 'echo broken >&2; exit 3'}
        soft: {command: 'exit 1', severity: warning}
        """,
    )
    ok, bad, soft = run_checks(hist).results
    assert (ok.verdict, ok.exit_code, ok.output) == ("pass", 0, "fine\n")
    assert (bad.verdict, bad.exit_code, bad.output, bad.message) == ("fail", 3, "broken\n", "exited with 3")
    assert soft.verdict == "warn"


def test_one_commit_of_history_with_a_broken_file(repo, commit):
    write(repo.root, "eval/m.json", "{broken")
    commit("broken")
    r, _ = one(repo, "c: {metric: 'eval/m.json:acc', stddev: 3, history: 5}", 0.8)
    assert (r.verdict, r.history) == ("warn", {"n": 0, "commits": 1})


def test_the_workspace_is_no_baseline(hist):
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', baseline: workspace, max_drop: 1}", 0.9)
    assert (r.verdict, r.message, r.hint) == (
        "error",
        "check 'c': the baseline is the workspace",
        "name a branch, tag or commit",
    )


def test_model_at_stage_needs_the_registry(hist, monkeypatch):
    from cairn.repo import registry

    monkeypatch.delattr(registry, "resolve_ref")  # as in a cairn built without the registry
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', baseline: clf@prod, max_drop: 1}", 0.9)
    assert r.verdict == "error"
    assert r.message == (
        "check 'c': baseline 'clf@prod': clf@prod is no git revision, and MODEL@STAGE needs the model registry, "
        "which this cairn lacks"
    )
    assert r.hint == "name a branch, tag or commit as the baseline (MODEL@STAGE needs `cairn model`)"
    # a branch of that name is a git revision first
    hist.git.repo.branches.local.create("clf@prod", hist.git.resolve("v1"))
    r, _ = one(hist, "c: {metric: 'eval/m.json:acc', baseline: clf@prod, max_drop: 1}", 0.9)
    assert (r.verdict, r.baseline_value) == ("pass", 0.8)
