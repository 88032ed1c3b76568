"""The report as Markdown that GitHub and GitLab both render in a pull-request comment: the
verdict first, then tables; long command output folds into <details>; plots are PNG files
next to the report, linked relatively."""

from __future__ import annotations

import re

from cairn.checks.evaluate import ERROR, FAIL, PASS, WARN, CheckReport, CheckResult
from cairn.checks.report import Report, label, value_text
from cairn.metrics.values import DiffRow

ICONS = {PASS: "✅", FAIL: "❌", WARN: "⚠️", ERROR: "❗"}
CHECK_HEADERS = ["Check", "Value", "Rule", "Baseline", "Verdict"]
OUTPUT_LINES = 200  # of a command's output shown in the comment: the tail, where failures are


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def check_row(r: CheckResult) -> list[str]:
    """Check, value, rule, baseline value, verdict (shared by the terminal table)."""
    value = "—" if r.value is None else value_text(r.value)
    if r.check.kind == "command":
        value = "timed out" if r.exit_code is None else f"exit {r.exit_code}"
    return [r.check.name, value, r.rule, baseline_text(r), r.verdict]


def baseline_text(r: CheckResult) -> str:
    if r.check.kind == "stddev" and r.history and "mean" in r.history:
        h = r.history
        return f"{h['mean']:.6g} ± {h['sd']:.3g} (n={h['n']})"
    if r.baseline_value is not None:
        return f"{value_text(r.baseline_value)} ({r.baseline.name if r.baseline else ''})"
    return "—"


def verdict_line(checks: CheckReport) -> str:
    n, c = len(checks.results), checks.counts()
    if not n:
        return "✅ **No checks** (add a `checks:` section to cairn.yaml)"
    bad = c[FAIL] + c[ERROR]
    warned = f", {c[WARN]} warning{'s' if c[WARN] != 1 else ''}" if c[WARN] else ""
    if bad:
        return f"❌ **{bad} of {n} check{'s' if n != 1 else ''} failed**{warned}"
    return f"✅ **All {n} check{'s' if n != 1 else ''} passed**{warned}"


def checks_table(checks: CheckReport) -> str:
    rows = []
    for r in checks.results:
        row = check_row(r)
        row[-1] = f"{ICONS[r.verdict]} {r.verdict}"
        rows.append(row)
    text = table(CHECK_HEADERS, rows)
    problems = [r for r in checks.results if r.verdict != PASS and r.message]
    if problems:
        text += "\n\n" + "\n".join(f"- **{r.check.name}**: {_inline(r.message)}" for r in problems)
    return text


def _inline(text: str) -> str:
    return text.replace("\n", " ")


def fenced(text: str) -> str:
    """`text` in a code fence no line of it can close."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _outputs(checks: CheckReport) -> list[str]:
    parts = []
    for r in checks.results:
        if r.output is None or not r.output.strip():
            continue
        lines = r.output.rstrip().splitlines()
        shown = lines[-OUTPUT_LINES:]
        cut = f" (last {OUTPUT_LINES} of {len(lines)} lines)" if len(lines) > OUTPUT_LINES else ""
        parts.append(
            f"<details><summary>Output of <code>{_html(r.check.name)}</code>{cut}</summary>\n\n"
            f"{fenced(chr(10).join(shown))}\n\n</details>"
        )
    return parts


def _html(text: str) -> str:
    import html

    return html.escape(text)


def diff_cells(rows: list[DiffRow], what: str, old: str, new: str) -> tuple[list[str], list[list[str]]]:
    """(headers, rows of text) of a params or metrics diff, for the Markdown and HTML tables."""
    headers = ["Path", what, old, new] + (["Change"] if what == "Metric" else [])
    body = []
    for r in rows:
        cells = [r.path, r.key, value_text(r.old), value_text(r.new)]
        if what == "Metric":
            ch = r.change
            cells.append("—" if ch is None else (f"{ch:+.6g}" if isinstance(ch, float) else f"{ch:+d}"))
        body.append(cells)
    return headers, body


def diff_table(rows: list[DiffRow], what: str, old: str, new: str) -> str:
    return table(*diff_cells(rows, what, old, new))


def size_text(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def render(report: Report) -> str:
    old, new = label(report.baseline), label(report.rev)
    out = [
        "## cairn report",
        "",
        verdict_line(report.checks),
        "",
        f"Compared: **{new}** against baseline **{old}**.",
    ]
    if report.checks.results:
        out += ["", "### Checks", "", checks_table(report.checks), *["", *_outputs(report.checks)]]
    out += ["", "### Metrics", ""]
    out.append(diff_table(report.metrics, "Metric", old, new) if report.metrics else "No metric changed.")
    out += ["", "### Params", ""]
    out.append(diff_table(report.params, "Param", old, new) if report.params else "No param changed.")
    out += ["", "### Data", ""]
    if report.data:
        rows = [[d.path, str(d.added), str(d.removed), str(d.modified), size_text(d.bytes)] for d in report.data]
        out.append(table(["Tracked path", "Added", "Removed", "Modified", "Bytes"], rows))
    else:
        out.append("No tracked data changed.")
    out += ["", "### Stages that reran", ""]
    if report.stages:
        rows = [[s.name, s.status, ", ".join(s.changed) or "—"] for s in report.stages]
        out.append(table(["Stage", "Status", "What changed"], rows))
    else:
        out.append("No stage reran.")
    if report.lineage:
        out += ["", "### Lineage", ""]
        out += [lineage_line(item) for item in report.lineage]
    if report.plots:
        out += ["", "### Plots", ""]
        out += [f"![{cell(p.title)}]({p.file})" for p in report.plots]
    if report.notes:
        out += ["", "---", ""] + [f"- _{_inline(n)}_" for n in report.notes]
    return "\n".join(out).rstrip() + "\n"


def lineage_line(item: dict) -> str:
    parts = [f"- `{item['path']}`"]
    if item.get("stage"):
        parts.append(f"from stage `{item['stage']}`")
    if item.get("inputs"):
        parts.append("inputs " + ", ".join(f"`{i}`" for i in item["inputs"]))
    if item.get("params"):
        parts.append("params " + ", ".join(f"`{k}={v}`" for k, v in item["params"].items()))
    line = " ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if len(parts) > 2 else "")
    if item.get("rebuild"):
        line += f"; rebuild: `{item['rebuild']}`"
    return line
