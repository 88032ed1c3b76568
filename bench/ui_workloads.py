"""W40-W42: `cairn ui`, the local dashboard (issue 20), cairn alone.

W40 times a probe that builds the dashboard's experiments table from 100,000 generated rows
(50 params and metrics each, the rows `exp show --json` gives; made directly, not by 100,000
`exp run`s) and serves it with the dashboard's own app on uvicorn in a thread, then asks the
JSON endpoint the Experiments page asks: the first page (newest first), a sort by a metric, a
filter, a later page of the sorted view. It prints each median (targets: a sort or a filter <
200 ms). W41 times a probe that starts `cairn ui --port 0` in a repository with 3 experiments and
prints how long until the ready line and until the Experiments page and its first JSON page have
been answered (target: the first page < 0.5 s after start). W42 times a probe that starts it in
a repository with 10 experiments, each with a 500-point plot, and asks Compare of all 10 (the
params/metrics diff and the 10 runs' plot overlaid, as `plots diff` makes it), 5 times (target:
comparing 10 runs' plots < 1 s).

cairn only: DVC's UI is a hosted service, not a local command. Standard library only (the probes
run with the cairn venv's interpreter). By hand (see the end of this file): the browser side in
headless Chromium (the bench venv has no Playwright), MLflow's search API, the one its UI calls,
over runs of the same shape in its own venv, and MLflow's UI against cairn's in the same browser
(bench/mlflow_ui.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workloads import BASE, RunCtx, Workload, commit, fresh_repo

ALL_SCALES = frozenset({"full", "quick", "smoke"})
ROWS = {"full": 100_000, "quick": 100_000, "smoke": 5_000}
NOT_DVC = "cairn only: DVC has no local dashboard (DVC Studio is a hosted service)."


def _python(ctx: RunCtx) -> str:
    return str(Path(ctx.tool.argv()[0]).with_name("python"))


# -- W40 ----------------------------------------------------------------------------------------
TABLE_PROBE = r"""
import http.client, json, random, statistics, sys, threading, time
from pathlib import Path
from urllib.parse import quote
from cairn.dashboard import server
from cairn.dashboard.app import create_app
from cairn.dashboard.table import ExperimentTable

n = int(sys.argv[1])
rng = random.Random(20)
rows = []
for i in range(n):
    row = {"name": f"exp-{i:06d}", "baseline": "abcdef0", "created": f"2026-01-01 00:{i // 3600 % 60:02d}:{i % 60:02d}",
           "status": "success", "exit_code": 0}
    row.update({f"params.train.p{k:02d}": rng.random() for k in range(25)})
    row.update({f"metrics.m{k:02d}": rng.random() for k in range(25)})
    rows.append(row)
table = ExperimentTable(rows, "bench")

class Source:
    name = "bench"
    def experiments(self, with_commits=False):
        return table

sock = server.bind("127.0.0.1", 0)
port = sock.getsockname()[1]
ready = threading.Event()
threading.Thread(target=server.serve, args=(create_app(Source()), sock, ready.set), daemon=True).start()
ready.wait(30)
conn = http.client.HTTPConnection("127.0.0.1", port)

def get(path):
    t = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    return time.perf_counter() - t, resp.status, json.loads(body)

def median(make, k=5):
    times = []
    for i in range(k):
        dt, status, doc = get(make(i))
        assert status == 200, (status, doc)
        times.append(dt)
    return statistics.median(times) * 1000, doc

first, doc = median(lambda i: "/api/experiments?page=1&size=100")
# each sort and filter is a new view (the server keeps the last few): vary the column and bound
sort, sdoc = median(lambda i: f"/api/experiments?page=1&size=100&sort=metrics.m{i:02d}&dir=desc")
flt, fdoc = median(lambda i: "/api/experiments?page=1&size=100&q=" + quote(f"metrics.m{i:02d}>0.{5 + i}"))
page, pdoc = median(lambda i: f"/api/experiments?page={50 + i}&size=100&sort=metrics.m04&dir=desc")
ok = (len(doc["data"]) == 100 and doc["total"] == n and sdoc["data"][0]["metrics.m04"] >= sdoc["data"][1]["metrics.m04"]
      and 0 < fdoc["last_row"] < n and len(pdoc["data"]) == 100)
