"""`cairn fsck`: re-hash every cache object; report corrupt ones and referenced ones missing."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cairn.workspace.context import Workspace
from cairn.workspace.gc import reachable


@dataclass
class FsckReport:
    checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing

    def to_dict(self) -> dict:
        return {"checked": self.checked, "corrupt": self.corrupt, "missing": self.missing, "ok": self.ok}


def fsck(ws: Workspace, roots: Iterable[tuple[str, str]]) -> FsckReport:
    report = FsckReport()
    oids = list(ws.store.iter_oids())
    task = ws.progress.task("verifying cache", len(oids), unit="objects")

    def check(oid: str) -> str | None:
        try:
            return None if ws.store.verify(oid) else oid
        except OSError:
            return oid

    with ThreadPoolExecutor(4, thread_name_prefix="cairn-fsck") as pool:
        for bad in pool.map(check, oids, chunksize=64):
            task.advance()
            if bad is not None:
                report.corrupt.append(bad)
    task.close()
    report.checked = len(oids)
    present = set(oids)
    referenced, missing_trees = reachable(ws, roots)
    report.missing = sorted(set(missing_trees) | {o for o in referenced if o not in present})
    report.corrupt.sort()
    return report
