"""params diff, metrics show / diff / trend, plots show / diff.

Tables are rich on a terminal, aligned plain text in a pipe, Markdown with --md (pastes into a
pull request), CSV with --csv, and the stable JSON of the library's results with --json.
Problems met at some revisions (a broken file, say) are reported after what could be shown,
and make the exit status non-zero."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from cairn.cli.data import opened
from cairn.cli.output import emit_json, say

MISSING_TEXT = "missing"  # a value absent at a revision (diff tables)
ABSENT_TEXT = "—"  # a cell with nothing in it (show tables), or a change that is not computed


def _formats(*names: str):
    def deco(f):
        for name, help_text in reversed(
            [
                ("json", "Print machine-readable JSON."),
                ("md", "Print a Markdown table (for pull requests)."),
                ("csv", "Print CSV."),
            ]
        ):
            if name in names:
                f = click.option(f"--{name}", "fmt", flag_value=name, help=help_text)(f)
        return f

    return deco


_precision = click.option(
    "--precision", type=click.IntRange(0, 15), default=5, show_default=True, help="Round numbers to P decimal places."
)


# -- rendering -------------------------------------------------------------------------------
def fmt_value(value: Any, precision: int, missing: str = MISSING_TEXT) -> str:
    from cairn.metrics.values import MISSING

    if value is MISSING:
        return missing
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return str(round(value, precision))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def fmt_change(change: Any, precision: int) -> str:
    if change is None:
        return ABSENT_TEXT
    text = fmt_value(change, precision)
    return text if text.startswith("-") or change == 0 else "+" + text


def _csv_cell(value: Any) -> Any:
    from cairn.metrics.values import MISSING

    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(
    headers: list[str], rows: list[list[str]], fmt: str | None, raw: list[list[Any]] | None = None
) -> None:
    """Print a table; `raw` (unformatted values) is what CSV gets."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(headers)
        w.writerows([[_csv_cell(v) for v in r] for r in (raw if raw is not None else rows)])
        click.echo(buf.getvalue(), nl=False)
    elif fmt == "md":
        lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
        click.echo("\n".join(lines))
    elif sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(show_edge=False, header_style="bold")
        for i, h in enumerate(headers):
            table.add_column(h, overflow="fold", justify="left" if i < 2 else "right")
        for r in rows:
            table.add_row(*[c if c not in (MISSING_TEXT, ABSENT_TEXT) else f"[dim]{c}[/dim]" for c in r])
        Console(highlight=False).print(table)
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
        for r in [headers, *rows]:
            click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _finish(problems, notes: list[str] | None = None) -> None:
    """Report notes and problems on stderr after the output; problems make the exit non-zero."""
    for note in notes or []:
        click.echo(f"note: {note}", err=True)
    if not problems:
        return
    for p in problems:
        click.echo(f"error: {p.error.message}", err=True)
        if p.also:
            names = ", ".join(r.name for r in p.also[:5]) + (f" and {len(p.also) - 5} more" if len(p.also) > 5 else "")
            click.echo(f"  the same content is at {names}", err=True)
        if p.error.hint:
            click.echo(f"  hint: {p.error.hint}", err=True)
    raise click.exceptions.Exit(problems[0].error.exit_code)


def _diff_output(d, fmt: str | None, precision: int, what: str) -> None:
    if fmt == "json":
        emit_json(d.to_dict())
        return _finish(d.problems)
    with_change = d.kind == "metrics"
    headers = ["Path", "Metric" if with_change else "Param", d.old.name, d.new.name] + (["Change"] * with_change)
    rows, raw = [], []
    for r in d.rows:
        cells = [r.path, r.key, fmt_value(r.old, precision), fmt_value(r.new, precision)]
        raw_cells = [r.path, r.key, r.old, r.new]
        if with_change:
            cells.append(fmt_change(r.change, precision))
            raw_cells.append(r.change)
        rows.append(cells)
        raw.append(raw_cells)
    if rows or fmt == "csv":
        render_table(headers, rows, fmt, raw)
    else:
        say(f"No {what} changed between {d.old.name} and {d.new.name}.")
    _finish(d.problems)


# -- params ----------------------------------------------------------------------------------
@click.group()
def params() -> None:
    """Compare params (params.yaml and the params files cairn.yaml names) across revisions."""


