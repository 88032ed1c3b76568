"""MLflow's browser UI against `cairn ui` over the same runs, in the same headless Chromium (issue 20).

By hand, with the dev venv (cairn, Playwright, Debian's chromium):
    .venv/bin/python bench/mlflow_ui.py [ROWS] [--tries 3]
ROWS (100,000) runs of W40's shape (25 params, 25 metrics, the same values) go into an MLflow
SQLite store whose schema MLflow makes itself; the store is kept in bench/.work/ui-mlflow/ and
reused. `mlflow server` (bench/.venvs/mlflow) serves it, the dashboard's app serves W40's rows,
and the same interactions are timed on both, in turns: the runs page until its rows show, a filter
on a metric, a sort by a metric within it, Compare of 10 runs. Medians of --tries fresh pages.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Run with the mlflow venv's interpreter: ROWS runs in a new SQLite store at argv[2] (written to a
# temp file, renamed when whole). MLflow's client makes the schema and logs the first run; the
# others are that run's rows (runs, params, metrics, latest_metrics, tags) copied with executemany
# in one transaction: 100,000 runs through the client take hours, one transaction per call.
POPULATE = r"""
import os, random, sqlite3, sys, time, uuid
from pathlib import Path

n, db = int(sys.argv[1]), Path(sys.argv[2]).resolve()
tmp = db.with_name(db.name + ".part")
tmp.unlink(missing_ok=True)
t0 = time.perf_counter()
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

client = MlflowClient(tracking_uri=f"sqlite:///{tmp}")
exp = client.create_experiment("bench", artifact_location=(db.parent / "artifacts").as_uri())
rid = client.create_run(exp, run_name="template").info.run_id
client.log_batch(rid, metrics=[Metric(f"m{k:02d}", 0.5, 1767225600000, 0) for k in range(25)],
                 params=[Param(f"train.p{k:02d}", "0.5") for k in range(25)])
client.set_terminated(rid)
con = sqlite3.connect(tmp)
template = {}
for table in ("runs", "params", "metrics", "latest_metrics", "tags"):
    cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    rows = con.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (rid,))
    template[table] = (cols, [dict(zip(cols, r)) for r in rows])
    con.execute(f"DELETE FROM {table} WHERE run_uuid = ?", (rid,))
rng = random.Random(20)  # W40's generator: p00..p24 then m00..m24 per row, the same draws
batches = {t: [] for t in template}
for i in range(n):
    new = uuid.uuid4().hex
    name = f"exp-{i:06d}"
    values = {f"train.p{k:02d}": rng.random() for k in range(25)} | {f"m{k:02d}": rng.random() for k in range(25)}
    start = 1767225600000 + i * 1000
    for table, (cols, rows) in template.items():
        for r in rows:
            r = dict(r, run_uuid=new)
            if table == "runs":
                r.update(name=name, start_time=start, end_time=start + 500,
                         artifact_uri=r["artifact_uri"].replace(rid, new))
            elif table == "tags" and r["key"] == "mlflow.runName":
                r["value"] = name
            elif table == "params":
                r["value"] = repr(values[r["key"]])
            elif table in ("metrics", "latest_metrics"):
                r["value"] = values[r["key"]]
            batches[table].append(tuple(r[c] for c in cols))
    if len(batches["params"]) >= 250_000 or i == n - 1:  # bounded memory, still one transaction
        for table, rows in batches.items():
            cols = template[table][0]
            con.executemany(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
            rows.clear()
con.commit()
con.close()
os.replace(tmp, db)
print(f"[bench] {n:,} runs written in {time.perf_counter() - t0:.0f} s", flush=True)
"""

# Run with the mlflow venv's interpreter: MLflow itself reads the store back: the number of runs,
# the first and last runs' values, and how many runs a filter finds, each against W40's generator.
VERIFY = r"""
import random, sys
from mlflow.tracking import MlflowClient

n, db = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20)
rows = [[rng.random() for _ in range(50)] for _ in range(n)]
client = MlflowClient(tracking_uri=f"sqlite:///{db}")
exp = client.get_experiment_by_name("bench").experiment_id
for i in (0, n - 1):
    (run,) = client.search_runs([exp], f"attributes.run_name = 'exp-{i:06d}'")
    assert run.data.metrics["m00"] == rows[i][25] and run.data.params["train.p24"] == repr(rows[i][24]), run
