"""W33-W37: data statistics and drift (issue 19), cairn alone.

One table of 1,000,000 rows x 20 columns (10 float columns, three with 2% nulls; 4 integer; 4
categorical of 30 values; a city of 5,000 values; a boolean) in two versions, as Parquet and CSV:
v2 shifts f0 by half a standard deviation, widens f1 by 1.5x, moves i0 and reweights c0; the other
16 columns keep their distribution (other rows). Generated once per scale with polars in the
cairn venv (the `stats` extra), from fixed seeds.

- W33 `data stats` of the Parquet file, first time (target < 1.5 s)
- W34 `data stats` of the CSV file, first time (target < 3 s)
- W35 `data stats` again, from the stored record (target < 100 ms)
- W36 `data diff HEAD~1 HEAD --stats` of two versions whose stats exist (target < 2 s)
- W37 `data diff HEAD~1 HEAD --stats` of the two CSV versions with no stats yet, and Evidently's
  data drift report (DataDriftPreset, its own venv) on the same two CSV files: its time (read +
  report) and whether the per-column verdicts agree are printed after the run.

DVC has no data statistics. Standard library only (the data is made by the cairn venv's python).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

from workloads import BASE, RunCtx, Target, Workload, commit, fresh_repo, then

ROWS = {"full": 1_000_000, "quick": 1_000_000, "smoke": 10_000}
GEN_VERSION = 1
DRIFTED = ("f0", "f1", "i0", "c0")  # what v2 changes; the other 16 columns do not drift
EVIDENTLY = ("evidently==0.7.23", "pandas<3")  # evidently 0.7 imports a helper pandas 3 dropped
ALL_SCALES = frozenset({"full", "quick", "smoke"})
TARGET_SCALES = frozenset({"full", "quick"})  # both at 1M rows
NOT_DVC = "cairn only: DVC has no data statistics."

GENERATE = r"""
import sys, polars as pl
out, n, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
i = pl.int_range(n, eager=False)
def u(seed):  # uniform (0, 1) from a hash: fast, deterministic, no numpy
    return ((i.hash(seed) % 1_000_000_007).cast(pl.Float64) + 0.5) / 1_000_000_007
def normal(seed):
    return (-2 * u(seed).log()).sqrt() * (6.283185307179586 * u(seed + 1)).cos()
v2 = version == 2
s = 1000 * version  # other rows in each version
cols = []
for k in range(10):
    x = normal(s + 10 * k) * (1 + k) + k
    if k == 0 and v2: x = x + 0.5
    if k == 1 and v2: x = (x - 1) * 1.5 + 1
    if k % 3 == 0: x = pl.when(u(s + 10 * k + 5) < 0.02).then(None).otherwise(x)
    cols.append(x.alias(f"f{k}"))
for k in range(4):
    v = (u(s + 200 + k) * 10 ** (k + 2)).floor().cast(pl.Int64)
    if k == 0 and v2: v = v + 10
    cols.append(v.alias(f"i{k}"))
for k in range(4):
    power = 2.0 if (k == 0 and v2) else 1.0 + k / 4
    idx = (u(s + 300 + k).pow(power) * 30).floor().cast(pl.Int64)
    cols.append(pl.format("cat_{}", idx).alias(f"c{k}"))
