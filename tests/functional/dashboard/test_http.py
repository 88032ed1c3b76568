"""`cairn ui` over HTTP: a real server (subprocess, port 0) on a real repository with real
experiments; pages, the experiments JSON (sorted, filtered, paged on the server), Compare,
Pipeline, Lineage, Trends, Queue (the live update itself is in test_browser.py), and the bad
input the issue lists."""

from __future__ import annotations

import http.client
import json
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import EXPERIMENTS

SORT_ACC_DESC = "sort%5B0%5D%5Bfield%5D=metrics.acc&sort%5B0%5D%5Bdir%5D=desc"


def names(doc: dict) -> list[str]:
    return [r["name"] for r in doc["data"]]


def test_experiments_page_lists_the_columns_and_loads_only_local_scripts(ui) -> None:
    page = ui.get("/experiments")
    assert page.status == 200
    columns = json.loads(re.search(r'<script id="columns" type="application/json">(.*?)</script>', page.text).group(1))
    assert {"name", "status", "params.train.lr", "metrics.acc", "metrics.loss"} <= set(columns)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    # nothing from the network (the empty favicon is inline: no 404 in the browser's console)
    assert sources and all(s.startswith("/") or s == "data:," for s in sources), sources
    for s in sources:
        if s.startswith("/static/"):
            assert ui.get(s).status == 200, s
    assert ui.get("/").status == 307


def test_experiments_json_is_sorted_filtered_and_paged_by_the_server(ui) -> None:
    doc = ui.get(f"/api/experiments?{SORT_ACC_DESC}").json()
    assert names(doc) == ["fast", "mid", "slow"]
    assert doc["last_row"] == doc["total"] == 3 and doc["last_page"] == 1
    assert [r["params.train.lr"] for r in doc["data"]] == [0.1, 0.3, 0.5]
    up = ui.get("/api/experiments?sort%5B0%5D%5Bfield%5D=metrics.acc&sort%5B0%5D%5Bdir%5D=asc").json()
    assert names(up) == ["slow", "mid", "fast"]
    page2 = ui.get(f"/api/experiments?{SORT_ACC_DESC}&size=1&page=2").json()
    assert names(page2) == ["mid"] and page2["last_page"] == 3
    filtered = ui.get(f"/api/experiments?{SORT_ACC_DESC}&q={quote('metrics.acc<0.9 and params.train.lr>0.2')}").json()
    assert names(filtered) == ["mid", "slow"] and filtered["total"] == 3
    # the default order: newest first, as a user expects of a run list
    assert names(ui.get("/api/experiments").json()) == list(reversed(EXPERIMENTS))


def test_the_branch_commits_join_the_table_on_request_and_compare_with_runs(ui, ui_project: Path, git) -> None:
    head, first = git("log", "--format=%h", "--abbrev=7", "-n", "2", cwd=ui_project).split()
    doc = ui.get(f"/api/experiments?commits=1&{SORT_ACC_DESC}").json()
    assert [(r["name"], r["status"]) for r in doc["data"]] == [
        ("fast", "success"),
        (head, "commit"),  # the baseline: lr 0.2, acc 0.82
        ("mid", "success"),
        ("slow", "success"),
        (first, "commit"),  # `Initialize cairn`: no metrics, so last
    ]
    assert doc["data"][1]["params.train.lr"] == 0.2 and doc["total"] == 5
    assert ui.get("/api/experiments").json()["total"] == 3  # as `exp show -A`, without commits
    page = ui.get(f"/compare?exp=fast&exp={head}")
    assert page.status == 200
    lr = re.search(r'<tr class="differs"><td>params</td><td[^>]*>train.lr</td>(.*?)</tr>', page.text).group(1)
    assert re.findall(r"<td>([^<]*)</td>", lr) == ["0.1", "0.2"]


