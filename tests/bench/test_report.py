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


def _result(bench: dict[str, ModuleType], wid: Any, cairn_s: list[float], dvc: str | list[float]) -> Any:
    """A WorkloadResult of workload WID (an id of the catalog, or a Workload): cairn's wall times
    (its CPU time half of each), and DVC's or why DVC did not run."""
    runner, catalog = bench["runner"], bench["catalog"]
    from measure import Sample

    def side(name: str, walls: str | list[float]) -> Any:
        if isinstance(walls, str):
            return runner.Side(name, status=runner.NOT_RUN, message=walls)
        return runner.Side(name, samples=[Sample(w, 30_000, w / 2, 0) for w in walls])

    (w,) = [w for w in catalog.WORKLOADS if w.id == wid] if isinstance(wid, str) else [wid]
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

    def diff_at(size: str) -> Any:
        (w,) = [w for w in scale_workloads.build(size) if w.id == "S1-diff"]
        return _result(bench, w, [0.2, 0.3, 0.4], "not run (--tools cairn)")

    # `--s1 200k` at full scale: the target's size is 1M
    assert report.target_verdict(diff_at("200k"), "full") is None
    assert "not judged at full scale" in report.target_lines([diff_at("200k")], "full")[0]
    assert report.target_verdict(diff_at("1m"), "full") is True
    assert report.target_verdict(diff_at("1m"), "quick") is None


def test_growth_table_compares_each_step_across_sizes(bench: dict[str, ModuleType]) -> None:
    report = bench["report"]
    import scale_workloads

    chosen = scale_workloads.at_sizes(list(scale_workloads.WORKLOADS), ["200k", "1m"])
    assert [w.id for w in chosen[:2]] == ["S1-add@200k", "S1-status@200k"]
    steps = len(chosen) // 2  # the sequence at 200k, then at 1m
    assert chosen[1].after == "S1-add@200k" and chosen[steps + 1].after == "S1-add@1m"
    add_small, add_big = chosen[0], chosen[steps]
    status_small, status_big = chosen[1], chosen[steps + 1]
    results = [
        _result(bench, add_small, [10.0], "not run (--tools cairn)"),
        _result(bench, status_small, [1.0], "not run (--tools cairn)"),
        _result(bench, add_big, [50.0], "not run (--tools cairn)"),  # 5x the files, 5x the time
        _result(bench, status_big, [7.0], "not run (--tools cairn)"),  # 1.4x linear
    ]
    text = "\n".join(report.growth_table(results))
    assert "| 200,000 files: wall / CPU / peak RSS | 1,000,000 files: wall / CPU / peak RSS |" in text
    assert "| add (< 60.00 s) | 10.00 s / 5.00 s / 29 MiB | 50.00 s / 25.00 s / 29 MiB | 1.00x, 1.00x |" in text
    assert "| status, nothing changed (< 3.00 s) |" in text and "| 1.40x, 1.40x |" in text
    assert "target within 1.2x of linear (wall): MISSED (status, nothing changed 1.40x)" in text
    assert report.growth_table([_result(bench, "W1", [1.0], [2.0])]) == []


def _header(report: ModuleType, **fields: Any) -> Any:
    """A run's header: 3 runs at full scale, with `fields` (warmup, versions, tools) as given."""
    return report.Header(
        mode="full",
        runs=3,
        date="today",
        machine=report.describe_machine(BENCH),
        checkout="x",
        elapsed_s=1.0,
        sizes="",
        load_end="",
        **fields,
    )


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
    header = _header(report, warmup=False, versions={"cairn": "0", "dvc": "not run (--tools cairn)"}, tools=["cairn"])
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


def test_the_header_names_the_workloads_that_run_fewer_times(bench: dict[str, ModuleType]) -> None:
    """S1's steps run once without a warm-up: the caption must not claim the run count of the rest."""
    import dataclasses

    report = bench["report"]
    w1 = _result(bench, "W1", [2.0, 2.1, 2.2], [9.0, 9.1, 9.2])
    once = dataclasses.replace(_result(bench, "W2", [1.0], [5.0]), runs=1, warmup=False)
    header = _header(report, warmup=True, versions={"cairn": "0", "dvc": "3"}, tools=["cairn", "dvc"])
    text = report.markdown(header, [w1, once], "")
    assert "3 timed run(s) per tool per workload, after one warm-up run each (W2: 1 run(s), no warm-up);" in text
    assert "(W" not in report.markdown(header, [w1], "").split("\n")[2]
