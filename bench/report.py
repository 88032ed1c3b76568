"""Statistics, the results table, bench RESULTS.md and results.json. Standard library only."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from measure import Sample
from peers import PEERS, TARGETS
from runner import ERROR, FLOOR, NOT_RUN, OK, TOOLS, Side, WorkloadResult

DASH = "—"
SCALING_TARGET = 12.0  # time(W14) / time(W1): 200,000 files in at most 12x the time of 20,000
GROWTH_TARGET = 1.2  # S1: time(1M) / time(200k) at most 1.2x linear (issue 22)
GROWTH_JUDGED = (200_000, 1_000_000)


@dataclass(frozen=True)
class Machine:
    cores: int
    cpu: str
    memory: str
    work_fs: str
    kernel: str
    python: str
    loadavg: str

    def lines(self) -> list[str]:
        return [
            f"- CPU: {self.cores} cores ({self.cpu})",
            f"- Memory: {self.memory}",
            f"- File system of the work dir: {self.work_fs}",
            f"- Kernel: {self.kernel}",
            f"- Python (all bench venvs): {self.python}",
            f"- Load average at start (1/5/15 min): {self.loadavg}",
        ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def fs_type(path: Path) -> str:
    """The type of the mount holding PATH (longest mount-point prefix in /proc/mounts)."""
    real = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount = parts[1].replace("\\040", " ")
            inside = real == mount or real.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, parts[2]
    except OSError:
        pass
    return f"{kind} (mounted at {best or '?'}; {path})"


def loadavg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def describe_machine(work: Path) -> Machine:
    load = loadavg()
    return Machine(
        cores=os.cpu_count() or 0,
        cpu=_cpu_model(),
        memory=_memory(),
        work_fs=fs_type(work),
        kernel=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        loadavg=load,
    )


def checkout_id(root: Path) -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "no commit yet"
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "src", "pyproject.toml") else ""
    return head + dirty


# -- numbers ----------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def median(samples: list[Sample]) -> float:
    return statistics.median(s.wall_s for s in samples)


def time_cell(side: Side) -> str:
    if side.status == OK and side.samples:
        walls = [s.wall_s for s in side.samples]
        return f"{fmt_time(median(side.samples))} ({fmt_time(min(walls))} - {fmt_time(max(walls))})"
    if side.status == ERROR:
        return "error (see notes)"
    return side.message if side.status != OK else "no samples"


def rss_cell(side: Side) -> str:
    if side.status == OK and side.samples:
        return f"{max(s.maxrss_kib for s in side.samples) / 1024:.0f} MiB"
    return DASH


def ratio(result: WorkloadResult) -> float | None:
    cairn, dvc = result.sides["cairn"], result.sides["dvc"]
    if cairn.status == OK and dvc.status == OK and cairn.samples and dvc.samples:
        return median(dvc.samples) / median(cairn.samples)
    return None


def table(results: list[WorkloadResult]) -> list[str]:
    rows = [
        "| ID | Workload | cairn median (min - max) | DVC median (min - max) | DVC/cairn "
        "| cairn peak RSS | DVC peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c, d = r.sides["cairn"], r.sides["dvc"]
        q = ratio(r)
        rows.append(
            f"| {r.workload.id} | {r.workload.title} | {time_cell(c)} | {time_cell(d)} | "
            f"{f'{q:.2f}x' if q is not None else DASH} | {rss_cell(c)} | {rss_cell(d)} |"
        )
    return rows


def target_verdict(r: WorkloadResult, scale: str) -> bool | None:
    """Whether cairn's median meets the workload's absolute target; None: not judged."""
    t, cairn = r.workload.target, r.sides["cairn"]
    if t is None or not t.judged_at(scale) or cairn.status != OK or not cairn.samples:
        return None
    return median(cairn.samples) < t.limit_s


def target_lines(results: list[WorkloadResult], scale: str) -> list[str]:
    """One line per workload with an absolute target: the target, cairn's median, met or MISSED."""
    lines = []
    for r in results:
        t, cairn = r.workload.target, r.sides["cairn"]
        if t is None:
            continue
        head = f"- {r.workload.id} target, cairn under {fmt_time(t.limit_s)} ({t.what}): "
        met = target_verdict(r, scale)
        if met is not None:
            lines.append(head + f"{fmt_time(median(cairn.samples))} median — " + ("met" if met else "MISSED"))
        elif cairn.status != OK or not cairn.samples:
            lines.append(head + f"no cairn numbers ({time_cell(cairn)})")
        else:
            lines.append(head + f"not judged at {scale} scale (smaller than the target's size)")
    return lines