def test_a_bad_filter_or_sort_is_a_clear_400_not_an_evaluation(ui) -> None:
    code = quote("__import__('os').system('true')")
    bad = ui.get(f"/api/experiments?q={code}")
    assert bad.status == 400
    assert "cannot read the filter" in bad.json()["error"]
    assert "metrics.acc>0.9" in bad.json()["hint"]
    missing = ui.get(f"/api/experiments?q={quote('metrics.nope>1')}")
    assert missing.status == 400 and "no experiment has a column 'metrics.nope'" in missing.json()["error"]
    sort = ui.get("/api/experiments?sort%5B0%5D%5Bfield%5D=metrics.nope")
    assert sort.status == 400 and "cannot sort by 'metrics.nope': no such column" in sort.json()["error"]
    assert "metrics.acc" in sort.json()["hint"]
    sideways = ui.get("/api/experiments?sort=metrics.acc&dir=sideways")  # was read as asc
    assert sideways.status == 400 and sideways.json()["error"] == "cannot sort in the direction 'sideways'"


def test_compare_shows_the_diff_and_the_plots_overlaid(ui) -> None:
    page = ui.get("/compare?exp=fast&exp=slow")
    assert page.status == 200
    rows = re.findall(r'<tr class="(differs|same)"><td>(\w+)</td><td[^>]*>([\w.]+)</td>(.*?)</tr>', page.text)
    by_key = {key: (cls, re.findall(r"<td>([^<]*)</td>", cells)) for cls, _, key, cells in rows}
    assert by_key["train.lr"] == ("differs", ["0.1", "0.5"])
    assert by_key["train.depth"] == ("same", ["2", "2"])
    assert by_key["acc"] == ("differs", ["0.92", "0.52"])
    specs = json.loads(re.search(r'<script id="specs" type="application/json">(.*?)</script>', page.text).group(1))
    (spec,) = specs  # out/curve.csv, one chart with both runs, as `plots diff` draws it
    assert {v["cairn_rev"] for v in spec["data"]["values"]} == {"fast", "slow"}


def test_compare_needs_two_known_experiments(ui) -> None:
    one = ui.get("/compare?exp=fast")
    assert one.status == 400 and "Compare needs two experiments or more" in one.text
    unknown = ui.get("/compare?exp=fast&exp=fsat")
    assert unknown.status == 400 and "there is no experiment named &#39;fsat&#39;" in unknown.text
    assert "did you mean &#39;fast&#39;?" in unknown.text
    many = ui.get("/compare?" + "&".join(f"exp=run{i}" for i in range(21)))
    assert many.status == 400 and "21 experiments is too many to compare" in many.text


