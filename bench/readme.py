"""Write the README's benchmark table from ONE run: `python bench/readme.py [RUN_DIR]`.

`--block peers` fills the peers' table (its own run) instead of the main one.
RUN_DIR is the --out folder of a `bench/run.py` run (default: bench/); its results.json gives
every row, and the caption names that run's command, commit, date and load, so the table can be
reproduced as it stands and no row comes from another run. The block between the
`<!-- bench:start -->` and `<!-- bench:end -->` lines of README.md is replaced. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
README = BENCH_DIR.parent / "README.md"
# a block per table: "main" (cairn and DVC) and "peers" (W1-W4, W6, W43 with Oxen and git-lfs),
# each filled from its own run
MARKERS = {
    name: (f"<!-- {tag}:start -->", f"<!-- {tag}:end -->")
    for name, tag in (("main", "bench"), ("peers", "bench-peers"), ("s1", "bench-s1"))
}
BASE_SIDES = ("cairn", "dvc", "floor")
sys.path.insert(0, str(BENCH_DIR))
from peers import TARGETS as PEER_TARGETS  # noqa: E402  (bench/ is not a package)

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


def _peer_cell(side: dict | None) -> str:
    """A peer without a time: its status only (why is in the run's RESULTS.md; a message can be
    long and name the machine's paths)."""
    if side is None:
        return "—"
    return {"not run": "cannot (see bench/RESULTS.md)", "error": "failed (see bench/RESULTS.md)"}.get(
        side.get("status", ""), side.get("status") or "—"
    )


def command(header: dict, workloads: list[dict]) -> str:
    """The bench/run.py command line that makes the same run."""
    scale = {"quick": " --quick", "smoke": " --smoke", "full": ""}[header["mode"]]
    ids = ",".join(w["id"] for w in workloads)
    return f"python bench/run.py{scale} --runs {header['runs']} --tools {','.join(header['tools'])} --only {ids}"


def block(results: dict, floors: dict[str, tuple[float, str]], limits: dict[str, float]) -> list[str]:
    header, workloads = results["header"], results["workloads"]
    peers = [p for p in dict.fromkeys(s for w in workloads for s in w["sides"]) if p not in BASE_SIDES]
    # a run without DVC (the peers' own run) has no DVC columns rather than columns of "not run"
    dvc = "dvc" in header["tools"]
    load = header["machine"]["loadavg"]
    lines = [
        f"One run, {header['date']}, at commit {header['checkout']}, {header['mode']} scale "
        f"({header['sizes']}), medians of {header['runs']} runs; load average {load} at the start and "
        f"{header.get('load_end', '?')} at the end, on {header['machine']['cores']} cores. Made with",
        f"`{command(header, workloads)}`, then `python bench/readme.py{'' if dvc else ' --block peers'}`;"
        " that run's RESULTS.md (min/max,",
        "peak RSS, notes) is in `bench/RESULTS.md`. Ratios: the other tool's median / cairn's (> 1: cairn is faster).",
        "",
        "| ID | Workload | cairn |"
        + (" DVC | DVC/cairn | target |" if dvc else "")
        + "".join(f" {p}/cairn |" for p in peers),
        "|---|---|---|" + ("---|---|---|" if dvc else "") + "---|" * len(peers),
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
        row = f"| {wid} | {w['title']} | {cairn_cell} |"
        if dvc:
            row += f" {_cell(sides.get('dvc'))} | {f'{ratio:.2f}x' if ratio else '—'} | {target} |"
        for p in peers:
            theirs = _median(sides[p]) if p in sides else None
            cell = f"{theirs / cairn:.2f}x" if theirs and cairn else _peer_cell(sides.get(p))
            if theirs and cairn and wid in PEER_TARGETS:
                cell += f" ({_time(theirs)}; >= {PEER_TARGETS[wid]:g}x)"
            row += f" {cell} |"
        lines.append(row)
    return lines


def s1_block(results: dict, report_md: str) -> list[str]:
    """S1's growth table as that run's RESULTS.md printed it, under the run's caption."""
    header, workloads = results["header"], results["workloads"]
    _, found, rest = report_md.partition("## Growth with the number of files")
    if not found:
        raise ValueError("the run's RESULTS.md has no S1 growth table (run with --only S1)")
    body = rest.split("\n## ", 1)[0].strip().splitlines()[1:]  # the section, without its title line
    while body and not body[0].strip():
        body.pop(0)
    load = header["machine"]["loadavg"]
    sizes = ",".join(dict.fromkeys(w["id"].partition("@")[2] for w in workloads if "@" in w["id"]))
    s1 = f" --s1 {sizes}" if sizes else ""
    scale = header["sizes"].partition("S1 ")[2] or header["sizes"]
    return [
        f"One run, {header['date']}, at commit {header['checkout']} (S1: {scale}); load average {load} at "
        f"the start and {header.get('load_end', '?')} at the end, on {header['machine']['cores']} cores. Made with "
        f"`python bench/run.py --only S1 --tools {','.join(header['tools'])}{s1}`, then "
        "`python bench/readme.py --block s1`; the run's RESULTS.md is in bench/RESULTS.md.",
        "",
        *body,
    ]


def _targets(mode: str) -> tuple[dict[str, tuple[float, str]], dict[str, float]]:
    """The floors (limit, the floor's name) and absolute limits (s) of the catalog's workloads,
    the latter only at the scales they are judged at."""
    import catalog

    floors = {
        w.id: (w.floor_target, (w.floor_name or "floor").split(" (")[0]) for w in catalog.WORKLOADS if w.floor_target
    }
    limits = {w.id: w.target.limit_s for w in catalog.WORKLOADS if w.target and w.target.judged_at(mode)}
    return floors, limits


def main(argv: list[str]) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("run_dir", nargs="?", type=Path, default=BENCH_DIR, help="a bench/run.py --out folder")
    args.add_argument("--block", choices=sorted(MARKERS), default="main", help="which README table to replace")
    opts = args.parse_args(argv)
    run_dir = opts.run_dir
    start, end = MARKERS[opts.block]
    results = json.loads((run_dir / "results.json").read_text())
    text = README.read_text()
    if start not in text or end not in text:
        print(f"{README} has no {start} ... {end} block", file=sys.stderr)
        return 2
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    if opts.block == "s1":
        rows = s1_block(results, (run_dir / "RESULTS.md").read_text())
    else:
        rows = block(results, *_targets(results["header"]["mode"]))
    README.write_text(head + start + "\n" + "\n".join(rows) + "\n" + end + tail)
    print(f"wrote the table of {run_dir / 'results.json'} into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