def extra_lines(results: list[WorkloadResult], scale: str) -> list[str]:
    """Floors, the scaling ratio, and per-workload notes and failures."""
    lines: list[str] = []
    by_id = {r.workload.id: r for r in results}
    for r in results:
        floor = r.sides.get(FLOOR)
        if floor is None:
            continue
        if floor.status == OK and floor.samples:
            f = median(floor.samples)
            rel = [
                f"{name} {median(r.sides[name].samples) / f:.1f}x the floor"
                for name in ("cairn", "dvc")
                if r.sides[name].status == OK and r.sides[name].samples
            ]
            verdict = ""
            limit = r.workload.floor_target
            cairn = r.sides.get("cairn")
            if limit is not None and scale != "full":
                # stated for the 2 GiB file: at a tenth of it the interpreter's start-up dominates
                verdict = f" — target not judged at {scale} scale (it is stated for the full-size file)"
            elif limit is not None and cairn is not None and cairn.status == OK and cairn.samples:
                met = median(cairn.samples) / f <= limit
                verdict = f" — target cairn <= {limit:.2f}x the floor: " + ("met" if met else "MISSED")
            lines.append(
                f"- {r.workload.id} floor, {r.workload.floor_name}: {time_cell(floor)}"
                + (f"; {', '.join(rel)}" if rel else "")
                + verdict
            )
        else:
            lines.append(f"- {r.workload.id} floor, {r.workload.floor_name}: {floor.message}")
    if "W14" in by_id:
        parts, verdict = [], ""
        for name in TOOLS:
            big, small = by_id["W14"].sides[name], by_id.get("W1")
            if small and big.status == OK and big.samples and small.sides[name].status == OK:
                scaling = median(big.samples) / median(small.sides[name].samples)
                parts.append(f"{name} {scaling:.1f}x")
                if name == "cairn":
                    verdict = f" — target for cairn <= {SCALING_TARGET:.0f}x: " + (
                        "met" if scaling <= SCALING_TARGET else "MISSED"
                    )
            elif big.status == NOT_RUN:
                parts.append(f"{name} not run")
            else:
                parts.append(f"{name} n/a")
        lines.append(
            f"- Scaling, time(W14, 10x the files) / time(W1) (10 would be linear): {', '.join(parts)}{verdict}"
        )
    for r in results:
        notes = [r.workload.notes] if r.workload.notes else []
        notes += [f"{s.name}: {s.message}" for s in r.sides.values() if s.status == ERROR]
        if notes:
            lines.append(f"- {r.workload.id}: " + " ".join(notes))
    return lines


def _growth_cell(side: Side) -> str:
    if side.status == OK and side.samples:
        s = side.samples[0]
        return f"{fmt_time(s.wall_s)} / {fmt_time(s.cpu_s)} / {s.maxrss_kib / 1024:,.0f} MiB"
    return time_cell(side)


def _growth(small: Side | None, big: Side | None, factor: float) -> tuple[float, float] | None:
    """(wall, CPU) of BIG over SMALL, each as a multiple of linear growth (FACTOR)."""
    if not (small and big and small.status == OK == big.status and small.samples and big.samples):
        return None
    a, b = small.samples[0], big.samples[0]
    if a.wall_s <= 0 or a.cpu_s <= 0:
        return None
    return b.wall_s / a.wall_s / factor, b.cpu_s / a.cpu_s / factor


