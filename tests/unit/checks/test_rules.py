"""The `checks:` section: every rule kind parses, and every malformed rule is reported with its
cairn.yaml line and column and what to write instead, all problems at once."""

from __future__ import annotations

import textwrap

import pytest

from cairn.checks.rules import DEFAULT_TIMEOUT, Limit, parse, parse_duration, parse_limit
from cairn.errors import PipelineError
from cairn.pipelines.yamlfile import parse as parse_yaml


def checks(text: str):
    return parse(parse_yaml(textwrap.dedent(text).lstrip("\n"), "cairn.yaml"))


def problems(text: str) -> list[str]:
    with pytest.raises(PipelineError) as e:
        checks(text)
    assert "in `checks:`" in e.value.message
    assert e.value.hint == "fix them and run the command again (see docs/ci.md for the format of checks)"
    return e.value.problems


def test_the_issue_example_parses():
    got = checks(
        """
        checks:
          accuracy-floor:
            metric: eval/metrics.json:acc
            min: 0.80
          not-worse-than-main:
            metric: eval/metrics.json:acc
            baseline: main
            max_drop: 1%
          stable:
            metric: eval/metrics.json:acc
            stddev: 3
            history: 20
            severity: warning
          regressions:
            command: pytest tests/regressions -q
            timeout: 10m
        """
    )
    floor, main, stable, regressions = got
    assert (floor.kind, floor.path, floor.key, floor.min, floor.severity) == (
        "bounds", "eval/metrics.json", "acc", 0.8, "error"
    )  # fmt: skip
    assert floor.where == "cairn.yaml:2:3"
    assert (main.kind, main.baseline, main.max_drop, main.max_rise) == ("baseline", "main", Limit(1.0, True), None)
    assert (stable.kind, stable.stddev, stable.history, stable.severity) == ("stddev", 3.0, 20, "warning")
    assert stable.on_insufficient_history == "warn"
    assert (regressions.kind, regressions.command, regressions.timeout) == (
        "command",
        "pytest tests/regressions -q",
        600,
    )
    assert floor.rule() == ">= 0.8"
    assert main.rule() == "drop <= 1% vs main"
    assert main.rule("origin/main") == "drop <= 1% vs origin/main"
    assert stable.rule() == "within 3 sd of last 20"
    assert regressions.rule() == "exit 0 (timeout 10m)"


def test_defaults_and_no_section():
    assert checks("stages: {}\n") == []
    (c,) = checks("checks:\n  t:\n    command: 'true'\n")
    assert c.timeout == DEFAULT_TIMEOUT == 600
    (c,) = checks("checks:\n  b:\n    metric: m.json:a.b\n    min: 1\n    max: 2\n")
    assert (c.key, c.rule()) == ("a.b", ">= 1 and <= 2")


def test_limits_and_durations():
    assert parse_limit(0.01) == Limit(0.01)
    assert parse_limit("2.5%") == Limit(2.5, True)
    assert parse_limit(" 3 % ") == Limit(3.0, True)
    assert parse_limit("-1%") is None and parse_limit("lots") is None and parse_limit(True) is None
    assert Limit(1.0, True).allowed(0.8) == pytest.approx(0.008)
    assert Limit(1.0, True).allowed(-0.8) == pytest.approx(0.008)
    assert Limit(0.05).allowed(100) == 0.05
    assert parse_duration("10m") == 600 and parse_duration("1h") == 3600 and parse_duration(90) == 90
    assert parse_duration("500ms") == 0.5 and parse_duration("2.5s") == 2.5
    assert parse_duration("soon") is None and parse_duration(None) is None


def test_every_malformed_rule_is_reported_with_its_position():
    got = problems(
        """
        checks:
          a:
            metric: eval/metrics.json
            min: 0.8
          b:
            metric: eval/metrics.json:acc
            max_drop: lots
          c:
            metric: eval/metrics.json:acc
            min: 1
            stddev: 2
          d:
            command: sleep 5
            timeout: soon
          e:
            metric: eval/metrics.json:acc
            minn: 3
            severity: fatal
        """
    )
    assert got == [
        "cairn.yaml:3:5: check 'a': `metric` is FILE:KEY (e.g. eval/metrics.json:acc), not 'eval/metrics.json'",
        "cairn.yaml:7:5: check 'b': `max_drop` is an amount (0.01) or a percentage of the baseline (1%), not 'lots'",
        "cairn.yaml:8:3: check 'c' needs exactly one rule: min/max, baseline with max_drop/max_rise, or stddev "
        "with history (found bounds (min/max) and stddev (stddev/history/on_insufficient_history))",
        "cairn.yaml:14:5: check 'd': `timeout` is a duration such as 90s, 10m or 1h, not 'soon'",
        "cairn.yaml:17:5: check 'e': unknown key 'minn' (did you mean 'min'?)",
        "cairn.yaml:18:5: check 'e': `severity` is error or warning, not 'fatal'",
        "cairn.yaml:15:3: check 'e' needs exactly one rule: min/max, baseline with max_drop/max_rise, or stddev "
        "with history (found none)",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("checks: [a, b]", "cairn.yaml:1:1: `checks` must map check names to checks"),
        (
            "checks:\n  x: 3",
            "cairn.yaml:2:3: check 'x' must be a mapping (metric: FILE:KEY and a rule, or command: ...)",
        ),
        ("checks:\n  x: {severity: warning}", "cairn.yaml:2:3: check 'x' needs `metric: FILE:KEY` and a rule, or"),
        ("checks:\n  x: {metric: m.json:a, command: ls}", "check 'x' has both `metric` and `command`"),
        (
            "checks:\n  x: {metric: m.json:a, min: high}",
            "cairn.yaml:2:25: check 'x': `min` must be a number, not 'high'",
        ),
        ("checks:\n  x: {metric: m.json:a, min: 2, max: 1}", "check 'x': `min` 2 is above `max` 1"),
        (
            "checks:\n  x: {metric: m.json:a, min: 1, baseline: main}",
            "`baseline` goes with max_drop/max_rise or stddev",
        ),
        ("checks:\n  x: {metric: m.json:a, max_rise: -3}", "`max_rise` is an amount (0.01) or a percentage"),
        ("checks:\n  x: {metric: m.json:a, max_drop: 1, baseline: 7}", "`baseline` is a branch, tag, commit or MODEL@"),
        ("checks:\n  x: {metric: m.json:a, stddev: 0}", "check 'x': `stddev` must be above 0, not 0"),
        ("checks:\n  x: {metric: m.json:a, stddev: 2, history: 2}", "`history` is a number of commits, at least 3"),
        ("checks:\n  x: {metric: m.json:a, history: 5}", "`history` and `on_insufficient_history` go with `stddev: N`"),
        (
            "checks:\n  x: {metric: m.json:a, stddev: 2, on_insufficient_history: maybe}",
            "`on_insufficient_history` is warn or fail, not 'maybe'",
        ),
        ("checks:\n  x: {metric: m.json:a, min: 1, timeout: 5s}", "`timeout` applies to command checks only"),
        ("checks:\n  x: {command: '', timeout: 5s}", "check 'x': `command` is a shell command line, not ''"),
        ("checks:\n  x: {command: ls, min: 1}", "check 'x': min apply to metric checks, not commands"),
        ("checks:\n  x: {command: ls, timeout: 0}", "`timeout` is a duration such as 90s, 10m or 1h, not 0"),
        ("checks:\n  'a b': {command: ls}", "check name 'a b' may hold only letters, digits"),
    ],
)
def test_malformed(body: str, expected: str):
    got = problems(body)
    assert any(expected in p for p in got), got