@params.command("diff")
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--all", "show_all", is_flag=True, help="Show unchanged params too.")
@_formats("json", "md", "csv")
@_precision
def params_diff(a: str | None, b: str | None, show_all: bool, fmt: str | None, precision: int) -> None:
    """Params that changed from revision A (default HEAD) to B (default: the workspace).

    `workspace` names the workspace, e.g. `cairn params diff workspace main`."""
    from cairn.metrics.values import params_diff as diff

    with opened(True) as repo:
        d = diff(repo, a, b, show_all)
    _diff_output(d, fmt, precision, "params")


# -- metrics ---------------------------------------------------------------------------------
@click.group()
def metrics() -> None:
    """Show, compare and follow the metrics files that cairn.yaml declares."""


@metrics.command("show")
@click.option("--rev", "revs", multiple=True, metavar="REV", help="A revision to show (repeat; `workspace` too).")
@click.option("-A", "--all-refs", is_flag=True, help="The workspace, every branch and every tag.")
@click.option("-T", "--all-tags", is_flag=True, help="The workspace and every tag.")
@click.option("-n", "--last", type=click.IntRange(1), metavar="N", help="The workspace and the last N commits.")
@_formats("json", "md", "csv")
@_precision
def metrics_show(revs, all_refs: bool, all_tags: bool, last: int | None, fmt: str | None, precision: int) -> None:
    """Metrics of the workspace (default) or of revisions, one row per revision and file.

    Metrics files are those in cairn.yaml (top-level `metrics:` and stages' `metrics:`): json, yaml,
    toml, or csv/tsv (the last row). Nested keys read as `train.loss`."""
    from cairn.metrics.revisions import select
    from cairn.metrics.values import metrics_show as show

    if sum(bool(x) for x in (all_refs, all_tags, last)) > 1:
        raise click.UsageError("choose one of -A, -T and -n")
    with opened(True) as repo:
        result = show(repo, select(repo, list(revs), all_refs, all_tags, last, "metrics show"))
    if fmt == "json":
        emit_json(result.to_dict())
        return _finish(result.problems)
    columns = result.columns()
    keys = list(dict.fromkeys(k for _, k in columns))
    headers = ["Revision", "Path", *keys]
    rows, raw = [], []
    missing = _missing()
    for rev in result.revisions:
        for path, flat in result.values[rev.name].items():
            values = [(flat or {}).get(k, missing) for k in keys]
            rows.append([rev.name, path, *(fmt_value(v, precision, ABSENT_TEXT) for v in values)])
            raw.append([rev.name, path, *values])
    if rows:
        render_table(headers, rows, fmt, raw)
    elif not result.problems:
        say("No metrics: declare metrics files in cairn.yaml (top-level `metrics:` or a stage's `metrics:`).")
    _finish(result.problems)


def _missing():
    from cairn.metrics.values import MISSING

    return MISSING


@metrics.command("diff")
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--all", "show_all", is_flag=True, help="Show unchanged metrics too.")
@_formats("json", "md", "csv")
@_precision
def metrics_diff(a: str | None, b: str | None, show_all: bool, fmt: str | None, precision: int) -> None:
    """Metrics that changed from revision A (default HEAD) to B (default: the workspace), with the
    change for numbers; non-numeric values are shown, not diffed."""
    from cairn.metrics.values import metrics_diff as diff

    with opened(True) as repo:
        d = diff(repo, a, b, show_all)
    _diff_output(d, fmt, precision, "metrics")


