"""The S1 sequence end to end at smoke speed: `bench/run.py --only S1` at two tiny sizes, every
step timed and checked on one repo per size, and the growth table across the sizes; then one
step selected alone, which builds its state from scratch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"
STEPS = ["add", "status", "readd", "diff", "push-local", "push-again", "push-s3", "checkout", "pull"]
TIME = r"\d+(?:\.\d+)? m?s"


def _bench(tmp_path: Path, *args: str) -> tuple[str, dict, Path]:
    out, work = tmp_path / "out", tmp_path / "work"
    argv = [sys.executable, str(RUN), "--smoke", "--tools", "cairn", *args, "--out", str(out), "--work", str(work)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return (out / "RESULTS.md").read_text(), json.loads((out / "results.json").read_text()), work / "logs"


@pytest.mark.bench_smoke
@pytest.mark.timeout(1200)
@pytest.mark.xdist_group("bench-smoke-s1")
def test_s1_runs_as_one_sequence_per_size_with_a_growth_table(tmp_path: Path) -> None:
    markdown, results, logs = _bench(tmp_path, "--only", "S1", "--s1", "2k,smoke")
    ids = [w["id"] for w in results["workloads"]]
    assert ids == [f"S1-{step}@{size}" for size in ("smoke", "2k") for step in STEPS]
    for w in results["workloads"]:
        cairn = w["sides"]["cairn"]
        assert cairn["status"] == "ok" and len(cairn["samples"]) == 1, (w["id"], cairn)
        assert cairn["samples"][0]["cpu_s"] > 0 and cairn["samples"][0]["maxrss_kib"] > 10_000, (w["id"], cairn)
    for size in ("smoke", "2k"):
        # the set was copied and the repo made once: in the first step; each later one continued
        first = (logs / f"S1-add@{size}" / "cairn-run1.log").read_text()
        assert "git init" in first and "cairn init" in first
        for step in STEPS[1:]:
            log = (logs / f"S1-{step}@{size}" / "cairn-run1.log").read_text()
            assert log.startswith("# continuing from S1-"), (step, size, log[:300])
            assert "git init" not in log and "cairn init" not in log, (step, size)
    table = markdown.split("## Growth with the number of files (S1, cairn)")[1]
    assert "| 200 files: wall / CPU / peak RSS | 2,000 files: wall / CPU / peak RSS | 200 -> 2,000:" in table
    rows = [ln for ln in table.splitlines() if ln.startswith("| ") and "files:" not in ln]
    assert len(rows) == len(STEPS), rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(re.fullmatch(rf"{TIME} / {TIME} / [\d,]+ MiB", c) for c in cells[1:3]), row
        assert re.fullmatch(r"\d+\.\d\dx, \d+\.\d\dx", cells[3]), row


@pytest.mark.bench_smoke
@pytest.mark.timeout(1200)
@pytest.mark.xdist_group("bench-smoke-s1")
@pytest.mark.parametrize(
    ("only", "ids"), [("S1-checkout,S1-diff", ["S1-diff", "S1-checkout"]), ("S1-pull", ["S1-pull"])]
)
def test_an_s1_step_selected_alone_builds_its_state(tmp_path: Path, only: str, ids: list[str]) -> None:
    markdown, results, logs = _bench(tmp_path, "--only", only)
    by_id = {w["id"]: w for w in results["workloads"]}
    assert list(by_id) == ids
    for wid in by_id:
        assert by_id[wid]["sides"]["cairn"]["status"] == "ok", by_id[wid]
        log = (logs / wid / "cairn-run1.log").read_text()
        assert "cairn init" in log and "continuing" not in log, wid
    assert "## Growth with the number of files (S1, cairn)" in markdown
