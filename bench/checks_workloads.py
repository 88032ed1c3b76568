"""W26-W27: model checks and the CI report (issue 16), cairn alone.

W26 times `cairn check --json` with 20 checks on a metrics file that changed in each of 50
commits: 19 bounds and baseline rules and one `stddev` rule over the last 50 commits (target
< 300 ms). W27 times `cairn report` of a workspace change against HEAD~1 with 4 declared plots
(csv, 200 rows each) rendered to PNG by vl-convert (target < 3 s).

cairn only: DVC has no checks and no report. The sizes are those of the targets at every scale
(they are cheap). Standard library only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from workloads import BASE, RunCtx, Target, Workload, commit, fresh_repo, then

COMMITS = 50
CHECKS = 20
PLOTS = 4
ROWS = 200
ALL_SCALES = frozenset({"full", "quick", "smoke"})
NOT_DVC = "cairn only: DVC has no model checks and no CI report."


def _metrics(i: int) -> dict:
    # 20 metrics that move a little from commit to commit, deterministically
    return {"acc": round(0.80 + (i % 7) / 1000, 4), **{f"m{k:02d}": round(k + (i % 5) / 100, 3) for k in range(1, 20)}}


def _checks_yaml() -> str:
    lines = ["metrics:", "  - eval/metrics.json", "checks:"]
    lines += ["  stable:", "    metric: eval/metrics.json:acc", "    stddev: 3", f"    history: {COMMITS}"]
    for k in range(1, CHECKS):
        lines.append(f"  c{k:02d}:")
        lines.append(f"    metric: eval/metrics.json:m{k:02d}")
        if k % 2:
            lines.append(f"    min: {k - 1}")
        else:
            lines += [f"    baseline: {'main' if k % 4 else 'HEAD~10'}", "    max_drop: 5%"]
    return "\n".join(lines) + "\n"


def checks_history(ctx: RunCtx) -> None:
    fresh_repo(ctx)
    (ctx.repo / "cairn.yaml").write_text(_checks_yaml())
    (ctx.repo / "eval").mkdir()
    for i in range(1, COMMITS + 1):
        (ctx.repo / "eval" / "metrics.json").write_text(json.dumps(_metrics(i)) + "\n")
        commit(f"metrics {i}")(ctx)
    (ctx.repo / "eval" / "metrics.json").write_text(json.dumps(_metrics(COMMITS + 1)) + "\n")


def _plot_csv(n: int, shift: float) -> str:
    return "step,loss,acc\n" + "".join(f"{s},{1 / (s + 1) + shift:.5f},{0.5 + s / (2 * ROWS) - shift:.5f}\n"
                                       for s in range(ROWS))  # fmt: skip


def report_repo(ctx: RunCtx) -> None:
    fresh_repo(ctx)
    lines = ["metrics:", "  - metrics.json", "plots:"]
    lines += [f"  - plots/p{n}.csv: {{x: step, y: loss, title: plot {n}}}" for n in range(1, PLOTS + 1)]
    lines += ["checks:", "  floor: {metric: 'metrics.json:acc', min: 0.5}",
              "  vs-head: {metric: 'metrics.json:acc', baseline: HEAD, max_drop: 1%}"]  # fmt: skip
    (ctx.repo / "cairn.yaml").write_text("\n".join(lines) + "\n")
    (ctx.repo / "plots").mkdir()
    for version, shift in ((1, 0.0), (2, 0.01)):
        for n in range(1, PLOTS + 1):
            (ctx.repo / "plots" / f"p{n}.csv").write_text(_plot_csv(n, shift * n))
        (ctx.repo / "metrics.json").write_text(json.dumps({"acc": 0.8 + version / 100}) + "\n")
        commit(f"version {version}")(ctx)
    for n in range(1, PLOTS + 1):
        (ctx.repo / "plots" / f"p{n}.csv").write_text(_plot_csv(n, 0.02 * n))
    (ctx.repo / "metrics.json").write_text(json.dumps({"acc": 0.83}) + "\n")


# -- checks -----------------------------------------------------------------------------------


def all_checks_ran(ctx: RunCtx) -> str | None:
    try:
        doc = json.loads(ctx.stdout.read_text())
    except ValueError as exc:
        return f"stdout is not JSON ({exc})"
    checks = doc.get("checks") or []
    if len(checks) != CHECKS:
        return f"{len(checks)} checks ran, expected {CHECKS}"
    broken = [c["name"] for c in checks if c["verdict"] == "error"]
    if broken:
        return f"checks that could not be evaluated: {', '.join(broken)}"
    stable = next(c for c in checks if c["name"] == "stable")
    if (stable.get("history") or {}).get("n") != COMMITS:
        return f"the stddev check read {(stable.get('history') or {}).get('n')} values, expected {COMMITS}"
    return None


def report_written(ctx: RunCtx) -> str | None:
    out = ctx.repo / "cairn_report"
    pngs = sorted(p.name for p in (out / "plots").glob("*.png")) if (out / "plots").is_dir() else []
    if len(pngs) != PLOTS:
        return f"{len(pngs)} PNG plots written, expected {PLOTS}"
    if any((out / "plots" / p).read_bytes()[:8] != b"\x89PNG\r\n\x1a\n" for p in pngs):
        return "a plot is not a PNG"
    md = (out / "report.md").read_text() if (out / "report.md").is_file() else ""
    if not re.search(r"All 2 checks passed", md) or md.count("](plots/") != PLOTS:
        return "report.md lacks the verdict or the plot links"
    return None


def _clean_report(ctx: RunCtx) -> None:
    import shutil

    shutil.rmtree(Path(ctx.repo) / "cairn_report", ignore_errors=True)


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W26",
        "check: 20 checks, one stddev over 50 commits",
        checks_history,
        lambda c: c.tool.argv("check", "--json"),
        (*BASE, "check"),
        all_checks_ran,
        target=Target(0.3, "`cairn check`, 20 checks, one `stddev` over 50 commits", ALL_SCALES),
        dvc_skipped=ALL_SCALES,
        datasets=frozenset(),
        notes=f"{COMMITS} commits each changing eval/metrics.json (git-tracked, 20 keys), the workspace "
        f"changed once more. Timed: `cairn check --json` of {CHECKS} checks: 10 `min`, 9 `baseline` with "
        f"`max_drop: 5%` (main or HEAD~10), one `stddev: 3` over `history: {COMMITS}`. Checked: 20 "
        f"results, none an error, the stddev rule read {COMMITS} values. " + NOT_DVC,
    ),
    Workload(
        "W27",
        "report with 4 plots to PNG",
        then(report_repo, _clean_report),
        lambda c: c.tool.argv("report", "--baseline", "HEAD~1"),
        (*BASE, "report"),
        report_written,
        target=Target(3.0, "`cairn report`, 4 plots rendered to PNG", ALL_SCALES),
        dvc_skipped=ALL_SCALES,
        datasets=frozenset(),
        notes=f"{PLOTS} declared csv plots of {ROWS} rows (git-tracked), 2 commits, the workspace changed. "
        "Timed: `cairn report --baseline HEAD~1` (2 checks, metrics and params diffs, data and lock "
        "diffs, each plot of both revisions rendered to PNG by vl-convert). Checked: 4 PNG files and "
        "report.md linking them under its verdict. " + NOT_DVC,
    ),
)