def growth_table(results: list[WorkloadResult]) -> list[str]:
    """S1's steps at each size run (cairn, one run each): wall / CPU / peak RSS, and how each
    grows from one size to the next as a multiple of linear (1.00x: time in proportion to the
    files). [] when no workload has a growth row."""
    steps: dict[str, dict[int, WorkloadResult]] = {}
    for r in results:
        if r.workload.growth:
            name, files = r.workload.growth
            steps.setdefault(name, {})[files] = r
    if not steps:
        return []
    sizes = sorted({n for by_size in steps.values() for n in by_size})
    pairs = list(pairwise(sizes))
    rows = [
        "| step (target at 1M) | "
        + " | ".join(f"{n:,} files: wall / CPU / peak RSS" for n in sizes)
        + "".join(f" | {a:,} -> {b:,}: wall, CPU vs linear ({b / a:g}x)" for a, b in pairs)
        + " |",
        "|---|" + "---|" * (len(sizes) + len(pairs)),
    ]
    over: list[str] = []
    judged = False
    for name, by_size in steps.items():
        target = next((r.workload.target for r in by_size.values() if r.workload.target), None)
        label = name + (f" (< {fmt_time(target.limit_s)})" if target else "")
        cells = [_growth_cell(by_size[n].sides["cairn"]) if n in by_size else DASH for n in sizes]
        for a, b in pairs:
            g = _growth(
                by_size[a].sides["cairn"] if a in by_size else None,
                by_size[b].sides["cairn"] if b in by_size else None,
                b / a,
            )
            cells.append(DASH if g is None else f"{g[0]:.2f}x, {g[1]:.2f}x")
            if g is not None and (a, b) == GROWTH_JUDGED:
                judged = True
                if g[0] > GROWTH_TARGET:
                    over.append(f"{name} {g[0]:.2f}x")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    lines = [
        "## Growth with the number of files (S1, cairn)",
        "",
        "One run per step and size, the steps in sequence on one repo per size (bench/scale_workloads.py). "
        "A growth of 1.00x is linear (time in proportion to the files); CPU is user + sys of the "
        "command's tree, steadier than wall time on a loaded machine.",
        "",
        *rows,
        "",
    ]
    if judged:
        a, b = GROWTH_JUDGED
        lines.append(
            f"- Growth {a:,} -> {b:,} files, target within {GROWTH_TARGET:.1f}x of linear (wall): "
            + ("met" if not over else f"MISSED ({', '.join(over)})")
        )
        lines.append("")
    return lines


def peer_ratio(result: WorkloadResult, peer: str) -> float | None:
    """median(peer) / median(cairn): > 1 means cairn is faster."""
    cairn, other = result.sides["cairn"], result.sides.get(peer)
    if other and cairn.status == OK and other.status == OK and cairn.samples and other.samples:
        return median(other.samples) / median(cairn.samples)
    return None


PEER_TITLES = {"oxen": "Oxen", "git-lfs": "git-lfs"}


def peer_section(results: list[WorkloadResult], scale: str) -> list[str]:
    """The peers' table (time, and ratio to cairn, per peer) and a verdict per target; [] without peers."""
    shown = [r for r in results if any(p in r.sides for p in PEERS)]
    names = [p for p in PEERS if any(p in r.sides for r in shown)]
    if not names:
        return []
    heads = "".join(f" {PEER_TITLES[p]} median (min - max) | {PEER_TITLES[p]}/cairn |" for p in names)
    rows = [
        f"| ID | Workload | cairn median (min - max) |{heads} target |",
        "|---|---|---|" + "---|---|" * len(names) + "---|",
    ]
    verdicts = []
    for r in shown:
        cells = ""
        limit = TARGETS.get(r.workload.id)
        for p in names:
            side, q = r.sides.get(p), peer_ratio(r, p)
            cells += f" {time_cell(side) if side else DASH} | {f'{q:.2f}x' if q is not None else DASH} |"
            if limit is None or side is None:
                continue
            head = f"- {r.workload.id} vs {PEER_TITLES[p]}, target >= {limit:.0f}x: "
            if q is None:
                why = side.message if side.status != OK else f"cairn: {time_cell(r.sides['cairn'])}"
                verdicts.append(head + f"no ratio ({why})")
            elif scale != "full":
                verdicts.append(head + f"{q:.2f}x, not judged at {scale} scale (stated for 20,000 files)")
            else:
                verdicts.append(head + f"{q:.2f}x — " + ("met" if q >= limit else "MISSED"))
        target = f">= {limit:.0f}x" if limit else DASH
        rows.append(f"| {r.workload.id} | {r.workload.title} | {time_cell(r.sides['cairn'])} |{cells} {target} |")
    return [
        "## Peers",
        "",
        "Each peer in its own commands for the same work (bench/peers.py, bench/README.md); "
        "peer/cairn > 1 means cairn is faster.",
        "",
        *rows,
        "",
        *verdicts,
    ]


def help_line(help_samples: dict[str, list[Sample]], problems: dict[str, str]) -> str:
    parts = []
    for name in ("cairn", "dvc", *(p for p in PEERS if p in help_samples or p in problems)):
        samples = help_samples.get(name) or []
        if samples:
            walls = [s.wall_s for s in samples]
            parts.append(
                f"`{name} --help` {fmt_time(median(samples))} median "
                f"({fmt_time(min(walls))} - {fmt_time(max(walls))}, {len(walls)} runs)"
            )
        else:
            parts.append(f"`{name} --help`: {problems.get(name, 'not measured')}")
    cairn = help_samples.get("cairn") or []
    verdict = ""
    if cairn:
        verdict = " — target < 100 ms: " + ("met" if median(cairn) < 0.1 else "MISSED")
    return "Start-up: " + "; ".join(parts) + verdict


