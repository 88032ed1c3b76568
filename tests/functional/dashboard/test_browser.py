"""`cairn ui` in a real headless Chromium (Debian's chromium, driven by Playwright for Python):
the experiments table renders its rows, sorts by a metric on the server, two rows are selected
and compared, with the plots drawn. A test fails on any request that leaves 127.0.0.1 and on
any console or page error. Screenshots are kept in the test's folder for people to look at."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium; CI installs it)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


class Watched:
    """A page whose foreign requests and errors are collected, to be asserted empty."""

    def __init__(self, page, base: str, shots: Path) -> None:
        self.page, self.base, self.shots = page, base, shots
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.route("**/*", self._route)

    def _route(self, route) -> None:
        if urlsplit(route.request.url).hostname != "127.0.0.1":
            self.problems.append(f"request left 127.0.0.1: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.ready()

    def ready(self) -> None:
        self.page.wait_for_selector("body[data-ready='1']", timeout=15000)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser, ui, tmp_path: Path) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    watched = Watched(context.new_page(), ui.url, tmp_path)
    yield watched
    context.close()
    assert watched.problems == []


def rows(page) -> list[str]:
    return page.locator(".tabulator-row .tabulator-cell[tabulator-field='name']").all_inner_texts()


def test_sort_select_and_compare_in_a_browser(page: Watched) -> None:
    p = page.page
    page.open("/experiments")
    p.wait_for_selector(".tabulator-row")
    assert sorted(rows(p)) == ["fast", "mid", "slow"]
    assert p.locator("#count").inner_text() == "3 of 3 experiments"
    page.shot("experiments")

    p.click("#chooser summary")  # choose columns: hide one, then bring it back
    p.uncheck("#chooser-list input[data-column='params.train.depth']")
    assert p.locator(".tabulator-col[tabulator-field='params.train.depth']").is_hidden()
    p.check("#chooser-list input[data-column='params.train.depth']")
    assert p.locator(".tabulator-col[tabulator-field='params.train.depth']").is_visible()
    p.click("#chooser summary")

    loads = p.evaluate("document.body.dataset.loads")
    header = p.locator(".tabulator-col[tabulator-field='metrics.acc'] .tabulator-col-title")
    header.click()  # a metric sorts highest first on the first click
    p.wait_for_function(f"document.body.dataset.loads !== '{loads}'")
    assert rows(p) == ["fast", "mid", "slow"]
    loads = p.evaluate("document.body.dataset.loads")
    header.click()
    p.wait_for_function(f"document.body.dataset.loads !== '{loads}'")
    assert rows(p) == ["slow", "mid", "fast"]

    loads = p.evaluate("document.body.dataset.loads")
    p.fill("#filter", "params.train.lr>=0.3")
    p.press("#filter", "Enter")
    p.wait_for_function(f"document.body.dataset.loads !== '{loads}'")
    assert rows(p) == ["slow", "mid"]
    assert p.locator("#count").inner_text() == "2 of 3 experiments"

    for name in ("slow", "mid"):
        cell = p.locator(f".tabulator-cell[tabulator-field='name']:text-is('{name}')")
        p.locator(".tabulator-row", has=cell).locator("input[type=checkbox]").check()
    p.click("#compare")
    p.wait_for_url("**/compare?exp=*")
    page.ready()
    assert p.locator("#compare-table th").all_inner_texts()[2:] == ["slow", "mid"]
    assert p.locator("#chart-0 canvas").count() == 1  # the curve of both runs, drawn by the vendored Vega
    page.shot("compare")


def test_the_branch_commits_show_when_asked(page: Watched) -> None:
    p = page.page
    page.open("/experiments")
    p.wait_for_selector(".tabulator-row")
    loads = p.evaluate("document.body.dataset.loads")
    p.check("#commits")
    p.wait_for_function(f"document.body.dataset.loads !== '{loads}'")
    assert len(rows(p)) == 5 and p.locator("#count").inner_text() == "5 of 5 rows"
    statuses = p.locator(".tabulator-row .tabulator-cell[tabulator-field='status']").all_inner_texts()
    assert statuses.count("commit") == 2


def test_a_bad_filter_is_shown_and_the_table_stays(page: Watched) -> None:
    p = page.page
    page.open("/experiments")
    p.wait_for_selector(".tabulator-row")
    p.fill("#filter", "metrics.nope>1")
    p.press("#filter", "Enter")
    p.wait_for_selector("#filter-error:not([hidden])")
    assert "no experiment has a column 'metrics.nope'" in p.inner_text("#filter-error")
    assert sorted(rows(p)) == ["fast", "mid", "slow"]  # the rows stay
    # the browser logs the expected 400 itself; anything else still fails the test
    page.problems = [x for x in page.problems if "400 (Bad Request)" not in x]


def test_pipeline_trends_lineage_data_and_models_pages_render(page: Watched) -> None:
    p = page.page
    page.open("/pipeline")
    assert p.locator("svg.dag g.stage[data-state='up to date']").count() == 1
    page.shot("pipeline")
    page.open("/trends")
    assert p.locator("#trend svg").count() == 1
    page.shot("trends")
    page.open("/lineage")
    p.fill("input[name=path]", "out/model.txt")
    p.click("button[type=submit]")
    p.wait_for_selector("#lineage-text")
    assert "written by stage train" in p.inner_text("#lineage-text")
    assert p.locator("#lineage-graph g.node[data-node='stage:train']").count() == 1
    assert p.url.endswith("/lineage?path=out%2Fmodel.txt") or "path=out" in p.url
    page.shot("lineage")
    page.open("/data")
    assert p.locator("#no-data").count() == 1
    page.open("/models")
    assert p.locator("#no-models").count() == 1


def test_the_queue_page_updates_without_reload(browser, ui_project: Path, tmp_path: Path, start_ui, run_cairn) -> None:
    root = tmp_path / "proj"
    shutil.copytree(ui_project, root, symlinks=True)
    run_cairn("exp", "run", "--queue", "-n", "later", "-S", "train.lr=0.4", cwd=root)
    ui = start_ui(root)
    context = browser.new_context()
    page = Watched(context.new_page(), ui.url, tmp_path)
    try:
        page.open("/queue?name=later")
        p = page.page
        p.evaluate("window.notReloaded = true")
        assert p.locator("tr[data-name='later']").get_attribute("data-status") == "queued"
        run_cairn("exp", "run", "--run-all", cwd=root)
        p.wait_for_selector("tr[data-name='later'][data-status='success']", timeout=15000)
        assert p.evaluate("window.notReloaded") is True  # swapped in place by htmx, no reload
        assert "Experiment 'later': success" in p.inner_text("#log")
        page.shot("queue")
    finally:
        context.close()
    assert page.problems == []


def test_data_statistics_load_on_a_click(browser, data_project: Path, start_ui, tmp_path: Path) -> None:
    ui = start_ui(data_project)
    context = browser.new_context()
    page = Watched(context.new_page(), ui.url, tmp_path)
    try:
        page.open("/data?path=table.csv")
        p = page.page
        p.locator(".stats-button").first.click()
        p.wait_for_selector("#stats-view")
        assert "3 rows, 3 columns" in p.inner_text("#stats-view")
        assert p.locator("#stats tr[data-column='score']").count() == 1
        page.shot("data")
    finally:
        context.close()
    assert page.problems == []
