"""End-to-end check of the benchmark harness: `bench/run.py --smoke` on tiny data.

It fails when the harness is broken: a missing workload row, a cell that is neither numbers nor
an explicit "not implemented"/"not comparable" note, DVC without numbers (except where a workload
skips DVC at smoke scale, which its cell must say), no target line for a workload with an absolute
target, or a non-zero exit (which the harness returns when any tool's setup, command or result check
failed).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"
TARGETS = ["W15", "W16", "W17", "W18", "W19"]  # absolute targets, judged at quick and full scale only
WORKLOADS = ["W1", "W2", "W3", "W4", "W5-copy", "W5-hardlink", *(f"W{i}" for i in range(6, 14)), *TARGETS, "W20"]
DVC_SKIPPED = {"W17", "W18"}  # DVC's side takes too long for a smoke run
TIME = r"\d+(?:\.\d+)? m?s"
NUMBERS = re.compile(rf"^{TIME} \({TIME} - {TIME}\)$")
NOTE = re.compile(r"not implemented|not comparable")


def _rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if re.match(r"\| [A-Z]\d", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def _smoke(tmp_path: Path, only: list[str]) -> str:
    """bench/run.py --smoke over the ONLY workloads; returns RESULTS.md."""
    out, work = tmp_path / "out", tmp_path / "work"
    argv = [sys.executable, str(RUN), "--smoke", "--runs", "1", "--only", ",".join(only)]
    proc = subprocess.run(
        [*argv, "--out", str(out), "--work", str(work)], capture_output=True, text=True, timeout=1800, check=False
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return (out / "RESULTS.md").read_text()


def _area_workloads() -> list[str]:
    """Every smoke-scale workload of the later issues' *_workloads.py files (the catalog's ids
    outside WORKLOADS; S1's sequence has its own test, test_s1.py), asked of the catalog in a
    child so this process imports nothing of bench/."""
    code = "import catalog; print(' '.join(w.id for w in catalog.select(None, 'smoke')))"
    ids = subprocess.run(
        [sys.executable, "-c", code], cwd=RUN.parent, capture_output=True, text=True, check=True
    ).stdout.split()
    return [w for w in ids if w not in WORKLOADS and w != "W21" and not w.startswith("S1-")]  # S1: test_s1.py


# Two halves, so a parallel run (pytest-xdist) spreads the bench's ~4 minutes over two workers.
@pytest.mark.bench_smoke
@pytest.mark.timeout(1800)
@pytest.mark.xdist_group("bench-smoke-areas")
def test_smoke_run_reports_every_area_workload(tmp_path: Path) -> None:
    wanted = _area_workloads()
    assert len(wanted) >= 15, wanted  # W22 onwards: merge, lineage, checks, registry, sharing, ...
    rows = _rows(_smoke(tmp_path, wanted))
    for wid in wanted:
        assert wid in rows, f"no row for {wid}"
        cells = rows[wid]
        assert NUMBERS.match(cells[2]) or NOTE.search(cells[2]), f"{wid}: cairn cell {cells[2]!r}"


@pytest.mark.bench_smoke
@pytest.mark.timeout(1800)
@pytest.mark.xdist_group("bench-smoke-core")
def test_smoke_run_reports_every_workload(tmp_path: Path) -> None:
    out = tmp_path / "out"
    markdown = _smoke(tmp_path, [*WORKLOADS, "W21"])
    rows = _rows(markdown)
    cairn_exists = (ROOT / "pyproject.toml").exists()
    for wid in WORKLOADS:
        assert wid in rows, f"no row for {wid} in RESULTS.md:\n{markdown}"
        _id, _title, cairn, dvc, ratio, *_ = rows[wid]
        if wid in DVC_SKIPPED:
            assert dvc == "not run at smoke scale (see notes)", f"{wid}: {dvc!r}"
        else:
            assert NUMBERS.match(dvc), f"{wid}: DVC has no numbers: {dvc!r}"
        if NUMBERS.match(cairn) and wid in DVC_SKIPPED:
            assert ratio == "—", f"{wid}: a ratio without DVC numbers: {ratio!r}"
        elif NUMBERS.match(cairn):
            assert re.fullmatch(r"\d+\.\d\dx", ratio), f"{wid}: numbers for both but ratio {ratio!r}"
        elif not cairn_exists:
            assert cairn.startswith("not installed"), f"{wid}: {cairn!r}"
        else:
            assert NOTE.search(cairn), f"{wid}: cairn cell is neither numbers nor a note: {cairn!r}"
            assert ratio == "—", f"{wid}: a ratio without numbers for both: {ratio!r}"
    for wid in TARGETS:
        assert re.search(
            rf"^- {wid} target, cairn under .*: (not judged at smoke scale|no cairn numbers)", markdown, re.M
        ), f"no target line for {wid}:\n{markdown}"
    assert "`cairn --help`" in markdown and "`dvc --help`" in markdown
    assert "## Machine" in markdown and "File system of the work dir" in markdown

    results = json.loads((out / "results.json").read_text())
    by_id = {w["id"]: w for w in results["workloads"]}
    for wid in ["W1", "W2", "W3", "W4", "W5-copy", "W5-hardlink"]:
        dvc = by_id[wid]["sides"]["dvc"]
        assert dvc["status"] == "ok" and len(dvc["samples"]) == 1, f"{wid}: {dvc}"
        sample = dvc["samples"][0]
        assert sample["wall_s"] > 0.05 and sample["maxrss_kib"] > 10_000, f"{wid}: implausible DVC sample {sample}"
    floor = by_id["W5-copy"]["sides"]["floor"]
    assert floor["status"] == "ok" and floor["samples"], floor
