"""The README's benchmark table comes from one run's results.json (bench/readme.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def readme(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCH))
    for name in [n for n in sys.modules if (BENCH / f"{n}.py").exists()]:
        monkeypatch.delitem(sys.modules, name)
    import readme

    return readme


def _side(*walls: float) -> dict:
    return {"status": "ok", "message": "", "samples": [{"wall_s": w} for w in walls]}


def test_every_row_and_the_caption_come_from_the_one_run(readme) -> None:
    results = {
        "header": {
            "mode": "full",
            "runs": 3,
            "tools": ["cairn", "dvc", "git-lfs"],
            "date": "2026-12-06 20:00 UTC",
            "checkout": "abc1234",
            "sizes": "20,000 small files",
            "load_end": "0.90, 0.50, 0.20",
            "machine": {"loadavg": "0.01, 0.05, 0.10", "cores": 2},
        },
        "workloads": [
            {
                "id": "W1",
                "title": "add the small files",
                "ratio_dvc_over_cairn": 5.5,
                "sides": {"cairn": _side(1.0, 0.8, 0.9), "dvc": _side(4.95, 5.0), "git-lfs": _side(9.0)},
            },
            {
                "id": "W5-copy",
                "title": "add the big file",
                "ratio_dvc_over_cairn": 1.5,
                "sides": {"cairn": _side(5.0), "dvc": _side(7.5), "floor": _side(4.0)},
            },
            {
                "id": "W17",
                "title": "queued experiments",
                "ratio_dvc_over_cairn": None,
                "sides": {"cairn": _side(8.4), "dvc": {"status": "not run", "message": "not run (see notes)"}},
            },
        ],
    }
    lines = readme.block(results, {"W5-copy": (1.15, "`cp big.bin`")}, {"W17": 10.0})
    text = "\n".join(lines)
    assert "at commit abc1234" in text and "load average 0.01, 0.05, 0.10 at the start" in text
    assert "`python bench/run.py --runs 3 --tools cairn,dvc,git-lfs --only W1,W5-copy,W17`" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| W")}
    assert rows["W1"] == "| W1 | add the small files | 900 ms | 4.97 s | 5.50x | >= 5x | 10.00x (9.00 s; >= 5x) |"
    assert "5.00 s (`cp big.bin`: 4.00 s)" in rows["W5-copy"] and "<= 1.15x `cp big.bin` (1.25x)" in rows["W5-copy"]
    assert "not run (see notes)" in rows["W17"] and "cairn < 10.00 s (met)" in rows["W17"]


def test_the_peers_block_is_filled_from_its_own_run_and_leaves_the_main_table(readme, tmp_path, monkeypatch) -> None:
    import json

    run = tmp_path / "peers-run"
    run.mkdir()
    results = {
        "header": {
            "mode": "full",
            "runs": 3,
            "tools": ["cairn", "oxen"],
            "date": "2026-12-07 01:00 UTC",
            "checkout": "def5678",
            "sizes": "20,000 small files",
            "load_end": "0.2",
            "machine": {"loadavg": "0.1", "cores": 2},
        },
        "workloads": [
            {
                "id": "W4",
                "title": "checkout into an empty folder",
                "ratio_dvc_over_cairn": None,
                "sides": {"cairn": _side(2.0), "oxen": _side(5.0)},
            },
            {
                "id": "W6",
                "title": "push to a local folder remote",
                "ratio_dvc_over_cairn": None,
                "sides": {"cairn": _side(1.0), "oxen": {"status": "not run", "message": "no server at /some/path"}},
            },
        ],
    }
    (run / "results.json").write_text(json.dumps(results))
    page = tmp_path / "README.md"
    main_table = "<!-- bench:start -->\nthe main table\n<!-- bench:end -->\n"
    page.write_text(f"intro\n{main_table}<!-- bench-peers:start -->\nold\n<!-- bench-peers:end -->\nafter\n")
    monkeypatch.setattr(readme, "README", page)
    assert readme.main([str(run), "--block", "peers"]) == 0
    text = page.read_text()
    assert main_table in text and "\nold\n" not in text and text.endswith("after\n")
    assert "at commit def5678" in text and "| W4 | checkout into an empty folder | 2.00 s |" in text
    assert "2.50x (5.00 s; >= 3x) |" in text
    assert "| cannot (see bench/RESULTS.md) |" in text and "/some/path" not in text
    # DVC did not run: no DVC columns (not a column of "not run")
    assert "| ID | Workload | cairn | oxen/cairn |" in text and "DVC" not in text
    page.write_text("no blocks here\n")
    assert readme.main([str(run), "--block", "peers"]) == 2


def test_the_s1_block_is_the_growth_table_of_its_run(readme) -> None:
    results = {
        "header": {
            "date": "2026-12-07 02:00 UTC",
            "checkout": "abc0001",
            "sizes": "20,000 small files; S1 20,000 files",
            "tools": ["cairn"],
            "load_end": "0.3",
            "machine": {"loadavg": "0.2", "cores": 2},
        },
        "workloads": [{"id": "S1-add@20k"}, {"id": "S1-add@1m"}, {"id": "S1-status@20k"}],
    }
    page = (
        "# x\n\n## Growth with the number of files (S1, cairn)\n\nintro\n\n"
        "| step | a |\n|---|---|\n| add | 1 s |\n\n## Next\nother\n"
    )
    lines = readme.s1_block(results, page)
    assert (
        "`python bench/run.py --only S1 --tools cairn --s1 20k,1m`" in lines[0]
        and "at commit abc0001 (S1: 20,000 files)" in lines[0]
    )
    assert lines[2:] == ["intro", "", "| step | a |", "|---|---|", "| add | 1 s |"]
    with pytest.raises(ValueError, match="no S1 growth table"):
        readme.s1_block(results, "# a run without S1\n")
