"""Rendering: JSON on stdout, human text, rich progress bars on a terminal only, errors."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from cairn.errors import CairnError


def verbosity() -> int:
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.obj is None:
        ctx = ctx.parent
    return ctx.obj.get("verbosity", 0) if ctx is not None and ctx.obj else 0


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def say(message: str = "", err: bool = False) -> None:
    if verbosity() >= 0:
        click.echo(message, err=err)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def show_error(e: CairnError) -> None:
    click.echo(f"error: {e.message}", err=True)
    if e.hint:
        click.echo(f"  hint: {e.hint}", err=True)


class _RichTask:
    def __init__(self, bar, task_id, total_bytes: int | None) -> None:
        self._bar, self._id = bar, task_id
        self._bytes, self._total_bytes = 0, total_bytes

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        self._bytes += nbytes
        self._bar.update(self._id, advance=n, **self._fields())

    def add_total(self, n: int, nbytes: int = 0) -> None:
        task = self._bar.tasks[self._id]
        if self._total_bytes is not None:
            self._total_bytes += nbytes
        self._bar.update(self._id, total=(task.total or 0) + n, **self._fields())

    def _fields(self) -> dict:
        if not self._total_bytes:  # none, or not known yet (a fetch learns it level by level)
            return {}
        return {"moved": f"{human_size(self._bytes)} / {human_size(self._total_bytes)}"}

    def close(self) -> None:
        self._bar.refresh()  # the final counts, drawn once before the bar goes
        self._bar.remove_task(self._id)


class RichProgress:
    """Progress bars on stderr; constructed only when stderr is a terminal."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TextColumn("{task.fields[moved]}"),
            TimeRemainingColumn(),
            console=stderr_console(),
            transient=True,
        )
        self._started = False

    def task(self, description: str, total: int | None = None, unit: str = "files", total_bytes: int | None = None):
        if not self._started:
            self._bar.start()
            self._started = True
        moved = f"{human_size(0)} / {human_size(total_bytes)}" if total_bytes else ""
        return _RichTask(self._bar, self._bar.add_task(description, total=total, unit=unit, moved=moved), total_bytes)

    def notice(self, message: str) -> None:
        if self._started:
            self._bar.console.print(message, markup=False)  # above the bars, which stay
        else:
            click.echo(message, err=True)

    def stop(self) -> None:
        if self._started:
            self._bar.stop()


class NoticesOnly:
    """No bars (piped, CI, JSON), but notices still reach stderr: a script's log should say why a
    command waited (for the repository lock, say)."""

    def task(self, description: str, total: int | None = None, unit: str = "files", total_bytes: int | None = None):
        from cairn.progress import NULL

        return NULL.task(description)

    def notice(self, message: str) -> None:
        click.echo(message, err=True)


def progress_for(json_output: bool = False):
    """Bars only for a person at a terminal; notices only when piped, in CI or emitting JSON;
    nothing when quiet."""
    from cairn.progress import NULL

    if verbosity() < 0:
        return NULL
    if json_output or not sys.stderr.isatty() or os.environ.get("CI"):
        return NoticesOnly()
    return RichProgress()


def close_progress(progress) -> None:
    if isinstance(progress, RichProgress):
        progress.stop()


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
