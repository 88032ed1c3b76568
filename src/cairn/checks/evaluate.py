"""Running checks: each metric check reads its value at the checked revision (the workspace by
default) and compares it with its rule; command checks run their command. A check that cannot be
evaluated (its metric missing, not a number, its baseline unknown) is an `error`: it fails the
run whatever its severity, since a broken check guards nothing."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.checks import command as command_mod
from cairn.checks.rules import MIN_HISTORY, Check, duration_text
from cairn.checks.values import Values, number_in
from cairn.errors import CairnError, CheckError, RevisionError
from cairn.metrics.revisions import Rev
from cairn.progress import NULL, Progress

PASS, FAIL, WARN, ERROR = "pass", "fail", "warn", "error"
DEFAULT_HISTORY_BASE = "HEAD"  # where a stddev check without a baseline takes its history


@dataclass
class CheckResult:
    check: Check
    verdict: str  # pass | fail | warn | error
    message: str = ""
    hint: str | None = None
    value: float | None = None
    baseline: Rev | None = None
    baseline_value: float | None = None  # the baseline's value, or the history's mean
    history: dict[str, Any] | None = None  # stddev: n, mean, sd, low, high, commits
    output: str | None = None  # command checks: what the command printed (its tail)
    exit_code: int | None = None
    seconds: float | None = None
    rule: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict in (FAIL, ERROR)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.check.to_dict(),
            "rule": self.rule,
            "verdict": self.verdict,
            "message": self.message,
            "hint": self.hint,
            "value": self.value,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "baseline_value": self.baseline_value,
            "history": self.history,
            "exit_code": self.exit_code,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "output": self.output,
        }


@dataclass
class CheckReport:
    rev: Rev
    baseline: str | None  # the baseline every check was compared with (--baseline), if one was given
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(r.failed for r in self.results)

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for r in self.results if r.verdict == v) for v in (PASS, FAIL, WARN, ERROR)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rev": self.rev.to_dict(),
            "baseline": self.baseline,
            "passed": self.passed,
            "counts": self.counts(),
            "checks": [r.to_dict() for r in self.results],
        }


Resolver = Callable[[str], Rev]


def run(
    repo,
    checks: list[Check],
    rev: Rev,
    resolve: Resolver,
    baseline: str | None = None,
    progress: Progress = NULL,
) -> CheckReport:
    """Evaluate `checks` against `rev`. `baseline` (a revision name) replaces every check's own;
    `resolve` turns a baseline name into a revision (RevisionError when unknown)."""
    report = CheckReport(rev, baseline)
    values = Values(repo)
    resolved: dict[str, Rev | CairnError] = {}

    def base(name: str) -> Rev:
        if name not in resolved:
            try:
                resolved[name] = resolve(name)
            except CairnError as e:
                resolved[name] = e
        got = resolved[name]
        if isinstance(got, CairnError):
            if isinstance(got, RevisionError):
                raise CheckError(f"unknown baseline {name!r}", got.hint)
            raise CheckError(f"baseline {name!r}: {got.message}", got.hint)
        return got

    task = progress.task("Checking", total=len(checks), unit="checks")
    try:
        for check in checks:
            report.results.append(_one(repo.root, check, rev, values, base, baseline))
            task.advance()
    finally:
        task.close()
    return report


def _one(root: Path, check: Check, rev: Rev, values: Values, base, override: str | None) -> CheckResult:
    baseline_name = override or check.baseline
    result = CheckResult(check, PASS, rule=check.rule(baseline_name))
    try:
        if check.kind == "command":
            _command(root, check, result)
        else:
            assert check.path is not None and check.key is not None
            result.value = values.number(rev, check.path, check.key, check.name)
            if check.kind == "bounds":
                _bounds(check, result)
            elif check.kind == "baseline":
                if not baseline_name:
                    raise CheckError(
                        f"check {check.name!r} compares with a baseline and none is set",
                        "set `baseline: main` (a branch, tag or commit) in the check, or pass --baseline REV",
                    )
                _baseline(check, result, values, _base(base, check, baseline_name))
            else:
                start = _base(base, check, baseline_name or DEFAULT_HISTORY_BASE)
                _stddev(check, result, values, rev, start)
    except CairnError as e:  # CheckError, or a repository that cannot answer (no git, say)
        result.verdict, result.message, result.hint = ERROR, e.message, e.hint
        if not result.message.startswith(f"check {check.name!r}"):
            result.message = f"check {check.name!r}: {result.message}"
    return result


def _base(base, check: Check, name: str) -> Rev:
    rev = base(name)
    if rev.commit is None:
        raise CheckError(f"check {check.name!r}: the baseline is the workspace", "name a branch, tag or commit")
    return rev


def _broken(check: Check, result: CheckResult, message: str) -> None:
    result.verdict = FAIL if check.severity == "error" else WARN
    result.message = message


def _bounds(check: Check, result: CheckResult) -> None:
    v = result.value
    assert v is not None
    if check.min is not None and v < check.min:
        _broken(check, result, f"{_num(v)} is below the minimum {_num(check.min)}")
    elif check.max is not None and v > check.max:
        _broken(check, result, f"{_num(v)} is above the maximum {_num(check.max)}")
    else:
        result.message = f"{_num(v)} is within bounds"


def _baseline(check: Check, result: CheckResult, values: Values, base: Rev) -> None:
    assert check.path is not None and check.key is not None and result.value is not None
    result.baseline = base
    old = result.baseline_value = values.number(base, check.path, check.key, check.name, "baseline")
    change = result.value - old
    pct = f" ({change / abs(old) * 100:+.2f}%)" if old else ""
    at = base.name
    if check.max_drop is not None and -change > check.max_drop.allowed(old):
        _broken(check, result, f"dropped {_num(-change)}{pct} from {_num(old)} at {at}; at most {check.max_drop}")
    elif check.max_rise is not None and change > check.max_rise.allowed(old):
        _broken(check, result, f"rose {_num(change)}{pct} from {_num(old)} at {at}; at most {check.max_rise}")
    else:
        result.message = f"{_num(old)} at {at}, change {_num(change, sign=True)}{pct}"


def _stddev(check: Check, result: CheckResult, values: Values, rev: Rev, start: Rev) -> None:
    assert check.path is not None and check.key is not None and check.stddev is not None
    result.baseline = start
    revs = values.history(start, check.history, skip=rev.commit)
    flats = values.flat_many(revs, check.path) if revs else {}
    points: list[float] = []
    skipped = 0
    for r in revs:
        flat = flats[r.name]
        try:
            if isinstance(flat, CairnError):
                raise flat
            points.append(number_in(flat, r, check.path, check.key, check.name))
        except CairnError:
            skipped += 1  # a commit without the metric (or with a broken file) is no point of history
    commits = len(revs)
    if len(points) < MIN_HISTORY:
        message = (
            f"only {len(points)} value(s) of {check.key} in the last {commits} commit(s) of {start.name}; "
            f"{MIN_HISTORY} are needed for a standard deviation"
        )
        result.history = {"n": len(points), "commits": commits}
        if check.on_insufficient_history == "fail":
            _broken(check, result, message)
        else:
            result.verdict, result.message = WARN, message
        return
    mean, sd = statistics.fmean(points), statistics.stdev(points)
    low, high = mean - check.stddev * sd, mean + check.stddev * sd
    result.baseline_value = mean
    result.history = {"n": len(points), "commits": commits, "mean": mean, "sd": sd, "low": low, "high": high}
    v = result.value
    assert v is not None
    distance = abs(v - mean) / sd if sd else (0.0 if v == mean else math.inf)
    if not low <= v <= high:
        away = "differs from" if sd == 0 else f"is {distance:.2g} sd from"
        _broken(
            check,
            result,
            f"{_num(v)} {away} the mean {_num(mean)} of {len(points)} values on {start.name}; "
            f"at most {check.stddev:g} sd ({_num(low)} to {_num(high)})",
        )
    else:
        result.message = f"mean {_num(mean)}, sd {_num(sd)} over {len(points)} values; {distance:.2g} sd away"


def _command(root: Path, check: Check, result: CheckResult) -> None:
    assert check.command is not None
    ran = command_mod.run(check.command, root, check.timeout)
    result.output, result.exit_code, result.seconds = ran.output, ran.exit_code, ran.seconds
    if ran.timed_out:
        _broken(check, result, f"timed out after {duration_text(check.timeout)}: stopped (its output so far is kept)")
        result.hint = "raise `timeout:` of the check in cairn.yaml, or find what hangs in its output"
    elif ran.exit_code != 0:
        _broken(check, result, f"exited with {ran.exit_code}")
    else:
        result.message = f"exited with 0 in {ran.seconds:.1f}s"


def _num(v: float, sign: bool = False) -> str:
    text = f"{v:+.6g}" if sign else f"{v:.6g}"
    return text
