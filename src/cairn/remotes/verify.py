"""push --verify: download and check what the remote claims to hold."""

from __future__ import annotations

from collections import defaultdict

from cairn.errors import RemoteKeyMissingError
from cairn.objects import pack
from cairn.progress import Progress
from cairn.remotes.pool import run_pool
from cairn.remotes.remote import Remote, pieces
from cairn.remotes.result import VerifyReport
from cairn.workspace.context import Workspace


def verify_held(
    ws: Workspace, remote: Remote, oids: list[str], progress: Progress
) -> tuple[VerifyReport, dict[str | None, list[str]]]:
    """Download and hash every object in `oids` (nothing is stored). Lost and damaged ones are
    forgotten by the index, so the push sends them. Returns the report and the damaged objects
    by pack (None: loose)."""
    report = VerifyReport()
    where = remote.index.locate(oids)
    damaged_in: dict[str | None, list[str]] = defaultdict(list)
    by_pack: dict[str, list[pack.IndexRow]] = defaultdict(list)
    work: list[tuple] = []
    for oid, (pack_id, off, size) in where.items():
        if pack_id is None:
            work.append(("loose", None, oid))
        else:
            by_pack[pack_id].append((oid, off, size))
    work += [("piece", pack_id, piece) for pack_id, rows in by_pack.items() for piece in pieces(rows)]
    task = progress.task(f"verify {remote.name}", len(where), unit="files")

    def check(w: tuple):
        kind, pack_id, what = w
        if kind == "loose":
            _, bad, lost = remote.check_loose(ws.store, what, keep=False)
            return pack_id, 1, bad, lost
        try:
            bad = [oid for oid, data in remote.read_piece(pack_id, what) if data is None]
        except RemoteKeyMissingError:  # the pack is gone
            return pack_id, len(what), [], [o for o, _, _ in what]
        return pack_id, len(what), bad, []

    def done(res) -> None:
        pack_id, n, bad, lost = res
        report.checked += n
        report.damaged.extend(bad)
        report.lost.extend(lost)
        if bad:
            damaged_in[pack_id].extend(bad)
        task.advance(n)

    try:
        run_pool(remote.jobs, work, check, done)
    finally:
        task.close()
    report.damaged.sort()
    report.lost.sort()
    remote.index.forget(report.damaged + report.lost)
    return report, dict(damaged_in)