cols.append(pl.format("city_{}", (u(s + 400) * 5000).floor().cast(pl.Int64)).alias("city"))
cols.append((u(s + 500) < 0.3).alias("flag"))
df = pl.select(cols)
df.write_parquet(f"{out}/v{version}.parquet")
df.write_csv(f"{out}/v{version}.csv")
"""


def data_dir(ctx: RunCtx) -> Path:
    """v1 and v2 as .parquet and .csv, generated once per scale."""
    scale = ctx.data.scale.name
    path = ctx.data.root.parent / f"datastats-{scale}"
    marker = path / "complete.json"
    spec = {"generator": GEN_VERSION, "rows": ROWS[scale]}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return path
    print(f"[bench] generating {ROWS[scale]:,}-row tables in {path}", flush=True)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    python = str(ctx.tool.bin_dir / "python")
    for version in (1, 2):
        ctx.sh([python, "-c", GENERATE, str(path), str(ROWS[scale]), str(version)], cwd=path)
    marker.write_text(json.dumps(spec))
    return path


def _version(name: str, version: int, stats: bool):
    def step(ctx: RunCtx) -> None:
        src = data_dir(ctx) / f"v{version}{Path(name).suffix}"
        shutil.copyfile(src, ctx.repo / name)
        ctx.tool_sh("add", name)
        commit(f"{name} v{version}")(ctx)
        if stats:
            ctx.tool_sh("data", "stats", name, "--json")

    return step


def _drop_stats(ctx: RunCtx) -> None:
    shutil.rmtree(ctx.repo / ".cairn" / "cache" / "stats", ignore_errors=True)


# -- checks -----------------------------------------------------------------------------------


def _doc(ctx: RunCtx) -> dict:
    return json.loads(ctx.stdout.read_text())


def stats_computed(ctx: RunCtx) -> str | None:
    doc = _doc(ctx)
    want = ROWS[ctx.data.scale.name]
    if doc["stats"]["rows"] != want or len(doc["stats"]["columns"]) != 20:
        return f"{doc['stats']['rows']} rows and {len(doc['stats']['columns'])} columns, expected {want} and 20"
    return None if doc["from"] == "computed" else f"stats came from the {doc['from']}, expected computed"


def stats_cached(ctx: RunCtx) -> str | None:
    doc = _doc(ctx)
    return None if doc["from"] == "cache" else f"stats came from the {doc['from']}, expected the cache"


def _verdicts(doc: dict) -> dict[str, bool]:
    return {c["name"]: bool(c["drift"]["drifted"]) for c in doc["columns"] if (c.get("drift") or {}).get("method")}


def drift_found(ctx: RunCtx) -> str | None:
    verdicts = _verdicts(_doc(ctx))
    missed = [c for c in DRIFTED if not verdicts.get(c)]
    false = [c for c, d in verdicts.items() if d and c not in DRIFTED]
    if ctx.data.scale.name != "smoke" and (missed or false):
        return f"drift missed in {missed}, reported in unchanged {false}"
    return None


def drift_vs_evidently(ctx: RunCtx) -> str | None:
    problem = drift_found(ctx)
    if problem:
        return problem
    if ctx.data.scale.name == "smoke":  # installing Evidently (~1 min) checks nothing about the harness
        print("[bench]   Evidently not compared at smoke scale", flush=True)
        return None
    ev = _evidently(ctx)
    if isinstance(ev, str):
        print(f"[bench]   Evidently not compared: {ev}", flush=True)
        return None
    ours = _verdicts(_doc(ctx))
    differ = sorted(c for c in ours if c in ev["columns"] and ours[c] != ev["columns"][c]["drifted"])
    same = sum(1 for c in ours if c in ev["columns"] and ours[c] == ev["columns"][c]["drifted"])
    print(
        f"[bench]   Evidently {ev['version']} DataDriftPreset on the same two CSV files: {ev['seconds']:.2f} s "
        f"(read {ev['read_s']:.2f} s + report {ev['report_s']:.2f} s); verdicts agree on {same} of {len(ours)} "
        f"columns" + (f"; differ on {', '.join(differ)}" if differ else ""),
        flush=True,
    )
    for c in differ:
        print(f"[bench]     {c}: cairn {ours[c]}, Evidently {ev['columns'][c]}", flush=True)
    ctx.state["evidently"] = ev
    return None


EVIDENTLY_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
ref, cur = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
t1 = time.perf_counter()
import evidently
from evidently import Report
from evidently.presets import DataDriftPreset
ev = Report([DataDriftPreset()]).run(cur, ref).dict()
t2 = time.perf_counter()
cols = {}
for m in ev["metrics"]:
    c = m.get("config", {})
    if c.get("type", "").endswith("ValueDrift"):
        method, thr, v = c.get("method", ""), c.get("threshold"), m["value"]
        pvalue = "p_value" in method or "test" in method.lower()
        cols[c["column"]] = {"method": method, "threshold": thr, "value": v,
                             "drifted": bool(v < thr) if pvalue else bool(v >= thr)}
print(json.dumps({"version": evidently.__version__, "read_s": t1 - t0, "report_s": t2 - t1,
                  "seconds": t2 - t0, "columns": cols}))
"""