print(json.dumps({"rows": n, "first_ms": first, "sort_ms": sort, "filter_ms": flt, "page_ms": page, "ok": ok}))
"""


def table_figures(ctx: RunCtx) -> str | None:
    try:
        doc = json.loads(ctx.stdout.read_text().strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        return f"the probe printed no figures ({exc})"
    if not doc.get("ok"):
        return f"the JSON pages were not what was asked: {doc}"
    print(
        f"[bench]   {doc['rows']:,} rows: first page {doc['first_ms']:.1f} ms, sort {doc['sort_ms']:.1f} ms, "
        f"filter {doc['filter_ms']:.1f} ms, a page of the sorted view {doc['page_ms']:.1f} ms (medians)"
    )
    ctx.state.setdefault("probe", []).append(doc)  # type: ignore[union-attr]
    return None


def empty_dir(ctx: RunCtx) -> None:
    ctx.repo.mkdir()
    ctx.cwd = ctx.repo


# -- W41 ----------------------------------------------------------------------------------------
START_PROBE = r"""
import http.client, json, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen([sys.argv[1], "ui", "--port", "0"], stdout=subprocess.PIPE, text=True)
line = proc.stdout.readline()
ready = time.perf_counter() - t0
host, port = line.strip().rstrip("/").rsplit("/", 1)[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
conn.request("GET", "/experiments")
page = conn.getresponse()
page_status = page.status
page.read()
conn.request("GET", "/api/experiments?page=1&size=100")
answer = json.loads(conn.getresponse().read())
first = time.perf_counter() - t0
proc.terminate()
proc.wait()
print(json.dumps({"ready_s": ready, "first_page_s": first, "status": page_status, "rows": len(answer["data"])}))
"""


def ui_repo(ctx: RunCtx) -> None:
    fresh_repo(ctx)
    (ctx.repo / "params.yaml").write_text("lr: 0.1\n")
    (ctx.repo / "train.py").write_text(
        "import json, yaml\nlr = yaml.safe_load(open('params.yaml'))['lr']\n"
        "json.dump({'acc': 1 - lr}, open('metrics.json', 'w'))\n"
    )
    (ctx.repo / "cairn.yaml").write_text(
        f"stages:\n  train:\n    cmd: {_python(ctx)} train.py\n    deps: [train.py]\n    params: [lr]\n"
        "    metrics:\n      - metrics.json: {cache: false}\n"
    )
    ctx.tool_sh("repro")
    commit("pipeline")(ctx)
    for lr in ("0.2", "0.3", "0.4"):
        ctx.tool_sh("exp", "run", "-S", f"lr={lr}")


def start_figures(ctx: RunCtx) -> str | None:
    try:
        doc = json.loads(ctx.stdout.read_text().strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        return f"the probe printed no figures ({exc})"
    if doc.get("status") != 200 or doc.get("rows") != 3:
        return f"the dashboard answered {doc}"
    print(f"[bench]   ready {doc['ready_s']:.3f} s, first page answered {doc['first_page_s']:.3f} s after start")
    ctx.state.setdefault("probe", []).append(doc)  # type: ignore[union-attr]
    return None


# -- W42 ----------------------------------------------------------------------------------------
RUNS = 10
COMPARE_PROBE = r"""
import http.client, json, statistics, subprocess, sys, time
proc = subprocess.Popen([sys.argv[1], "ui", "--port", "0"], stdout=subprocess.PIPE, text=True)
line = proc.stdout.readline()
host, port = line.strip().rstrip("/").rsplit("/", 1)[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
conn.request("GET", "/api/experiments?size=100")
names = [r["name"] for r in json.loads(conn.getresponse().read())["data"]]
path = "/compare?" + "&".join("exp=" + n for n in names)
times = []
for _ in range(5):
    t = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read().decode()
    times.append(time.perf_counter() - t)
proc.terminate()
proc.wait()
spec = json.loads(body.split('<script id="specs" type="application/json">', 1)[1].split("</script>", 1)[0])
runs = sorted({v["cairn_rev"] for s in spec for v in s["data"]["values"]})
print(json.dumps({"compare_ms": statistics.median(times) * 1000, "status": resp.status, "runs": runs, "names": names}))
"""


def compare_repo(ctx: RunCtx) -> None:
    fresh_repo(ctx)
    (ctx.repo / "params.yaml").write_text("lr: 0.1\n")
    (ctx.repo / "train.py").write_text(
        "import json, yaml\nlr = yaml.safe_load(open('params.yaml'))['lr']\n"
        "json.dump({'acc': 1 - lr}, open('metrics.json', 'w'))\n"
        "open('curve.csv', 'w').write('step,loss\\n' + ''.join(f'{i},{lr / (i + 1)}\\n' for i in range(500)))\n"
    )
    (ctx.repo / "cairn.yaml").write_text(
        f"stages:\n  train:\n    cmd: {_python(ctx)} train.py\n    deps: [train.py]\n    params: [lr]\n"
        "    metrics:\n      - metrics.json: {cache: false}\n"
        "    plots:\n      - curve.csv: {cache: false, x: step, y: loss}\n"
    )
    ctx.tool_sh("repro")
    commit("pipeline")(ctx)
    for i in range(RUNS):
        ctx.tool_sh("exp", "run", "-n", f"run{i}", "-S", f"lr={(i + 1) / 20}")


def compare_figures(ctx: RunCtx) -> str | None:
    try:
        doc = json.loads(ctx.stdout.read_text().strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        return f"the probe printed no figures ({exc})"
    if doc.get("status") != 200 or len(doc.get("runs") or []) != RUNS or sorted(doc["names"]) != doc["runs"]:
        return f"Compare answered {doc}"
    print(f"[bench]   Compare of {RUNS} runs (diff and the overlaid plot): {doc['compare_ms']:.0f} ms (median of 5)")
    ctx.state.setdefault("probe", []).append(doc)  # type: ignore[union-attr]
    return None


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W40",
        "ui: experiments JSON over 100,000 runs (sort, filter, page)",
        empty_dir,
        lambda c: [_python(c), "-c", TABLE_PROBE, str(ROWS[c.data.scale.name])],
        (*BASE, "ui"),
        table_figures,
        dvc_skipped=ALL_SCALES,
        datasets=frozenset(),
        notes="100,000 generated rows (5,000 at smoke), 25 params and 25 metrics each, in the dashboard's "
        "table behind its own app on uvicorn (in a thread). Timed: the whole probe (building the rows "
        "included); the figures that count are its medians of 5 requests each: the first page, a sort by "
        "a metric, a filter on a metric (targets < 200 ms each), a later page of a sorted view. " + NOT_DVC,
    ),
    Workload(
        "W41",
        "ui: start and serve the first page",
        ui_repo,
        lambda c: [sys.executable, "-c", START_PROBE, *c.tool.argv()],
        (*BASE, "repro", "exp run", "ui"),
        start_figures,
        dvc_skipped=ALL_SCALES,
        datasets=frozenset(),
        notes="A one-stage pipeline and 3 experiments. Timed: a probe that starts `cairn ui --port 0`, reads "
        "its ready line, then GETs /experiments and its first JSON page; it prints the time to ready and "
        "to the first page answered (target < 0.5 s). " + NOT_DVC,
    ),
    Workload(
        "W42",
        "ui: Compare of 10 runs with their plots",
        compare_repo,
        lambda c: [sys.executable, "-c", COMPARE_PROBE, *c.tool.argv()],
        (*BASE, "repro", "exp run", "ui"),
        compare_figures,
        dvc_skipped=ALL_SCALES,
        datasets=frozenset(),
        notes=f"A one-stage pipeline declaring a 500-point csv plot, and {RUNS} experiments. Timed: a probe that "
        "starts `cairn ui --port 0`, lists the runs, then GETs /compare of all of them 5 times (params and "
        "metrics side by side, the plot with the 10 runs overlaid as `plots diff` builds it, read from each "
        "run's commit); it prints the median (target < 1 s). " + NOT_DVC,
    ),
)


# -- by hand: the browser side ------------------------------------------------------------------
BROWSER_PROBE = r"""
import json, shutil, statistics, sys, threading, time
from cairn.dashboard import server
from cairn.dashboard.app import create_app
from cairn.dashboard.table import ExperimentTable
from playwright.sync_api import sync_playwright

IN_PAGE = '''() => {
  const asked = () => { window.asked = performance.now(); };
  document.addEventListener("click", asked, true);
  document.addEventListener("keydown", (e) => { if (e.key === "Enter") asked(); }, true);
  window.cairnTable.on("renderComplete", () => requestAnimationFrame(() => { window.drawn = performance.now(); }));
}'''
exec(TABLE_ROWS)  # rows, as W40 makes them
table = ExperimentTable(rows, "bench")

class Source:
    name = "bench"
    def experiments(self, with_commits=False):
        return table

sock = server.bind("127.0.0.1", 0)
url = f"http://127.0.0.1:{sock.getsockname()[1]}"
ready = threading.Event()
threading.Thread(target=server.serve, args=(create_app(Source()), sock, ready.set), daemon=True).start()
ready.wait(30)
out = {"rows": len(rows), "load_ms": [], "sort_ms": [], "filter_ms": []}
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
    for i in range(5):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        t = time.perf_counter()
        page.goto(url + "/experiments")
        page.wait_for_selector(".tabulator-row")
        out["load_ms"].append((time.perf_counter() - t) * 1000)
        # in the page: from the click or the Enter key to the new rows drawn (no harness round trips)
        page.evaluate(IN_PAGE)
        loads = page.evaluate("document.body.dataset.loads")
        t = time.perf_counter()
        page.click(f".tabulator-col[tabulator-field='metrics.m{i:02d}'] .tabulator-col-title")
        page.wait_for_function(f"document.body.dataset.loads !== '{loads}'")
        out["sort_ms"].append((time.perf_counter() - t) * 1000)
        out.setdefault("sort_fetch_ms", []).append(page.evaluate(
            "performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/')).pop().duration"))
        out.setdefault("sort_in_page_ms", []).append(page.evaluate("window.drawn - window.asked"))
        loads = page.evaluate("document.body.dataset.loads")
        t = time.perf_counter()
        page.fill("#filter", f"metrics.m1{i}>0.5")
        page.press("#filter", "Enter")
        page.wait_for_function(f"document.body.dataset.loads !== '{loads}'")
        out["filter_ms"].append((time.perf_counter() - t) * 1000)
        out.setdefault("filter_in_page_ms", []).append(page.evaluate("window.drawn - window.asked"))
        page.close()
    browser.close()
print(json.dumps({k: (statistics.median(v) if isinstance(v, list) else v) for k, v in out.items()} | {"runs": out}))
"""

TABLE_ROWS = TABLE_PROBE.split("n = int(sys.argv[1])", 1)[1].split("table = ExperimentTable", 1)[0]


# -- by hand: MLflow, the peer ------------------------------------------------------------------
# Run with the mlflow venv's interpreter: ROWS runs of the same shape (25 params, 25 metrics, one
# experiment) in a SQLite store, served by `mlflow server`; times the search API its UI calls
# (POST /ajax-api/2.0/mlflow/runs/search, 100 runs a page): newest first, a sort by a metric, a
# filter on a metric, the next page of a sort; medians of 5, as W40 asks cairn's JSON endpoint.
MLFLOW_PROBE = r"""
import http.client, json, os, socket, statistics, subprocess, sys, time
from pathlib import Path

n, work = int(sys.argv[1]), Path(sys.argv[2])
work.mkdir(parents=True, exist_ok=True)
db = work / f"mlflow-{n}.db"
uri = f"sqlite:///{db}"
t0 = time.perf_counter()
if not db.exists():  # made and checked by bench/mlflow_ui.py's mlflow_store (mlflow_main calls it)
    raise SystemExit(f"{db} is missing")
load_s = time.perf_counter() - t0

sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
t0 = time.perf_counter()
server = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", uri,
                           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                          stdout=subprocess.DEVNULL, stderr=open(work / "mlflow-server.log", "w"),
                          # its GenAI job runner (huey workers) has nothing to do with the runs table
                          env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
try:
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            c.request("GET", "/health"); c.getresponse().read(); break
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"mlflow server exited {server.returncode}; see {work / 'mlflow-server.log'}")
            time.sleep(0.2)
    start_s = time.perf_counter() - t0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(method, path, body=None):
        t = time.perf_counter()
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse(); data = resp.read()
        assert resp.status == 200, (resp.status, data[:300])
        return time.perf_counter() - t, json.loads(data)

    _, doc = call("GET", "/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=bench")
    exp_id = doc["experiment"]["experiment_id"]
    def search(filter_="", order_by=("attributes.start_time DESC",), page=None):
        body = {"experiment_ids": [exp_id], "filter": filter_, "run_view_type": "ACTIVE_ONLY",
                "max_results": 100, "order_by": list(order_by)}
        if page: body["page_token"] = page
        return call("POST", "/ajax-api/2.0/mlflow/runs/search", body)
    def median(make, k=5):
        times, doc = [], None
        for i in range(k):
            dt, doc = make(i); times.append(dt)
        return statistics.median(times) * 1000, doc
    search()  # warm-up: the first request imports and caches what the others reuse
    first, fdoc = median(lambda i: search())
    sort, sdoc = median(lambda i: search(order_by=[f"metrics.`m{i:02d}` DESC"]))
    flt, ldoc = median(lambda i: search(filter_=f"metrics.m1{i} > 0.{5 + i}"))
    page, pdoc = median(lambda i: search(order_by=["metrics.`m04` DESC"], page=sdoc.get("next_page_token")))
    m = lambda run, key: {x["key"]: x["value"] for x in run["data"]["metrics"]}[key]
    ok = (len(fdoc["runs"]) == 100 and m(sdoc["runs"][0], "m04") >= m(sdoc["runs"][1], "m04")
          and all(m(r, "m14") > 0.9 for r in ldoc["runs"]))
    print(json.dumps({"rows": n, "load_s": load_s, "start_s": start_s, "first_ms": first, "sort_ms": sort,
                      "filter_ms": flt, "page_ms": page, "ok": ok, "port": port, "exp_id": exp_id}), flush=True)
    if os.environ.get("MLFLOW_HOLD"):  # keep serving for the browser probe
        sys.stdin.readline()
finally:
    server.terminate(); server.wait()
"""


def mlflow_main(n: int) -> None:
    import envs

    work = envs.BENCH_DIR / ".work" / "ui-mlflow"
    (work / "logs").mkdir(parents=True, exist_ok=True)
    env = envs.ensure_venv("mlflow", envs.MLFLOW_REQUIREMENTS, work / "logs")
    print(f"[bench] mlflow {env.version_of('mlflow')}, {n:,} runs, store and logs in {work}", flush=True)
    import mlflow_ui  # one maker of the MLflow store for both probes, checked by MLflow before use

    mlflow_ui.mlflow_store(env, n)
    subprocess.run([str(env.python), "-c", MLFLOW_PROBE, str(n), str(work)], check=True)


if __name__ == "__main__":
    # By hand, with an interpreter that has cairn, playwright and Debian's chromium (the dev venv):
    #   .venv/bin/python bench/ui_workloads.py [ROWS]
    # the Experiments page in headless Chromium over ROWS (100,000) generated runs: load until the
    # rows show, a sort by a metric column, a filter; medians of 5 fresh pages. Then
    #   .venv/bin/python bench/ui_workloads.py --mlflow [ROWS]
    # makes bench/.venvs/mlflow (envs.MLFLOW_REQUIREMENTS) and times MLflow's search API over
    # ROWS runs (the store is kept in bench/.work/ui-mlflow/ and reused), and
    #   .venv/bin/python bench/ui_workloads.py --mlflow-ui [ROWS] [--tries 3]
    # times MLflow's UI and cairn's in the same browser over the same runs (bench/mlflow_ui.py).
    args = sys.argv[1:]
    if args[:1] == ["--mlflow-ui"]:
        import mlflow_ui

        mlflow_ui.main(args[1:])
    elif args[:1] == ["--mlflow"]:
        mlflow_main(int(args[1]) if len(args) > 1 else 10_000)
    else:
        n = int(args[0]) if args else ROWS["full"]
        exec(BROWSER_PROBE, {"TABLE_ROWS": f"import random\nn = {n}\n" + TABLE_ROWS, "__name__": "probe"})
