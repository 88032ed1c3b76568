"""Write the README's benchmark table from ONE run: `python bench/readme.py [RUN_DIR]`.

RUN_DIR is the --out folder of a `bench/run.py` run (default: bench/); its results.json gives
every row, and the caption names that run's command, commit, date and load, so the table can be
reproduced as it stands and no row comes from another run. The block between the
`<!-- bench:start -->` and `<!-- bench:end -->` lines of README.md is replaced. Standard library only.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
README = BENCH_DIR.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
BASE_SIDES = ("cairn", "dvc", "floor")

# The issues' targets as DVC median / cairn median (issues 1-3, 6, 22); floors and absolute
# targets come with the workloads themselves (catalog.py).
DVC_RATIO_TARGETS = {
    "W1": 5, "W2": 6, "W3": 8, "W4": 4, "W5-hardlink": 5, "W6": 5, "W7": 10, "W8": 10, "W9": 10,
    "W10": 4, "W11": 8, "W12": 5, "W13": 5, "W20": 5,
}  # fmt: skip


def _median(side: dict) -> float | None:
    samples = side.get("samples") or []
    return statistics.median(s["wall_s"] for s in samples) if side.get("status") == "ok" and samples else None


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _cell(side: dict | None) -> str:
    if side is None:
        return "not run"
    got = _median(side)
    return _time(got) if got is not None else (side.get("message") or side.get("status") or "—")


def command(header: dict, workloads: list[dict]) -> str:
    """The bench/run.py command line that makes the same run."""
    scale = {"quick": " --quick", "smoke": " --smoke", "full": ""}[header["mode"]]
    ids = ",".join(w["id"] for w in workloads)
    return f"python bench/run.py{scale} --runs {header['runs']} --tools {','.join(header['tools'])} --only {ids}"


def block(results: dict, floors: dict[str, tuple[float, str]], limits: dict[str, float]) -> list[str]:
    header, workloads = results["header"], results["workloads"]
    peers = [p for p in dict.fromkeys(s for w in workloads for s in w["sides"]) if p not in BASE_SIDES]
    load = header["machine"]["loadavg"]
    lines = [
        f"One run, {header['date']}, at commit {header['checkout']}, {header['mode']} scale "
        f"({header['sizes']}), medians of {header['runs']} runs; load average {load} at the start and "
        f"{header.get('load_end', '?')} at the end, on {header['machine']['cores']} cores. Made with",
        f"`{command(header, workloads)}`, then `python bench/readme.py`; that run's RESULTS.md (min/max,",
        "peak RSS, notes) is in `bench/RESULTS.md`. Ratios: the other tool's median / cairn's (> 1: cairn is faster).",
        "",
        "| ID | Workload | cairn | DVC | DVC/cairn | target |" + "".join(f" {p}/cairn |" for p in peers),
        "|---|---|---|---|---|---|" + "---|" * len(peers),
    ]
    for w in workloads:
        sides, wid = w["sides"], w["id"]
        cairn = _median(sides["cairn"])
        cairn_cell = _cell(sides["cairn"])
        target = f">= {DVC_RATIO_TARGETS[wid]}x" if wid in DVC_RATIO_TARGETS else ""
        if wid in limits:
            met = cairn is not None and cairn < limits[wid]
            target = f"cairn < {_time(limits[wid])} ({'met' if met else 'missed'})"
        if "floor" in sides and wid in floors:
            limit, name = floors[wid]
            floor = _median(sides["floor"])
            cairn_cell += f" ({name}: {_time(floor)})"
            share = f"{cairn / floor:.2f}x" if cairn and floor else "—"
            target = f"<= {limit}x {name} ({share})"
        ratio = w.get("ratio_dvc_over_cairn")
        row = f"| {wid} | {w['title']} | {cairn_cell} | {_cell(sides.get('dvc'))} | "
        row += f"{f'{ratio:.2f}x' if ratio else '—'} | {target} |"
        for p in peers:
            theirs = _median(sides[p]) if p in sides else None
            row += f" {f'{theirs / cairn:.2f}x' if theirs and cairn else _cell(sides.get(p)) if p in sides else '—'} |"
        lines.append(row)
    return lines


def _targets(mode: str) -> tuple[dict[str, tuple[float, str]], dict[str, float]]:
    """The floors (limit, the floor's name) and absolute limits (s) of the catalog's workloads,
    the latter only at the scales they are judged at."""
    sys.path.insert(0, str(BENCH_DIR))
    import catalog

    floors = {
        w.id: (w.floor_target, (w.floor_name or "floor").split(" (")[0]) for w in catalog.WORKLOADS if w.floor_target
    }
    limits = {w.id: w.target.limit_s for w in catalog.WORKLOADS if w.target and w.target.judged_at(mode)}
    return floors, limits


def main(argv: list[str]) -> int:
    run_dir = Path(argv[0]) if argv else BENCH_DIR
    results = json.loads((run_dir / "results.json").read_text())
    text = README.read_text()
    if START not in text or END not in text:
        print(f"{README} has no {START} ... {END} block", file=sys.stderr)
        return 2
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    rows = block(results, *_targets(results["header"]["mode"]))
    README.write_text(head + START + "\n" + "\n".join(rows) + "\n" + END + tail)
    print(f"wrote the table of {run_dir / 'results.json'} into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