bound = sorted(r[26] for r in rows)[-50]  # m01's 50th largest value: the filter finds 50 runs
found = client.search_runs([exp], f"metrics.m01 >= {bound!r}", max_results=1000)
assert len(found) == 50, len(found)
# all the runs, counted by MLflow's own paging (ids only: params and metrics come with each page)
count, token = 0, None
while True:
    page = client.search_runs([exp], max_results=50000, page_token=token)
    count, token = count + len(page), page.token
    if not token:
        break
assert count == n, (count, n)
print(f"[bench] MLflow reads {count:,} runs; exp-000000, exp-{n - 1:06d} and a filter match W40's values", flush=True)
"""


BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "ui-mlflow"
# a step that takes longer (5 minutes unless BENCH_WAIT_MS says) is recorded as not finished
WAIT_MS = int(os.environ.get("BENCH_WAIT_MS", "300000"))
COMPARE = 10
STEPS = ("load", "filter", "sort", "compare")
DATA = ("/runs/search", "/api/experiments", "/compare?", "/experiments/get", "/artifacts/list")


def generated_rows(n: int) -> list[dict]:
    """W40's rows, from the same generator and seed as ui_workloads.TABLE_PROBE."""
    import ui_workloads

    scope: dict = {}
    exec(f"import random\nn = {n}\n" + ui_workloads.TABLE_ROWS, scope)
    return scope["rows"]


def plan(rows: list[dict], tries: int) -> list[dict]:
    """Per try: the filter, the metric to sort by, and the name each must bring to the first row.

    Rows are in the order they were made, so the newest first is the last. The filter keeps the
    runs on the side of 0.5 the newest run is not on, so the first row must change: the wait ends
    on the new rows, not on the old ones still shown. The sort is within the filter.
    """
    out = []
    for i in range(tries):
        col, sort = f"m1{i}", f"m0{i}"
        op = "<" if rows[-1][f"metrics.{col}"] > 0.5 else ">"
        kept = [r for r in rows if (r[f"metrics.{col}"] < 0.5) == (op == "<")]
        top = max(kept, key=lambda r: r[f"metrics.{sort}"])
        out.append({"filter": (col, op), "filtered_top": kept[-1]["name"], "sort": sort, "sorted_top": top["name"]})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, what: str, limit: float = 600) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"{what} exited {proc.returncode}; see its log in {WORK}") from None
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} in {limit:.0f} s")


def mlflow_store(env, n: int) -> Path:
    """The store of N runs, made and checked by MLflow once, then reused."""
    db = WORK / f"mlflow-{n}.db"
    if db.exists():
        return db
    part = db.with_name(db.name + ".part")
    subprocess.run([str(env.python), "-c", POPULATE, str(n), str(part)], check=True)
    subprocess.run([str(env.python), "-c", VERIFY, str(n), str(part)], check=True)
    os.replace(part, db)
    return db


