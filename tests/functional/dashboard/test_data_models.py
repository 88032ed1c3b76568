"""The Data and Models pages over HTTP: tracked data with its versions over the branch's
history and the file changes between two of them; the model registry's versions and stages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def data_ui(data_project: Path, start_ui):
    return start_ui(data_project)


def test_data_lists_tracked_paths_versions_and_the_diff_of_two(data_ui, git, data_project: Path) -> None:
    page = data_ui.get("/data")
    assert page.status == 200
    row = re.search(r'<tr data-path="raw">(.*?)</tr>', page.text).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["tree", "17 B", "3", "2"]  # a, b corrected, c
    versions = data_ui.get("/data?path=raw").text
    shown = re.findall(r'<tr data-commit="(\w+)">', versions)
    log = git("log", "--format=%h", "-n", "2", cwd=data_project).split()
    assert shown == [c[:7] for c in log]  # newest first, one row per version
    old, new = git("rev-parse", "HEAD~1", cwd=data_project).strip(), git("rev-parse", "HEAD", cwd=data_project).strip()
    diff = data_ui.get(f"/data?path=raw&a={old}&b={new}").text
    changes = re.findall(r"<tr><td>(\w+)</td><td>([^<]+)</td>", diff)
    assert changes == [("modified", "raw/b.txt"), ("added", "raw/c.txt")]


def test_data_statistics_of_a_table_and_a_folder(data_ui) -> None:
    table = data_ui.get("/data/stats?path=table.csv&rev=HEAD", headers={"HX-Request": "true"})
    assert table.status == 200 and "table.csv at HEAD" in table.text and "3 rows, 3 columns" in table.text
    score = re.search(r'<tr data-column="score">(.*?)</tr>', table.text).group(1)
    assert re.findall(r"<td>([^<]*)</td>", score) == ["score", "Float64", "1", "2", "0.5", "1.5", "1", "0.707107"]
    folder = data_ui.get("/data/stats?path=raw&rev=HEAD").text
    assert "3 files, 17 B" in folder and "<td>.txt</td><td>3</td>" in folder
    code = data_ui.get("/data/stats?path=train.py&rev=HEAD")
    assert code.status == 404 and "train.py is not tracked at HEAD" in code.text
    bare = data_ui.get("/data/stats?path=&rev=HEAD")
    assert bare.status == 404 and "names the repository root, not a dataset" in bare.text
    assert 'hx-get="/data/stats?path=table.csv&amp;rev=' in data_ui.get("/data?path=table.csv").text


def test_drift_between_two_versions_of_a_table_and_a_folder(data_ui) -> None:
    table = data_ui.get("/data/drift?path=table.csv&a=HEAD~1&b=HEAD", headers={"HX-Request": "true"}).text
    verdict = re.search(r'<p class="hint" id="drift-verdict">(.*?)</p>', table, re.S).group(1)
    assert "table.csv: 2 → 3 rows" in verdict and "the dataset drifted" in verdict
    assert re.search(r'<tr data-column="score" class="differs">', table)
    folder = data_ui.get("/data/drift?path=raw&a=HEAD~1&b=HEAD").text
    assert "raw: 2 → 3 files, 4 B → 17 B" in folder
    page = data_ui.get("/data?path=table.csv&a=HEAD~1&b=HEAD")
    assert 'hx-get="/data/drift?path=table.csv&amp;a=HEAD~1&amp;b=HEAD"' in page.text


def test_data_of_an_untracked_path_says_so(data_ui) -> None:
    page = data_ui.get("/data?path=nothing/here")
    assert page.status == 404 and "nothing/here is not tracked by cairn" in page.text


def test_models_show_versions_and_stages(data_ui) -> None:
    page = data_ui.get("/models")
    assert page.status == 200
    section = re.search(r'<section class="model" data-model="churn">(.*?)</section>', page.text, re.S).group(1)
    assert "latest v0.0.1" in section and "prod → v0.0.1" in section
    row = re.search(r'<tr data-version="v0.0.1">(.*?)</tr>', section).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells[:2] == ["v0.0.1", "prod"] and cells[-1] == "first model"


def test_a_repository_without_data_or_models_shows_hints(ui) -> None:
    assert "No tracked data at HEAD" in ui.get("/data").text
    assert "No registered models" in ui.get("/models").text


def test_new_and_removed_experiments_show_on_the_next_request(
    data_project: Path, tmp_path: Path, start_ui, run_cairn, git
) -> None:
    root = tmp_path / "proj"
    shutil.copytree(data_project, root, symlinks=True)
    ui = start_ui(root)
    assert ui.get("/api/experiments").json()["total"] == 0
    run_cairn("exp", "run", "-n", "later", "-S", "train.lr=0.4", cwd=root)
    assert [r["name"] for r in ui.get("/api/experiments").json()["data"]] == ["later"]
    git("pack-refs", "--all", cwd=root)  # the ref moves into packed-refs: still the same table
    assert [r["name"] for r in ui.get("/api/experiments").json()["data"]] == ["later"]
    run_cairn("exp", "remove", "later", cwd=root)
    assert ui.get("/api/experiments").json()["total"] == 0


def test_a_param_is_one_column_when_one_experiment_has_another_params_file(
    data_project: Path, tmp_path: Path, start_ui, run_cairn
) -> None:
    # `-S +conf/extra.yaml:a=1` gives one run a second params file: its train.lr must land in
    # the same column as the other run's, not in a params.params.yaml:train.lr of its own
    root = tmp_path / "proj"
    shutil.copytree(data_project, root, symlinks=True)
    run_cairn("exp", "run", "-n", "one", "-S", "train.lr=0.4", cwd=root)
    run_cairn("exp", "run", "-n", "two", "-S", "train.lr=0.3", "-S", "+conf/extra.yaml:a=1", cwd=root)
    rows = {r["name"]: r for r in start_ui(root).get("/api/experiments").json()["data"]}
    assert rows["one"]["params.params.yaml:train.lr"] == 0.4 and rows["two"]["params.params.yaml:train.lr"] == 0.3
    assert rows["two"]["params.conf/extra.yaml:a"] == 1
