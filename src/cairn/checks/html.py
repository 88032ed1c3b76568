"""The report as one self-contained HTML page: no script, no file beside it (plots are PNG
data: URLs), so it opens offline and can be kept as a CI artifact."""

from __future__ import annotations

import base64
import html

from cairn.checks.evaluate import PASS
from cairn.checks.markdown import CHECK_HEADERS, ICONS, check_row, diff_cells, size_text, verdict_line
from cairn.checks.report import Report, label
from cairn.metrics.values import DiffRow

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #222; max-width: 70rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid #ddd; padding: .3rem .6rem; }
th { background: #f6f6f6; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; } .fail, .error { color: #cf222e; } .warn { color: #9a6700; }
pre { background: #f6f8fa; padding: .6rem; overflow: auto; max-height: 30rem; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #666; font-style: italic; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(headers: list[str], rows: list[list[str]], raw: bool = False) -> str:
    """`raw`: the cells are HTML already."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else _e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _diff(rows: list[DiffRow], what: str, old: str, new: str) -> str:
    return _table(*diff_cells(rows, what, old, new))


def _verdict(text: str) -> str:
    # verdict_line is Markdown: **bold** is the only markup it uses
    parts = _e(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def render(report: Report) -> str:
    old, new = label(report.baseline), label(report.rev)
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>cairn report: {_e(new)}</title><style>{_STYLE}</style></head><body>",
        "<h1>cairn report</h1>",
        f'<p class="{"pass" if report.passed else "fail"}">{_verdict(verdict_line(report.checks))}</p>',
        f"<p>Compared: <strong>{_e(new)}</strong> against baseline <strong>{_e(old)}</strong>.</p>",
    ]
    if report.checks.results:
        rows = []
        for r in report.checks.results:
            cells = [_e(c) for c in check_row(r)]
            cells[-1] = f'<span class="{r.verdict}">{ICONS[r.verdict]} {_e(r.verdict)}</span>'
            rows.append(cells)
        out += ["<h2>Checks</h2>", _table(CHECK_HEADERS, rows, raw=True)]
        notes = [r for r in report.checks.results if r.verdict != PASS and r.message]
        if notes:
            out.append(
                "<ul>" + "".join(f"<li><strong>{_e(r.check.name)}</strong>: {_e(r.message)}</li>" for r in notes)
            )
            out.append("</ul>")
        for r in report.checks.results:
            if r.output and r.output.strip():
                out.append(f"<details><summary>Output of <code>{_e(r.check.name)}</code></summary>")
                out.append(f"<pre>{_e(r.output)}</pre></details>")
    out.append("<h2>Metrics</h2>")
    out.append(_diff(report.metrics, "Metric", old, new) if report.metrics else "<p>No metric changed.</p>")
    out.append("<h2>Params</h2>")
    out.append(_diff(report.params, "Param", old, new) if report.params else "<p>No param changed.</p>")
    out.append("<h2>Data</h2>")
    if report.data:
        rows = [[d.path, str(d.added), str(d.removed), str(d.modified), size_text(d.bytes)] for d in report.data]
        out.append(_table(["Tracked path", "Added", "Removed", "Modified", "Bytes"], rows))
    else:
        out.append("<p>No tracked data changed.</p>")
    out.append("<h2>Stages that reran</h2>")
    if report.stages:
        rows = [[s.name, s.status, ", ".join(s.changed) or "—"] for s in report.stages]
        out.append(_table(["Stage", "Status", "What changed"], rows))
    else:
        out.append("<p>No stage reran.</p>")
    if report.lineage:
        out.append("<h2>Lineage</h2><ul>")
        for item in report.lineage:
            bits = [f"<code>{_e(item['path'])}</code>"]
            if item.get("stage"):
                bits.append(f"from stage <code>{_e(item['stage'])}</code>")
            if item.get("inputs"):
                bits.append("inputs " + ", ".join(f"<code>{_e(i)}</code>" for i in item["inputs"]))
            if item.get("rebuild"):
                bits.append(f"rebuild: <code>{_e(item['rebuild'])}</code>")
            out.append("<li>" + "; ".join(bits) + "</li>")
        out.append("</ul>")
    if report.plots:
        out.append("<h2>Plots</h2>")
        for p in report.plots:
            url = "data:image/png;base64," + base64.b64encode(p.png).decode()
            out.append(f'<figure><img src="{url}" alt="{_e(p.title)}"><figcaption>{_e(p.title)}</figcaption></figure>')
    for note in report.notes:
        out.append(f'<p class="note">{_e(note)}</p>')
    out.append("</body></html>\n")
    return "\n".join(out)
