"""The bench report's verdicts and "not run" wording, on made-up samples (fast; no venvs, no tools)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    monkeypatch.syspath_prepend(str(BENCH))
    # bench/ and tests/ both have an s3server module: the suite's may be imported already
    for name in [n for n in sys.modules if (BENCH / f"{n}.py").exists()]:
        monkeypatch.delitem(sys.modules, name)
    import catalog
    import report
    import runner

    return {"catalog": catalog, "report": report, "runner": runner}


def _result(bench: dict[str, ModuleType], wid: str, cairn_s: list[float], dvc: str | list[float]) -> Any:
    """A WorkloadResult of workload WID: cairn's wall times, and DVC's or why DVC did not run."""
    runner, catalog = bench["runner"], bench["catalog"]
    from measure import Sample

    def side(name: str, walls: str | list[float]) -> Any:
        if isinstance(walls, str):
            return runner.Side(name, status=runner.NOT_RUN, message=walls)
        return runner.Side(name, samples=[Sample(w, 30_000, w, 0) for w in walls])

    (w,) = [w for w in catalog.WORKLOADS if w.id == wid]
    return runner.WorkloadResult(w, {"cairn": side("cairn", cairn_s), "dvc": side("dvc", dvc)}, 3, True)


def test_targets_are_judged_on_the_median_at_full_size_only(bench: dict[str, ModuleType]) -> None:
    report = bench["report"]
    met = _result(bench, "W15", [1.2, 1.4, 2.0], [4.5])
    missed = _result(bench, "W16", [0.9, 1.1, 1.2], "not run (--tools cairn)")
    lines = report.target_lines([met, missed], "quick")
    assert lines[0].startswith("- W15 target, cairn under 1.50 s (") and lines[0].endswith("1.40 s median — met")
    assert lines[1].endswith("1.10 s median — MISSED")
    assert report.target_verdict(met, "quick") is True and report.target_verdict(missed, "full") is False
    assert "not judged at smoke scale" in report.target_lines([met], "smoke")[0]
    assert report.target_verdict(met, "smoke") is None


def test_million_file_targets_are_judged_only_with_the_million_files(bench: dict[str, ModuleType]) -> None:
    report = bench["report"]
    import scale_workloads

    fast = _result(bench, "S1-diff", [0.2, 0.3, 0.4], "not run (--tools cairn)")
    try:
        scale_workloads.choose("200k")  # `--s1 200k` at full scale: the target's size is 1M
        assert report.target_verdict(fast, "full") is None
        assert "not judged at full scale" in report.target_lines([fast], "full")[0]
        scale_workloads.choose(None)  # full scale's default: the million files
        assert report.target_verdict(fast, "full") is True
    finally:
        scale_workloads.choose(None)


def test_a_tool_left_out_is_said_so_everywhere(bench: dict[str, ModuleType]) -> None:
    report = bench["report"]
    small = _result(bench, "W1", [2.0], "not run (--tools cairn)")
    huge = _result(bench, "W14", [21.0], "not run (--tools cairn)")
    rows = report.table([small, huge])
    assert "| not run (--tools cairn) | — |" in rows[2]
    scaling = "\n".join(report.extra_lines([small, huge], "full"))
    assert "cairn 10.5x, dvc not run — target for cairn <= 12x: met" in scaling
    slow = _result(bench, "W14", [26.0], "not run (--tools cairn)")
    scaling = "\n".join(report.extra_lines([small, slow], "full"))
    assert "cairn 13.0x, dvc not run — target for cairn <= 12x: MISSED" in scaling
    header = report.Header(
        mode="full",
        runs=3,
        warmup=False,
        date="today",
        machine=report.describe_machine(BENCH),
        versions={"cairn": "0", "dvc": "not run (--tools cairn)"},
        tools=["cairn"],
        checkout="x",
        elapsed_s=1.0,
        sizes="",
        load_end="",
    )
    assert "no DVC numbers were taken" in report.markdown(header, [small, huge], "")


def test_only_selects_the_target_workloads(bench: dict[str, ModuleType]) -> None:
    catalog = bench["catalog"]
    assert [w.id for w in catalog.select("w15,W19", "quick")] == ["W15", "W19"]
    assert all(w.target for w in catalog.select("W15,W16,W17,W18,W19", "smoke"))
    assert "W14" not in [w.id for w in catalog.select(None, "quick")]


def test_floor_targets_are_judged_on_medians_at_full_scale_only(bench: dict[str, ModuleType]) -> None:
    report, runner = bench["report"], bench["runner"]
    from measure import Sample

    def with_floor(cairn_s: list[float], floor_s: list[float]) -> Any:
        r = _result(bench, "W21", cairn_s, [9.0])
        r.sides[runner.FLOOR] = runner.Side(runner.FLOOR, samples=[Sample(w, 30_000, w, 0) for w in floor_s])
        return r

    near = "\n".join(report.extra_lines([with_floor([1.1, 1.2, 5.0], [1.0, 1.0, 1.0])], "full"))
    assert "cairn 1.2x the floor" in near and "target cairn <= 1.25x the floor: met" in near
    far = "\n".join(report.extra_lines([with_floor([1.3, 1.3, 1.3], [1.0, 1.0, 1.0])], "full"))
    assert "target cairn <= 1.25x the floor: MISSED" in far
    for scale in ("quick", "smoke"):  # the targets are stated for the 2 GiB file
        small = "\n".join(report.extra_lines([with_floor([1.3], [0.01])], scale))
        assert f"target not judged at {scale} scale" in small and "MISSED" not in small and "met" not in small
