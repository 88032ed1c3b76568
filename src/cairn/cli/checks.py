"""`cairn check` and `cairn report`: the checks of cairn.yaml, and a report ready for a pull
request. A failed check makes `cairn check` exit 1; the report is written whatever the verdict
(it says the verdict first)."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.cli.data import opened
from cairn.cli.output import emit_json, say

_TAIL = 20  # lines of a failed command check's output shown on stderr


@click.command()
@click.option("--rev", metavar="REV", help="Check the metrics of this revision (default: the workspace).")
@click.option("--baseline", metavar="REV", help="Compare every check with this baseline (REV or MODEL@STAGE).")
@click.option("--json", "fmt", flag_value="json", help="Print the results as JSON.")
@click.option("--md", "fmt", flag_value="md", help="Print a Markdown table (for pull requests).")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), help="Also write JUnit XML to FILE.")
def check(rev: str | None, baseline: str | None, fmt: str | None, junit_file: str | None) -> None:
    """Run the checks of cairn.yaml (`checks:`) against the workspace's metrics, or REV's.

    Reads metrics files; runs no stage (command checks run their command). Exit 0 when every
    check passed or only warned; 1 when one of severity error failed, or any could not be
    evaluated (a missing metric, say). See docs/ci.md for the rules."""
    from cairn.checks import junit, markdown
    from cairn.cli.metrics import render_table
    from cairn.repo.checks import run_checks

    with opened(fmt == "json") as repo:
        report = run_checks(repo, rev, baseline)
        if junit_file:
            junit.write(report, Path(junit_file))
    if fmt == "json":
        emit_json(report.to_dict())
    elif not report.results:
        say("No checks: add a `checks:` section to cairn.yaml (see docs/ci.md).")
    elif fmt == "md":
        click.echo(markdown.checks_table(report))
    else:
        render_table(markdown.CHECK_HEADERS, [markdown.check_row(r) for r in report.results], None)
        say(markdown.verdict_line(report).replace("**", ""))
    if fmt != "json":
        _problems(report)
    if not report.passed:
        raise click.exceptions.Exit(1)


def _problems(report) -> None:
    for r in report.results:
        if r.verdict == "pass":
            continue
        word = {"fail": "failed", "warn": "warning", "error": "error"}[r.verdict]
        message = (
            r.message if r.message.startswith(f"check {r.check.name!r}") else f"check {r.check.name!r}: {r.message}"
        )
        click.echo(f"{word}: {message}", err=True)
        if r.hint:
            click.echo(f"  hint: {r.hint}", err=True)
        if r.output and r.verdict != "pass":
            lines = r.output.rstrip().splitlines()[-_TAIL:]
            click.echo("".join(f"  | {ln}\n" for ln in lines), err=True, nl=False)


@click.command()
@click.option("--baseline", metavar="REV", help="Compare with this revision or MODEL@STAGE (default: HEAD).")
@click.option("--rev", metavar="REV", help="Report on this revision (default: the workspace).")
@click.option(
    "-o", "--out", "out_dir", default="cairn_report", show_default=True, help="Folder for report.md and its plots."
)
@click.option("--html", "as_html", is_flag=True, help="Write one self-contained report.html instead.")
@click.option("--no-plots", is_flag=True, help="Leave the plots out (no PNG rendering).")
@click.option("--json", "as_json", is_flag=True, help="Print the report's content and what was written as JSON.")
def report(baseline: str | None, rev: str | None, out_dir: str, as_html: bool, no_plots: bool, as_json: bool) -> None:
    """Write a report for a pull request: the checks' verdict first, then the checks table,
    metrics and params diffs, tracked data that changed, the stages that reran, the lineage of
    the models they wrote and the plots (PNG files next to report.md, linked relatively).

    Exits 0 once the report is written, whatever the checks say (`cairn check` gates)."""
    from cairn.repo import report as report_mod

    with opened(as_json) as repo:
        built = report_mod.build(repo, baseline, rev, plots=not no_plots)
        written = report_mod.write(built, Path(out_dir), as_html)
    if as_json:
        emit_json({**written.to_dict(), "report": built.to_dict()})
        return
    plots = f" and {len(written.files)} plot{'s' if len(written.files) != 1 else ''}" if written.files else ""
    say(f"Wrote {written.page}{plots}: {'passed' if built.passed else 'checks failed'}")
    for note in built.notes:
        click.echo(f"note: {note}", err=True)
