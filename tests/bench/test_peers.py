"""The peers' adapters (bench/peers.py): the report's peer table and "cannot" cells without any peer,
and the real git-lfs / Oxen sides on tiny data where that peer is already installed (never installs)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
OXEN_BIN = BENCH / ".venvs" / "oxen" / "bin"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    monkeypatch.syspath_prepend(str(BENCH))
    # bench/ and tests/ both have an s3server module: the suite's may be imported already
    for name in [n for n in sys.modules if (BENCH / f"{n}.py").exists()]:
        monkeypatch.delitem(sys.modules, name)
    import catalog
    import datasets
    import peers
    import report
    import runner
    import tools

    return {
        "catalog": catalog,
        "datasets": datasets,
        "peers": peers,
        "report": report,
        "runner": runner,
        "tools": tools,
    }


def _workload(bench: dict[str, ModuleType], wid: str) -> Any:
    (w,) = [w for w in bench["catalog"].WORKLOADS if w.id == wid]
    return w


def _runner(bench: dict[str, ModuleType], tmp_path: Path, tools: dict[str, Any], unavailable: dict[str, Any]) -> Any:
    datasets, runner = bench["datasets"], bench["runner"]
    scale = datasets.SCALES["smoke"]
    data = datasets.prepare(tmp_path / "work", scale, small=True, big=False, chain=False, huge=False)
    return runner.Runner(
        work=tmp_path / "work",
        data=data,
        scale="smoke",
        tools={"cairn": None, "dvc": None, **tools},
        unavailable={"cairn": ("not run", "not run (test)"), "dvc": ("not run", "not run (test)"), **unavailable},
        s3=None,
        runs=1,
        warmup=False,
        timeout_s=120,
    )


def test_peer_cells_say_why_a_peer_has_no_numbers(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    runner = bench["runner"]
    absent = {"oxen": (runner.NOT_INSTALLED, "not installed (no oxen here)"), "git-lfs": (runner.NOT_RUN, "left out")}
    r = _runner(bench, tmp_path, {"oxen": None, "git-lfs": None}, absent)
    w6 = r._sides(_workload(bench, "W6"))
    assert w6["oxen"].status == runner.NOT_RUN and "Oxen has no local remote" in w6["oxen"].message
    assert w6["git-lfs"].message == "left out"
    assert r._sides(_workload(bench, "W1"))["oxen"].message == "not installed (no oxen here)"
    assert not {"oxen", "git-lfs"} & set(r._sides(_workload(bench, "W10")))  # no peer side where peers have none
    plain = _runner(bench, tmp_path, {}, {})  # peers not asked for: no peer sides at all
    assert set(plain._sides(_workload(bench, "W1"))) == {"cairn", "dvc"}


def test_peer_table_gives_each_peer_its_ratio_and_verdict(bench: dict[str, ModuleType]) -> None:
    report, runner = bench["report"], bench["runner"]
    from measure import Sample

    def side(name: str, walls: list[float] | str) -> Any:
        if isinstance(walls, str):
            return runner.Side(name, status=runner.NOT_RUN, message=walls)
        return runner.Side(name, samples=[Sample(w, 30_000, w, 0) for w in walls])

    def result(wid: str, cairn: list[float], oxen: list[float] | str, lfs: list[float]) -> Any:
        sides = {"cairn": side("cairn", cairn), "dvc": side("dvc", "not run"), "oxen": side("oxen", oxen)}
        sides["git-lfs"] = side("git-lfs", lfs)
        return runner.WorkloadResult(_workload(bench, wid), sides, 3, True)

    results = [result("W1", [1.0, 1.0, 3.0], [6.0, 6.0, 6.0], [4.0, 4.0, 4.0]), result("W6", [1.0], "no server", [3.5])]
    text = "\n".join(report.peer_section(results, "full"))
    assert "| W1 | add the small files | 1.00 s (1.00 s - 3.00 s) | 6.00 s (6.00 s - 6.00 s) | 6.00x |" in text
    assert "- W1 vs Oxen, target >= 5x: 6.00x — met" in text
    assert "- W1 vs git-lfs, target >= 5x: 4.00x — MISSED" in text
    assert "- W6 vs Oxen, target >= 3x: no ratio (no server)" in text
    assert "- W6 vs git-lfs, target >= 3x: 3.50x — met" in text
    assert "not judged at quick scale" in "\n".join(report.peer_section(results, "quick"))
    assert report.peer_section([result("W1", [1.0], [2.0], [2.0])][:0], "full") == []


def _peer_tools(bench: dict[str, ModuleType]) -> dict[str, Any]:
    peer_tool = bench["tools"].peer_tool
    found = {}
    if shutil.which("git-lfs"):
        found["git-lfs"] = peer_tool("git-lfs", Path(shutil.which("git-lfs") or "").parent, "?")
    if (OXEN_BIN / "oxen").exists():
        found["oxen"] = peer_tool("oxen", OXEN_BIN, "?")
    return found


@pytest.mark.parametrize("wid", ["W3", "W4", "W43"])  # W3's and W43's setups do W1's and W6's work
def test_installed_peers_do_the_same_work(bench: dict[str, ModuleType], tmp_path: Path, wid: str) -> None:
    found = _peer_tools(bench)
    if not found:
        pytest.skip("neither git-lfs nor the bench's oxen venv is installed (the suite never installs them)")
    r = _runner(bench, tmp_path, found, {})
    result = r.run(_workload(bench, wid))
    for name in found:
        side = result.sides[name]
        if bench["peers"].cannot(name, wid):
            assert side.status == "not run", side
        else:
            assert side.status == "ok" and len(side.samples) == 1, side


def test_the_store_check_sees_a_missing_object(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    if not shutil.which("git-lfs"):
        pytest.skip("git-lfs is not installed")
    peers, workloads = bench["peers"], sys.modules["workloads"]
    r = _runner(bench, tmp_path, _peer_tools(bench), {})
    ctx = workloads.RunCtx(
        tool=_peer_tools(bench)["git-lfs"],
        data=r.data,
        run_dir=tmp_path / "run",
        env=bench["runner"].tool_env(None, tmp_path / "home"),
        log=tmp_path / "log",
        stdout=tmp_path / "out",
    )
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".gitconfig").write_text("[user]\n\tname = t\n\temail = t@example.invalid\n")
    side = peers.side_of("git-lfs", "W1")
    side.setup(ctx)
    assert side.verify(ctx) is not None  # nothing added yet: the store is empty
    ctx.sh(["git", "add", "data"])
    ctx.sh(["git", "commit", "-q", "-m", "data"])
    assert side.verify(ctx) is None
    next(p for p in (ctx.repo / ".git" / "lfs" / "objects").rglob("*") if p.is_file()).unlink()
    assert "1 of the data's missing" in (side.verify(ctx) or "")