def compare_repo(cairn: str) -> Path:
    """W42's repository (10 experiments, each with a 500-point plot), made once and reused."""
    repo = WORK / "compare-repo"
    if (repo / ".done").exists():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    python = str(Path(cairn).with_name("python"))

    def sh(*argv: str) -> None:
        subprocess.run(argv, cwd=repo, check=True, capture_output=True)

    sh("git", "init", "-q")
    sh("git", "config", "user.email", "bench@example.com")
    sh("git", "config", "user.name", "bench")
    sh(cairn, "init")
    (repo / "params.yaml").write_text("lr: 0.1\n")
    (repo / "train.py").write_text(
        "import json, yaml\nlr = yaml.safe_load(open('params.yaml'))['lr']\n"
        "json.dump({'acc': 1 - lr}, open('metrics.json', 'w'))\n"
        "open('curve.csv', 'w').write('step,loss\\n' + ''.join(f'{i},{lr / (i + 1)}\\n' for i in range(500)))\n"
    )
    (repo / "cairn.yaml").write_text(
        f"stages:\n  train:\n    cmd: {python} train.py\n    deps: [train.py]\n    params: [lr]\n"
        "    metrics:\n      - metrics.json: {cache: false}\n"
        "    plots:\n      - curve.csv: {cache: false, x: step, y: loss}\n"
    )
    sh(cairn, "repro")
    sh("git", "add", "-A")
    sh("git", "commit", "-q", "-m", "pipeline")
    for i in range(COMPARE):
        sh(cairn, "exp", "run", "-n", f"run{i}", "-S", f"lr={(i + 1) / 20}")
    (repo / ".done").write_text("")
    return repo


FIRST_ROW = {
    # the first row of the table holds NAME (AG Grid splits a row into pinned and scrolled parts)
    "cairn": "(name) => { const r = document.querySelector('.tabulator-row'); "
    "return !!r && r.textContent.includes(name); }",
    "mlflow": "(name) => [...document.querySelectorAll('.ag-row[row-index=\"0\"]')]"
    ".some((r) => r.textContent.includes(name))",
}


@dataclass
class Tool:
    """One dashboard in the browser: where its pages are and how its controls are used."""

    name: str
    runs_url: str
    compare_url: str
    compare_ready: str  # a JS expression true once Compare is drawn

    def first_row(self, page, name: str, timeout: float = WAIT_MS) -> None:
        page.wait_for_function(FIRST_ROW[self.name], arg=name, timeout=timeout)

    def sort(self, page, metric: str):  # MLflow: its menu entry, for the caller to click and time
        if self.name == "cairn":
            page.click(f".tabulator-col[tabulator-field='metrics.{metric}'] .tabulator-col-title")
            return None
        else:  # MLflow's sort menu (its metric columns are not in view at 1280 px)
            page.click("[data-testid=sort-select-dropdown]")
            option = page.locator(f"[data-testid=sort-select-{metric}]")
            option.scroll_into_view_if_needed()
            return option  # clicked by the caller, which times from that click

    def filter_box(self) -> str:
        return "#filter" if self.name == "cairn" else "input[data-testid=search-box]"