def test_pipeline_lineage_and_trends(ui) -> None:
    page = ui.get("/pipeline")
    assert page.status == 200
    assert re.search(r'<g class="stage" data-stage="train" data-state="up to date">', page.text)
    lineage = ui.get("/lineage?path=out/model.txt")
    assert lineage.status == 200 and "written by stage train" in lineage.text
    graph = dict(re.findall(r'<g class="node" data-node="([^"]+)" data-state="([^"]+)">', lineage.text))
    outputs = dict.fromkeys(("out/model.txt", "out/metrics.json", "out/curve.csv"), "stage output")
    assert graph == {"train.py": "git", "stage:train": "stage", **outputs}  # the stage's outputs with it
    fragment = ui.get("/lineage?path=out/model.txt", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="lineage-graph">')  # the fragment alone
    trends = ui.get("/trends?key=acc")
    assert trends.status == 200
    spec = json.loads(re.search(r'<script id="spec" type="application/json">(.*?)</script>', trends.text).group(1))
    assert [p["value"] for p in spec["data"]["values"]] == [None, 0.82]  # the first commit has no metrics


def test_no_path_outside_the_repository_and_no_mutation(ui) -> None:
    outside = ui.get("/lineage?path=../../etc/passwd")
    assert outside.status == 404 and "../../etc/passwd is outside the repository" in outside.text
    assert ui.get("/static/ui/../app.py").status == 404
    assert ui.get("/static/ui/%2e%2e/app.py").status == 404
    assert ui.get("/no/such/page").status == 404
    for method in ("POST", "PUT", "DELETE"):
        assert ui.get("/experiments", method=method).status == 405
        assert ui.get("/api/experiments", method=method).status == 405


def test_a_foreign_host_header_is_refused(ui) -> None:
    """DNS rebinding: a page of evil.example resolving its name to 127.0.0.1."""
    assert ui.get("/api/experiments", headers={"Host": "evil.example"}).status == 400
    assert ui.get("/api/experiments", headers={"Host": f"localhost:{ui.port}"}).status == 200


def test_a_port_in_use_is_a_clear_error(ui_project: Path, run_cairn) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cairn("ui", "--port", str(port), cwd=ui_project, expect=2)
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "choose another --port, or --port 0 for any free one" in proc.stderr


def test_a_port_out_of_range_is_a_usage_error(ui_project: Path, run_cairn) -> None:
    proc = run_cairn("ui", "--port", "99999", cwd=ui_project, expect=2)
    assert "Traceback" not in proc.stderr and "99999 is not in the range 0<=x<=65535" in proc.stderr


def test_outside_a_repository_it_says_so(tmp_path: Path, run_cairn) -> None:
    proc = run_cairn("ui", cwd=tmp_path, expect=None)
    assert proc.returncode != 0 and "not a cairn repository" in proc.stderr


def test_a_new_repository_and_a_broken_pipeline_show_hints_and_the_server_stays_up(
    tmp_path: Path, _templates, start_ui
) -> None:
    root = tmp_path / "empty"
    shutil.copytree(_templates[1], root, symlinks=True)
    ui = start_ui(root, "--host", "localhost")
    assert "No experiments yet" in ui.get("/experiments").text
    assert ui.get("/api/experiments").json() == {"data": [], "last_page": 1, "last_row": 0, "total": 0}
    assert "No pipeline: this repository has no cairn.yaml" in ui.get("/pipeline").text
    assert "No metrics in this branch" in ui.get("/trends").text
    (root / "cairn.yaml").write_text("stages:\n  train: [not, a, stage\n")
    broken = ui.get("/pipeline")
    assert broken.status == 200 and 'data-error-code="bad-pipeline"' in broken.text
    assert "cairn.yaml:3:1: invalid YAML" in broken.text
    assert ui.get("/experiments").status == 200  # still serving


def test_listening_beyond_this_machine_warns(ui_project: Path, start_ui) -> None:
    ui = start_ui(ui_project, "--host", "0.0.0.0")
    assert ui.get("/api/experiments").status == 200
    assert "warning: listening on 0.0.0.0, not 127.0.0.1" in ui.stop()


@pytest.mark.parametrize("answers", [0, 1])
def test_open_asks_the_browser_for_the_served_address(
    ui_project: Path, home: Path, tmp_path: Path, answers: int
) -> None:
    # Python's webbrowser runs $BROWSER with the address; no DISPLAY or TERM: no real browser is tried
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "record-url"
    browser.write_text(f"#!/bin/sh\nprintf '%s' \"$1\" > {shlex.quote(str(seen))}\nexit {answers}\n")
    browser.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1", "LANG": "C.UTF-8", "BROWSER": str(browser)}
    cairn = Path(sys.executable).with_name("cairn")
    proc = subprocess.Popen(
        [str(cairn), "ui", "--port", "0", "--open"],
        cwd=ui_project,
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        wait_for(seen.exists)
        assert seen.read_text() == url
        if answers:  # the command failed: the address is said instead
            err = ""
            while "note:" not in err:
                err += proc.stderr.readline()
            assert f"note: no browser to open; the dashboard is at {url}" in err
        status = http.client.HTTPConnection("127.0.0.1", int(url.rstrip("/").rsplit(":", 1)[1]), timeout=30)
        status.request("GET", "/experiments")
        assert status.getresponse().status == 200  # serving all along
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_table_sorts_once_per_column_and_filters_within_that_order() -> None:
    from cairn.dashboard.table import ExperimentTable

    rows = [
        {"name": "a", "created": "1", "metrics.acc": 0.5, "metrics.tag": 1},
        {"name": "b", "created": "2", "metrics.acc": 0.9, "metrics.tag": "x"},
        {"name": "c", "created": "3", "metrics.tag": 2},  # no acc: last in either direction
        {"name": "d", "created": "4", "metrics.acc": 0.5, "metrics.tag": 3},
    ]
    table = ExperimentTable(rows)

    def order(sort, direction, filters=()):
        return [r["name"] for r in table.page(sort, direction, list(filters), 1, 10)["data"]]

    assert order(None, "asc") == ["d", "c", "b", "a"]  # newest first
    assert order("metrics.acc", "asc") == ["a", "d", "b", "c"]  # ties keep their order, as `exp show`
    assert order("metrics.acc", "desc") == ["b", "a", "d", "c"]
    assert order("metrics.acc", "desc", ["metrics.acc<0.6"]) == ["a", "d"]
    assert order("metrics.acc", "asc", ["metrics.tag>=2"]) == ["d", "c"]  # "x" is no number: left out
    assert order("metrics.tag", "asc") == ["a", "c", "d", "b"]  # numbers and text: compared as text
    assert table.page("metrics.acc", "desc", ["metrics.acc<0.6"], 1, 10)["last_row"] == 2
    # a new sort's first pages come from a partial sort (heapq), the others from the whole sort
    # (then kept): the same rows in the same order
    for sort, direction, filters in [
        ("metrics.acc", "desc", []),
        ("metrics.tag", "asc", []),
        ("metrics.acc", "asc", ["metrics.tag>=2"]),
    ]:
        partial = order(sort, direction, filters)
        whole = [r["name"] for r in table.view(sort, direction, filters)]
        assert partial == whole
        assert [r["name"] for r in table.page(sort, direction, filters, 2, 1)["data"]] == whole[1:2]


def test_a_huge_metrics_file_is_bounded_to_the_first_columns() -> None:
    from cairn.dashboard.table import MAX_COLUMNS, ExperimentTable

    metrics = {f"metrics.k{k:05d}": k for k in range(5000)}
    rows = [{"name": f"e{i}", "created": f"2026-01-0{i + 1}"} | metrics for i in range(3)]
    table = ExperimentTable(rows)
    assert table.all_columns == 5002 and len(table.columns) == MAX_COLUMNS
    doc = table.page("metrics.k00001", "desc", [], 1, 10)
    assert [r["name"] for r in doc["data"]] == ["e0", "e1", "e2"]
    assert all(len(r) == MAX_COLUMNS for r in doc["data"])  # only the columns the page shows


@pytest.mark.parametrize("size", ["0", "-5", "x", "100000"])
def test_page_sizes_are_bounded(ui, size: str) -> None:
    doc = ui.get(f"/api/experiments?size={size}&page=99").json()
    assert 1 <= len(doc["data"]) <= 3 and doc["last_row"] == 3


# -- queue ---------------------------------------------------------------------------------------


@pytest.fixture
def queued(ui_project: Path, tmp_path: Path, run_cairn) -> Path:
    """A copy of the module's project with one experiment queued (the original stays as it is)."""
    root = tmp_path / "proj"
    shutil.copytree(ui_project, root, symlinks=True)
    run_cairn("exp", "run", "--queue", "-n", "later", "-S", "train.lr=0.4", cwd=root)
    return root


def statuses(text: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-name="([\w.-]+)" data-status="(\w+)">', text))


def test_queue_lists_entries_and_the_log_of_one(queued: Path, start_ui, run_cairn) -> None:
    ui = start_ui(queued)
    page = ui.get("/queue")
    assert page.status == 200 and statuses(page.text) == {"later": "queued"}
    assert 'hx-trigger="every 2s"' in page.text  # the page polls itself
    run_cairn("exp", "run", "--run-all", cwd=queued)
    fragment = ui.get("/queue?name=later", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="queue"')  # the fragment alone, to swap in
    assert statuses(fragment.text) == {"later": "success"}
    log = re.search(r'<pre id="log">(.*?)</pre>', fragment.text, re.S).group(1)
    assert "Running stage &#39;train&#39; (param train.lr 0.2 -&gt; 0.4)" in log
    assert "Experiment &#39;later&#39;: success" in log


def test_the_log_of_an_unknown_entry_is_a_404(ui) -> None:
    page = ui.get("/queue?name=nope")
    assert page.status == 404 and "there is no experiment &#39;nope&#39; in the queue" in page.text
    assert "Nothing queued" in ui.get("/queue").text