def _evidently(ctx: RunCtx) -> dict | str:
    """Evidently's verdicts on v1 -> v2 (CSV), once per scale (cached next to the data)."""
    import envs

    cache = data_dir(ctx) / "evidently.json"
    if cache.exists():
        return json.loads(cache.read_text())
    try:
        venv = envs.ensure_venv("evidently", EVIDENTLY, ctx.log.parent)
    except envs.EnvError as exc:
        return str(exc).splitlines()[0]
    d = data_dir(ctx)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(venv.python), "-c", EVIDENTLY_SCRIPT, str(d / "v1.csv"), str(d / "v2.csv")],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return f"the Evidently script failed: {proc.stderr.strip().splitlines()[-1:]}"
    doc = json.loads(proc.stdout)
    doc["wall_s"] = time.perf_counter() - t0
    cache.write_text(json.dumps(doc))
    return doc


# -- the workloads ----------------------------------------------------------------------------

COMMANDS = (*BASE, "add", "data")


def _stats(name: str) -> object:
    return lambda c: c.tool.argv("data", "stats", name, "--json")


DIFF = ("data", "diff")

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W33",
        "data stats of a 1M x 20 Parquet file",
        then(fresh_repo, _version("t.parquet", 1, False)),
        _stats("t.parquet"),
        COMMANDS,
        stats_computed,
        target=Target(1.5, "`data stats`, 1M x 20 Parquet, first time", TARGET_SCALES),
        dvc_skipped=ALL_SCALES,
        max_runs=5,
        notes="Timed: `cairn data stats t.parquet --json` in a fresh repo (nothing stored yet): rows and per "
        "column nulls, distinct estimate, min, max, mean, std, the 101-point quantile sketch, a 20-bin "
        "histogram, top values. Checked: 1M rows, 20 columns, computed. " + NOT_DVC,
    ),
    Workload(
        "W34",
        "data stats of the same as CSV",
        then(fresh_repo, _version("t.csv", 1, False)),
        _stats("t.csv"),
        COMMANDS,
        stats_computed,
        target=Target(3.0, "`data stats`, 1M x 20 CSV, first time", TARGET_SCALES),
        dvc_skipped=ALL_SCALES,
        max_runs=5,
        notes="As W33 with the CSV file (256 MB). " + NOT_DVC,
    ),
    Workload(
        "W35",
        "data stats again (stored record)",
        then(fresh_repo, _version("t.parquet", 1, True)),
        _stats("t.parquet"),
        COMMANDS,
        stats_cached,
        target=Target(0.1, "`data stats` of a version whose stats are stored", TARGET_SCALES),
        dvc_skipped=ALL_SCALES,
        notes="W33's repo after one `data stats`; timed: the same command (the workspace file is matched to "
        "its id by the stat cache, the record read from the cache). Checked: from the cache. " + NOT_DVC,
    ),
    Workload(
        "W36",
        "drift of two versions whose stats exist",
        then(fresh_repo, _version("t.parquet", 1, True), _version("t.parquet", 2, True)),
        lambda c: c.tool.argv(*DIFF, "t.parquet", "HEAD~1", "HEAD", "--stats", "--json"),
        COMMANDS,
        drift_found,
        target=Target(2.0, "`data diff --stats` of two 1M x 20 versions", TARGET_SCALES),
        dvc_skipped=ALL_SCALES,
        notes="Two commits of t.parquet (v1, v2), `data stats` run on each; timed: `cairn data diff t.parquet "
        "HEAD~1 HEAD --stats --json` (from the two stored records, no data read). Checked: f0, f1, i0, c0 "
        "drift, the 16 others do not. " + NOT_DVC,
    ),
    Workload(
        "W37",
        "drift of two CSV versions from scratch; Evidently alongside",
        then(fresh_repo, _version("t.csv", 1, False), _version("t.csv", 2, False), _drop_stats),
        lambda c: c.tool.argv(*DIFF, "t.csv", "HEAD~1", "HEAD", "--stats", "--json"),
        COMMANDS,
        drift_vs_evidently,
        dvc_skipped=ALL_SCALES,
        max_runs=3,
        notes="Two commits of t.csv (v1, v2), no stats stored; timed: `cairn data diff t.csv HEAD~1 HEAD "
        "--stats --json` (both versions read and described, then compared). After the run, Evidently's "
        "DataDriftPreset (its defaults: normed Wasserstein for numeric, Jensen-Shannon for categorical, "
        "both at 0.1, as cairn's) runs once on the same two CSV files in its own venv; its time and the "
        "per-column agreement are printed. " + NOT_DVC,
    ),
)