@metrics.command("trend")
@click.argument("key")
@click.option("-n", "--last", type=click.IntRange(1), default=20, show_default=True, help="Commits to show.")
@click.option("-o", "--out", "out_dir", default="cairn_plots", show_default=True, help="Folder for the plot.")
@click.option("--png", "with_png", is_flag=True, help="Also write a PNG image.")
@click.option("--open", "open_page", is_flag=True, help="Open the plot in a browser.")
@click.option("--no-plot", is_flag=True, help="Only the table; write no page.")
@_formats("json", "md", "csv")
@_precision
def metrics_trend(key, last, out_dir, with_png, open_page, no_plot, fmt, precision) -> None:
    """One metric (KEY, or FILE:KEY) across the last N commits of the current branch: a table,
    newest first, and a plot page (oldest on the left) in the output folder."""
    from cairn.metrics import render, vega
    from cairn.metrics.values import metrics_trend as trend

    with opened(True) as repo:
        t = trend(repo, key, last)
    written = None
    if not no_plot:
        points = [
            {k: p[k] for k in ("short", "date", "subject", "value")} | {"commit": p["short"]}
            for p in reversed(t.to_dict()["points"])
        ]
        name = "trend-" + render.slug(f"{t.path}-{t.key}")
        spec = vega.trend_chart(t.key, points)
        subtitle = f"{t.path}: {t.key} over the last {len(points)} commits"
        written = render.write_chart(spec, Path(out_dir), name, f"{t.key} ({t.path})", subtitle, with_png)
    if fmt == "json":
        emit_json({**t.to_dict(), **(written.to_dict() if written else {"page": None, "png": []})})
    else:
        headers = ["Commit", "Date", "Subject", t.key]
        rows = [[r.short, r.date or "", r.subject or "", fmt_value(v, precision)] for r, v in t.points]
        raw = [[r.short, r.date, r.subject, v] for r, v in t.points]
        render_table(headers, rows, fmt, raw)
        if written:
            click.echo(f"Plot: {written.page}" + "".join(f"\nPNG: {p}" for p in written.pngs), err=True)
    if written and open_page:
        _open(written.page)
    _finish(t.problems)


# -- plots -----------------------------------------------------------------------------------
@click.group()
def plots() -> None:
    """Draw the plots cairn.yaml declares into a self-contained HTML page (and PNGs)."""


_out_option = click.option(
    "-o", "--out", "out_dir", default="cairn_plots", show_default=True, help="Folder for index.html and the PNGs."
)
_png_option = click.option("--png", "with_png", is_flag=True, help="Also write one PNG per chart.")
_open_option = click.option("--open", "open_page", is_flag=True, help="Open the page in a browser.")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print what was written, with the specs, as JSON.")


@plots.command("show")
@click.argument("files", nargs=-1, type=click.Path())
@_out_option
@_png_option
@_open_option
@_json_option
def plots_show(files, out_dir, with_png, open_page, as_json) -> None:
    """Plots of the workspace: all that cairn.yaml declares, or FILES (declared or not)."""
    from cairn.metrics.plots import plots as collect
    from cairn.metrics.plots import repo_relative
    from cairn.metrics.revisions import workspace

    with opened(True) as repo:
        targets = [repo_relative(repo, os.getcwd(), f) for f in files]
        result = collect(repo, [workspace()], targets)
    _plots_output(result, out_dir, with_png, open_page, as_json)


@plots.command("diff")
@click.argument("revs", nargs=-1)
@click.option("-t", "--target", "targets", multiple=True, type=click.Path(), help="Only this plot (repeat).")
@_out_option
@_png_option
@_open_option
@_json_option
def plots_diff(revs, targets, out_dir, with_png, open_page, as_json) -> None:
    """Plots of several revisions overlaid on one chart each: REVs (none: HEAD and the workspace;
    one: it and the workspace; `workspace` names the workspace)."""
    from cairn.metrics.plots import diff_revisions, repo_relative
    from cairn.metrics.plots import plots as collect

    with opened(True) as repo:
        chosen = diff_revisions(repo, list(revs))
        rel = [repo_relative(repo, os.getcwd(), t) for t in targets]
        result = collect(repo, chosen, rel)
    _plots_output(result, out_dir, with_png, open_page, as_json)


def _plots_output(result, out_dir: str, with_png: bool, open_page: bool, as_json: bool) -> None:
    from cairn.metrics.render import write_plots

    if not result.charts and not result.images:  # as DVC: no page of nothing
        if as_json:
            emit_json({"page": None, "png": [], **result.to_dict()})
        else:
            say("No plots to draw: no page written.")
        _finish(result.problems, result.notes)
        return
    written = write_plots(result, Path(out_dir), with_png)
    if as_json:
        emit_json({**written.to_dict(), **result.to_dict()})
    else:
        shown = len(result.charts) + len(result.images)
        say(f"Wrote {shown} plot{'s' if shown != 1 else ''} to {written.page}")
        for p in written.pngs:
            say(f"  {p}")
    if open_page:
        _open(written.page)
    _finish(result.problems, result.notes)


def _open(page: Path) -> None:
    import webbrowser

    if not webbrowser.open(page.resolve().as_uri()):
        click.echo(f"note: no browser to open; the page is {page}", err=True)
