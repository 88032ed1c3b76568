"""What a CI report holds, section by section, as plain data: the markdown and html modules
render it, and `cairn report --json` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cairn.checks.evaluate import CheckReport
from cairn.metrics.revisions import Rev
from cairn.metrics.values import MISSING, DiffRow


@dataclass
class DataChange:
    """One tracked path (a `.cairn` pointer's data): how many files changed, and their bytes."""

    path: str
    added: int = 0
    removed: int = 0
    modified: int = 0
    bytes: int = 0  # size of the added and modified files, and of the removed ones as they were

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class StageChange:
    name: str
    status: str  # reran | added | removed
    changed: list[str] = field(default_factory=list)  # what differs: cmd, deps, params, outs

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PlotImage:
    id: str  # the plot's file, as cairn.yaml names it
    title: str
    file: str  # relative to the report: plots/NAME.png
    png: bytes = b""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "file": self.file}


@dataclass
class Report:
    rev: Rev
    baseline: Rev | None
    checks: CheckReport
    metrics: list[DiffRow] = field(default_factory=list)
    params: list[DiffRow] = field(default_factory=list)
    data: list[DataChange] = field(default_factory=list)
    stages: list[StageChange] = field(default_factory=list)
    lineage: list[dict[str, Any]] = field(default_factory=list)  # one summary per changed model
    plots: list[PlotImage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a section could not show, and why

    @property
    def passed(self) -> bool:
        return self.checks.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "rev": self.rev.to_dict(),
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "passed": self.passed,
            "checks": self.checks.to_dict(),
            "metrics": [_row(r, True) for r in self.metrics],
            "params": [_row(r, False) for r in self.params],
            "data": [d.to_dict() for d in self.data],
            "stages": [s.to_dict() for s in self.stages],
            "lineage": self.lineage,
            "plots": [p.to_dict() for p in self.plots],
            "notes": self.notes,
        }


def _row(r: DiffRow, with_change: bool) -> dict[str, Any]:
    return r.to_dict(with_change)


def label(rev: Rev | None) -> str:
    if rev is None:
        return "none"
    return rev.name if rev.commit is None or rev.name == rev.short else f"{rev.name} ({rev.short})"


def value_text(value: Any) -> str:
    if value is MISSING:
        return "—"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
