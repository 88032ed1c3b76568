"""The `checks:` section of cairn.yaml: each check names a metric (FILE:KEY) and one rule, or a
command. Validation collects every problem with its file, line and column (as cairn.yaml's
stages are validated) before failing, and says what to write instead."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.errors import PipelineError, shown
from cairn.pipelines.spec import PIPELINE_FILE
from cairn.pipelines.yamlfile import Located, load

SEVERITIES = ("error", "warning")
INSUFFICIENT = ("warn", "fail")
DEFAULT_TIMEOUT = 600.0  # seconds: a command check that hangs is stopped after 10 minutes
MIN_HISTORY = 3  # fewer points than this make no standard deviation worth comparing to

_COMMON = {"severity", "desc"}
_METRIC_RULES = {"min", "max", "baseline", "max_drop", "max_rise", "stddev", "history", "on_insufficient_history"}
KEYS = _COMMON | _METRIC_RULES | {"metric", "command", "timeout"}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class Limit:
    """A max_drop / max_rise: an absolute amount, or a fraction of the baseline value."""

    amount: float
    percent: bool = False

    def allowed(self, baseline: float) -> float:
        return abs(baseline) * self.amount / 100 if self.percent else self.amount

    def __str__(self) -> str:
        return f"{self.amount:g}%" if self.percent else f"{self.amount:g}"


@dataclass(frozen=True)
class Check:
    name: str
    kind: str  # bounds | baseline | stddev | command
    where: str  # cairn.yaml:LINE:COL of the check's name
    severity: str = "error"
    desc: str | None = None
    path: str | None = None  # metrics file (repo-relative) of a metric check
    key: str | None = None  # dotted key, as `metrics show` names it
    min: float | None = None
    max: float | None = None
    baseline: str | None = None  # a revision, or MODEL@STAGE
    max_drop: Limit | None = None
    max_rise: Limit | None = None
    stddev: float | None = None
    history: int = 20
    on_insufficient_history: str = "warn"
    command: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def metric(self) -> str | None:
        return f"{self.path}:{self.key}" if self.path is not None else None

    def rule(self, baseline: str | None = None) -> str:
        """The rule in words, as the table shows it."""
        if self.kind == "bounds":
            parts = ([f">= {self.min:g}"] if self.min is not None else []) + (
                [f"<= {self.max:g}"] if self.max is not None else []
            )
            return " and ".join(parts)
        if self.kind == "baseline":
            base = baseline or self.baseline
            parts = ([f"drop <= {self.max_drop}"] if self.max_drop else []) + (
                [f"rise <= {self.max_rise}"] if self.max_rise else []
            )
            return f"{' and '.join(parts)} vs {base}"
        if self.kind == "stddev":
            on = f" of {baseline or self.baseline}" if (baseline or self.baseline) else ""
            return f"within {self.stddev:g} sd of last {self.history}{on}"
        return f"exit 0 (timeout {duration_text(self.timeout)})"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "severity": self.severity}
        if self.metric:
            d["metric"] = self.metric
        if self.command:
            d["command"] = self.command
        return d


def duration_text(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def load_checks(root: Path) -> list[Check]:
    """The checks of `root/cairn.yaml` ([] when there is no file or no `checks:`)."""
    path = root / PIPELINE_FILE
    if not path.exists():
        return []
    return parse(load(path, PIPELINE_FILE))


class _Problems:
    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.items: list[str] = []

    def add(self, path: tuple, message: str) -> None:
        self.items.append(f"{self.doc.where(path)}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise PipelineError(
                f"{PIPELINE_FILE} has {n} problem{'s' if n > 1 else ''} in `checks:`:\n  " + "\n  ".join(self.items),
                "fix them and run the command again (see docs/ci.md for the format of checks)",
                self.items,
            )


def parse(doc: Located) -> list[Check]:
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("checks")
    if section is None:
        return []
    problems = _Problems(doc)
    if not isinstance(section, dict):
        problems.add(("checks",), "`checks` must map check names to checks (name: {metric: FILE:KEY, min: 0.8})")
        problems.raise_if_any()
    checks = []
    for name, body in section.items():
        check = _check(str(name), body, ("checks", name), doc, problems)
        if check is not None:
            checks.append(check)
    problems.raise_if_any()
    return checks


def _check(name: str, body: Any, at: tuple, doc: Located, problems: _Problems) -> Check | None:
    before = len(problems.items)
    if not _NAME.match(name):
        problems.add(at, f"check name {name!r} may hold only letters, digits, '_', '.' and '-'")
    if not isinstance(body, dict):
        problems.add(at, f"check {name!r} must be a mapping (metric: FILE:KEY and a rule, or command: ...)")
        return None
    for key in body:
        if key not in KEYS:
            problems.add((*at, key), f"check {name!r}: unknown key {key!r}{_suggest(str(key), KEYS)}")
    fields: dict[str, Any] = {"name": name, "where": doc.where(at)}
    severity = body.get("severity", "error")
    if severity not in SEVERITIES:
        problems.add((*at, "severity"), f"check {name!r}: `severity` is error or warning, not {shown(severity)}")
    fields["severity"] = severity
    if "desc" in body:
        fields["desc"] = str(body["desc"])
    has_command, has_metric = "command" in body, "metric" in body
    if has_command and has_metric:
        problems.add(at, f"check {name!r} has both `metric` and `command`: a check is one or the other")
    elif has_command:
        _command(name, body, at, fields, problems)
    elif has_metric:
        _metric(name, body, at, fields, problems)
    else:
        problems.add(at, f"check {name!r} needs `metric: FILE:KEY` and a rule, or `command: ...`")
    if len(problems.items) > before:
        return None
    return Check(**fields)


def _command(name: str, body: dict, at: tuple, fields: dict, problems: _Problems) -> None:
    fields["kind"] = "command"
    cmd = body["command"]
    if not isinstance(cmd, str) or not cmd.strip():
        problems.add((*at, "command"), f"check {name!r}: `command` is a shell command line, not {shown(cmd)}")
    fields["command"] = cmd
    misplaced = sorted(k for k in body if k in _METRIC_RULES)
    if misplaced:
        problems.add(
            (*at, misplaced[0]), f"check {name!r}: {', '.join(misplaced)} apply to metric checks, not commands"
        )
    if "timeout" in body:
        seconds = parse_duration(body["timeout"])
        if seconds is None or seconds <= 0:
            problems.add(
                (*at, "timeout"),
                f"check {name!r}: `timeout` is a duration such as 90s, 10m or 1h, not {shown(body['timeout'])}",
            )
        else:
            fields["timeout"] = seconds


def _metric(name: str, body: dict, at: tuple, fields: dict, problems: _Problems) -> None:
    metric = body["metric"]
    path, sep, key = metric.partition(":") if isinstance(metric, str) else ("", "", "")
    if not sep or not path.strip() or not key.strip():
        problems.add(
            (*at, "metric"),
            f"check {name!r}: `metric` is FILE:KEY (e.g. eval/metrics.json:acc), not {shown(metric)}",
        )
    fields["path"], fields["key"] = path.strip(), key.strip()
    if "timeout" in body:
        problems.add((*at, "timeout"), f"check {name!r}: `timeout` applies to command checks only")
    kinds = [k for k, keys in _RULES.items() if any(x in body for x in keys)]
    if len(kinds) != 1:
        found = "none" if not kinds else " and ".join(f"{k} ({'/'.join(_RULES[k])})" for k in kinds)
        problems.add(
            at,
            f"check {name!r} needs exactly one rule: min/max, baseline with max_drop/max_rise, "
            f"or stddev with history (found {found})",
        )
        return
    kind = fields["kind"] = kinds[0]
    if kind == "bounds" and "baseline" in body:
        problems.add(
            (*at, "baseline"), f"check {name!r}: `baseline` goes with max_drop/max_rise or stddev, not min/max"
        )
    if kind == "bounds":
        for k in ("min", "max"):
            if k in body:
                fields[k] = _number(name, body, k, at, problems)
        if fields.get("min") is not None and fields.get("max") is not None and fields["min"] > fields["max"]:
            problems.add((*at, "min"), f"check {name!r}: `min` {fields['min']:g} is above `max` {fields['max']:g}")
    elif kind == "baseline":
        _baseline(name, body, at, fields, problems)
    else:
        _stddev(name, body, at, fields, problems)


_RULES = {
    "bounds": ("min", "max"),
    "baseline": ("max_drop", "max_rise"),
    "stddev": ("stddev", "history", "on_insufficient_history"),
}


def _baseline(name: str, body: dict, at: tuple, fields: dict, problems: _Problems) -> None:
    if "baseline" in body:
        fields["baseline"] = _revision(name, body, at, problems)
    for k in ("max_drop", "max_rise"):
        if k not in body:
            continue
        limit = parse_limit(body[k])
        if limit is None:
            problems.add(
                (*at, k),
                f"check {name!r}: `{k}` is an amount (0.01) or a percentage of the baseline (1%), not {shown(body[k])}",
            )
        fields[k] = limit


def _stddev(name: str, body: dict, at: tuple, fields: dict, problems: _Problems) -> None:
    if "stddev" not in body:
        problems.add(at, f"check {name!r}: `history` and `on_insufficient_history` go with `stddev: N`")
        return
    n = _number(name, body, "stddev", at, problems)
    if n is not None and n <= 0:
        problems.add((*at, "stddev"), f"check {name!r}: `stddev` must be above 0, not {n:g}")
    fields["stddev"] = n
    if "baseline" in body:
        fields["baseline"] = _revision(name, body, at, problems)
    if "history" in body:
        k = body["history"]
        if not isinstance(k, int) or isinstance(k, bool) or k < MIN_HISTORY:
            problems.add(
                (*at, "history"),
                f"check {name!r}: `history` is a number of commits, at least {MIN_HISTORY}, not {shown(k)}",
            )
        else:
            fields["history"] = k
    on = body.get("on_insufficient_history", "warn")
    if on not in INSUFFICIENT:
        problems.add(
            (*at, "on_insufficient_history"),
            f"check {name!r}: `on_insufficient_history` is warn or fail, not {shown(on)}",
        )
    fields["on_insufficient_history"] = on


def _number(name: str, body: dict, key: str, at: tuple, problems: _Problems) -> float | None:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.add((*at, key), f"check {name!r}: `{key}` must be a number, not {shown(value)}")
        return None
    return float(value)


def _revision(name: str, body: dict, at: tuple, problems: _Problems) -> str | None:
    value = body["baseline"]
    if not isinstance(value, str) or not value.strip():
        problems.add(
            (*at, "baseline"),
            f"check {name!r}: `baseline` is a branch, tag, commit or MODEL@STAGE, not {shown(value)}",
        )
        return None
    return value.strip()


def parse_limit(value: Any) -> Limit | None:
    """0.01 -> an absolute amount; "1%" -> a percentage of the baseline value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Limit(float(value)) if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        percent = text.endswith("%")
        try:
            amount = float(text.removesuffix("%").strip())
        except ValueError:
            return None
        return Limit(amount, percent) if amount >= 0 else None
    return None


def parse_duration(value: Any) -> float | None:
    """90, "90s", "10m", "1h", "500ms" -> seconds; None when it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return float(m.group(1)) * _UNITS[m.group(2)]
    return None


def _suggest(word: str, options: set[str]) -> str:
    import difflib

    near = difflib.get_close_matches(word, sorted(options), n=1)
    return f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(sorted(options))})"