def one_try(context, tool: Tool, step: dict, newest: str, recover=None) -> dict:
    """A new page (its scripts in the browser's cache, its storage cleared), then the four steps."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # the data requests each step waited on (their own durations, not the page's work around them)
    fetched: list[tuple[float, float]] = []
    page.on(
        "requestfinished",
        lambda r: (
            fetched.append((time.perf_counter(), r.timing["responseEnd"])) if any(d in r.url for d in DATA) else None
        ),
    )
    out: dict = {}

    def done(step: str, t: float) -> None:
        out[step] = time.perf_counter() - t
        spans = [ms for at, ms in fetched if at >= t]
        out[f"{step}_requests"] = (len(spans), max(spans, default=0.0) / 1000)

    def load() -> None:
        t = time.perf_counter()
        page.goto(tool.runs_url)
        tool.first_row(page, newest)
        done("load", t)

    def filter_() -> None:
        col, op = step["filter"]
        box = page.locator(tool.filter_box())
        box.fill(f"metrics.{col} {op} 0.5")
        box.press("Escape")  # MLflow's box suggests completions: Enter would pick one, not search
        t = time.perf_counter()
        box.press("Enter")
        tool.first_row(page, step["filtered_top"])
        done("filter", t)

    def sort() -> None:
        option = tool.sort(page, step["sort"])
        t = time.perf_counter()
        if option is not None:
            option.click()
        tool.first_row(page, step["sorted_top"])
        done("sort", t)

    def compare() -> None:
        t = time.perf_counter()
        page.goto(tool.compare_url)
        page.wait_for_function(tool.compare_ready, timeout=WAIT_MS)
        done("compare", t)
        page.screenshot(path=str(WORK / f"{tool.name}-compare.png"))

    # a step that times out is a result; each step needs the one before, Compare none
    try:
        for name, run in (("load", load), ("filter", filter_), ("sort", sort), ("compare", compare)):
            if (name == "filter" and "load" not in out) or (name == "sort" and "filter" not in out):
                continue
            try:
                run()
            except Exception as exc:
                out[f"{name}_failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                page.screenshot(path=str(WORK / f"{tool.name}-{name}-failed.png"))
                if recover is not None:
                    recover()
    finally:
        page.close()
    if errors:
        out["page_errors"] = errors[:3]
    return out


def start_cairn_table(rows: list[dict]) -> str:
    """The dashboard's app over the generated rows, on uvicorn in a thread (as the by-hand probe)."""
    from cairn.dashboard import server
    from cairn.dashboard.app import create_app
    from cairn.dashboard.table import ExperimentTable

    table = ExperimentTable(rows, "bench")

    class Source:
        name = "bench"

        def experiments(self, with_commits: bool = False) -> ExperimentTable:
            return table

    sock = server.bind("127.0.0.1", 0)
    ready = threading.Event()
    app = create_app(Source())
    threading.Thread(target=server.serve, args=(app, sock, ready.set), daemon=True).start()
    ready.wait(60)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def mlflow_runs(base: str, k: int) -> tuple[str, list[tuple[str, str]]]:
    """The experiment's id and its K newest runs (id, name), through MLflow's own API."""
    with urllib.request.urlopen(f"{base}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=bench") as r:
        exp = json.load(r)["experiment"]["experiment_id"]
    body = json.dumps({"experiment_ids": [exp], "max_results": k, "order_by": ["attributes.start_time DESC"]})
    ask = urllib.request.Request(
        f"{base}/ajax-api/2.0/mlflow/runs/search", body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(ask, timeout=WAIT_MS / 1000) as r:
        runs = json.load(r)["runs"]
    return exp, [(x["info"]["run_id"], x["info"]["run_name"]) for x in runs]


class MlflowServer:
    """`mlflow server` on the store, in a process group of its own: its uvicorn workers outlive a
    plain terminate while they run a long query."""

    def __init__(self, env, db: Path) -> None:
        self.argv = [str(env.bin / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}", "--host", "127.0.0.1"]
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        log = open(WORK / "logs" / "mlflow-server.log", "a")  # noqa: SIM115 (open while it serves)
        self.proc = subprocess.Popen(
            [*self.argv, "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # its GenAI job runner (huey workers) has nothing to do with the runs table
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
        url = f"http://127.0.0.1:{self.port}"
        wait_http(f"{url}/health", self.proc, "mlflow server")
        return url

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None


def main(argv: list[str]) -> None:
    import envs
    from playwright.sync_api import sync_playwright

    tries = 3
    if "--tries" in argv:
        at = argv.index("--tries")
        tries, argv = int(argv[at + 1]), argv[:at] + argv[at + 2 :]
    n = int(argv[0]) if argv else 100_000
    (WORK / "logs").mkdir(parents=True, exist_ok=True)
    env = envs.ensure_venv("mlflow", envs.MLFLOW_REQUIREMENTS, WORK / "logs")
    print(f"[bench] mlflow {env.version_of('mlflow')}, {n:,} runs, {tries} tries; store and logs in {WORK}", flush=True)
    db = mlflow_store(env, n)
    cairn = str(Path(sys.executable).with_name("cairn"))
    repo = compare_repo(cairn)
    rows = generated_rows(n)
    steps = plan(rows, tries)
    newest = rows[-1]["name"]  # both list the newest first: the last one made

    mlflow_server = MlflowServer(env, db)
    servers = [subprocess.Popen([cairn, "ui", "--port", "0"], cwd=repo, stdout=subprocess.PIPE, text=True)]
    try:
        mlflow = mlflow_server.start()
        ui = servers[0].stdout.readline().strip().rstrip("/").split()[-1]
        exp, picked = mlflow_runs(mlflow, COMPARE)
        names = [name for _, name in picked]
        tools = [
            Tool(
                "cairn",
                start_cairn_table(rows) + "/experiments",
                f"{ui}/compare?" + "&".join(f"exp=run{i}" for i in range(COMPARE)),
                "document.body.dataset.ready === '1'",
            ),
            Tool(
                "mlflow",
                f"{mlflow}/#/experiments/{exp}/runs",
                f"{mlflow}/#/compare-runs?runs={json.dumps([i for i, _ in picked])}&experiments={json.dumps([exp])}",
                # its parallel-coordinates plot and the 10 runs' names in the table under it
                "document.querySelector('.js-plotly-plot .parcoords') && "
                + json.dumps(names)
                + ".every((n) => document.body.textContent.includes(n))",
            ),
        ]
        results: dict[str, list[dict]] = {"cairn": [], "mlflow": []}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            # every page starts from no saved state: MLflow keeps its last sort and filter in
            # localStorage and would open on them
            context.add_init_script("localStorage.clear(); sessionStorage.clear();")

            # a first page of each, not timed: MLflow's server imports its handlers on the first
            # requests and the browser fills its cache with each app's scripts
            def warm(tool: Tool) -> None:
                page = context.new_page()
                page.goto(tool.runs_url)
                tool.first_row(page, newest, 600_000)  # not timed; MLflow's first start is slow
                page.close()

            def restart() -> None:
                # a request the page gave up on still runs in MLflow's worker: a fresh server (its
                # handlers imported by one request), so the next step does not share the machine
                mlflow_server.stop()
                mlflow_server.start()
                mlflow_runs(mlflow, 1)

            for tool in tools:
                warm(tool)
            for i, step in enumerate(steps):
                for tool in tools:  # in turns, so both see the same load
                    got = one_try(context, tool, step, newest, restart if tool.name == "mlflow" else None)
                    results[tool.name].append(got)
                    shown = ", ".join(
                        f"{k} {got[k] * 1000:.0f} ms ({got[k + '_requests'][0]} requests, longest "
                        f"{got[k + '_requests'][1] * 1000:.0f} ms)"
                        if k in got
                        else f"{k} {got.get(k + '_failed', 'not run')}"
                        for k in STEPS
                    )
                    print(f"[bench] {time.strftime('%H:%M:%S')} try {i + 1} {tool.name}: {shown}", flush=True)
            browser.close()
    finally:
        mlflow_server.stop()
        for s in servers:
            s.terminate()
            s.wait()
    report(n, results)


def report(n: int, results: dict[str, list[dict]]) -> None:
    med = {
        t: {k: statistics.median(v) for k in STEPS if (v := [r[k] for r in rs if k in r])} for t, rs in results.items()
    }
    print(f"\n| {n:,} runs, medians | MLflow | cairn | MLflow / cairn |\n|---|---|---|---|")
    for k in STEPS:
        m, c = med["mlflow"].get(k), med["cairn"].get(k)
        if m is None or c is None:
            print(
                f"| {k} | {'not finished' if m is None else f'{m * 1000:.0f} ms'} | "
                f"{'not finished' if c is None else f'{c * 1000:.0f} ms'} | |"
            )
        else:
            print(f"| {k} | {m * 1000:.0f} ms | {c * 1000:.0f} ms | {m / c:.1f}x |")
    print(json.dumps({"rows": n, "medians_s": med, "tries": results}), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main(sys.argv[1:])