# -- output -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    mode: str
    runs: int
    warmup: bool
    date: str
    machine: Machine
    versions: dict[str, str]
    tools: list[str]
    checkout: str
    elapsed_s: float
    sizes: str
    load_end: str


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def tools_line(header: Header) -> list[str]:
    """Says loudly which tools were left out (`--tools`), so no missing column passes for a result."""
    left_out = [name for name in TOOLS if name not in header.tools]
    if not left_out:
        return []
    names = " and ".join("DVC" if n == "dvc" else n for n in left_out)
    return [
        f"**Only {', '.join(header.tools)} ran (`--tools {','.join(header.tools)}`): no {names} numbers "
        "were taken in this run, so there are no ratios.**",
        "",
    ]


def _fewer_runs(h: Header, results: list[WorkloadResult]) -> str:
    """The workloads that run fewer times than the header says (S1: each step once, no warm-up)."""
    fewer = [r for r in results if r.runs < h.runs or (h.warmup and not r.warmup)]
    if not fewer:
        return ""
    how = {(r.runs, r.warmup) for r in fewer}
    if len(how) == 1:
        runs, warm = how.pop()
        what = f"{runs} run(s), {'after a warm-up' if warm else 'no warm-up'}"
        return f" ({', '.join(r.workload.id for r in fewer)}: {what})"
    return " (" + "; ".join(f"{r.workload.id}: {r.runs} run(s)" for r in fewer) + ")"


def markdown(header: Header, results: list[WorkloadResult], help_text: str) -> str:
    h = header
    out = [
        "# cairn vs DVC benchmark results",
        "",
        f"Generated by `python bench/run.py` ({h.mode} scale: {h.sizes}) on {h.date}; "
        f"{h.runs} timed run(s) per tool per workload, "
        + ("after one warm-up run each" if h.warmup else "no warm-up")
        + _fewer_runs(h, results)
        + f"; the whole bench took {h.elapsed_s / 60:.1f} min.",
        "",
        *tools_line(h),
        "## Machine",
        "",
        *h.machine.lines(),
        f"- Load average at the end: {h.load_end} (other work on this shared machine adds noise)",
        f"- cairn: {h.versions.get('cairn', '?')} (checkout {h.checkout})",
        f"- DVC: {h.versions.get('dvc', '?')}",
        *(f"- {PEER_TITLES[p]}: {h.versions[p]}" for p in PEERS if p in h.versions),
        "",
        "## Results",
        "",
        "Wall time of the timed command alone; DVC/cairn > 1 means cairn is faster. Peak RSS is the "
        "largest single process of the command's tree (wait4 ru_maxrss), the max over the runs.",
        "",
        *table(results),
        "",
        help_text,
        "",
        *target_lines(results, h.mode),
        *extra_lines(results, h.mode),
        "",
        *growth_table(results),
        *([*lines, ""] if (lines := peer_section(results, h.mode)) else []),
        "## Method",
        "",
        "Both tools get the same data (generated with a fixed seed), the same link type (cache.type "
        "copy, except W5-hardlink), the same kind of remote, and start cold in the same way: every run "
        "is a fresh `git init` repo with a fresh tool init, an empty cache, its own HOME and data copied "
        "in (so the page cache is warm for both alike). Runs alternate cairn, DVC, cairn, DVC, ...; only "
        "the tool command is timed. The machine is shared and noisy: read the ratios, not the absolute "
        "times. See bench/README.md.",
        "",
    ]
    return "\n".join(out)


def write(
    out_dir: Path, header: Header, results: list[WorkloadResult], help_text: str, help_samples: dict[str, list[Sample]]
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "RESULTS.md"
    md.write_text(markdown(header, results, help_text))
    data = {
        "header": asdict(header),
        "help": {k: [asdict(s) for s in v] for k, v in help_samples.items()},
        "workloads": [
            {
                "id": r.workload.id,
                "title": r.workload.title,
                "runs": r.runs,
                "ratio_dvc_over_cairn": ratio(r),
                **{f"ratio_{p}_over_cairn": peer_ratio(r, p) for p in PEERS if p in r.sides},
                "target": None
                if r.workload.target is None
                else {
                    "limit_s": r.workload.target.limit_s,
                    "what": r.workload.target.what,
                    "scales": sorted(r.workload.target.scales),
                    "met": target_verdict(r, header.mode),
                },
                "sides": {
                    name: {"status": s.status, "message": s.message, "samples": [asdict(x) for x in s.samples]}
                    for name, s in r.sides.items()
                },
            }
            for r in results
        ],
    }
    (out_dir / "results.json").write_text(json.dumps(data, indent=2))
    return md
