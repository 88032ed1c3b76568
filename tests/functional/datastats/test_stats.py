"""`cairn data stats` and `cairn data diff` over real versions of a CSV and a Parquet file."""

from __future__ import annotations

import json

import pytest

from cairn.errors import ConfigError, ObjectMissingError, PathError, UserInputError


def test_stats_of_every_version_computed_once(versions) -> None:
    first = versions.json("data", "stats", "data/t.csv", "--rev", "v1")
    assert first["from"] == "computed" and first["rev"] == "v1"
    rec = first["stats"]
    assert rec["version"] == 1 and rec["kind"] == "table" and rec["format"] == "csv" and rec["rows"] == 3000
    assert rec["data"] == first["oid"]
    cols = {c["name"]: c for c in rec["columns"]}
    assert list(cols) == ["x", "k", "n"]
    assert cols["x"]["type"] == "Float64" and abs(cols["x"]["mean"]) < 0.1 and 0.9 < cols["x"]["std"] < 1.1
    assert set(cols["x"]["quantiles"]) == {"1", "5", "25", "50", "75", "95", "99"}
    assert sum(cols["x"]["histogram"]["counts"]) == 3000
    assert {v for v, _ in cols["k"]["top"]} == {"a", "b", "c"} and cols["k"]["distinct"] == 3
    again = versions.json("data", "stats", "data/t.csv", "--rev", "v1")
    assert again["from"] == "cache" and again["stats"] == rec
    # the record sits in the cache under the data's id
    oid = first["oid"]
    stored = versions.root / ".cairn" / "cache" / "stats" / oid[:2] / f"{oid[2:]}.json"
    assert json.loads(stored.read_bytes()) == rec

    # the workspace is v3: same bytes as at v3, so the same record
    ws = versions.json("data", "stats", "data/t.csv")
    v3 = versions.json("data", "stats", "data/t.csv", "--rev", "v3")
    assert ws["rev"] is None and ws["oid"] == v3["oid"] and v3["from"] == "cache"

    pq = versions.json("data", "stats", "data/t.parquet", "--rev", "v2")
    assert pq["stats"]["format"] == "parquet" and pq["stats"]["rows"] == 3000
    assert {c["name"]: c["type"] for c in pq["stats"]["columns"]} == {"x": "Float64", "k": "String", "n": "Int64"}


def test_a_stored_record_is_read_without_polars_or_git(versions) -> None:
    from importtime import PROFILE_IMPORTS, imported

    versions.cairn("data", "stats", "data/t.csv")
    proc = versions.cairn("data", "stats", "data/t.csv", "--json", env=PROFILE_IMPORTS)
    assert json.loads(proc.stdout)["from"] == "cache"
    assert not {"polars", "pygit2", "yaml"} & imported(proc)


def test_human_output(versions) -> None:
    out = versions.cairn("data", "stats", "data/t.parquet", "--all").stdout
    assert "3,000 rows, 3 columns" in out
    assert out.splitlines()[4].split()[:2] == ["x", "Float64"]
    # computed now, then read back from the stored record (keys sorted as text): same order
    again = versions.cairn("data", "stats", "data/t.parquet", "--all").stdout
    assert "stats computed now)" in out.splitlines()[0] and "stats from cache)" in again.splitlines()[0]
    for text in (out, again):
        line = next(x for x in text.splitlines() if x.startswith("  quantiles  "))
        assert [w for w in line.split() if w.startswith("p")] == ["p1", "p5", "p25", "p50", "p75", "p95", "p99"]


@pytest.mark.parametrize("path", ["data/t.csv", "data/t.parquet"])
def test_diff_finds_the_known_drift_and_none_where_there_is_none(versions, path: str) -> None:
    drift = versions.json("data", "diff", path, "v1", "v2", "--stats")
    assert drift["a"]["rev"] == "v1" and drift["b"]["rev"] == "v2"
    cols = {c["name"]: c for c in drift["columns"]}
    assert cols["x"]["drift"]["method"] == "wasserstein" and cols["x"]["drift"]["drifted"]
    assert cols["k"]["drift"]["method"] == "jensenshannon" and cols["k"]["drift"]["drifted"]
    assert not cols["n"]["drift"]["drifted"]  # n did not change
    assert drift["dataset"]["drift"] and drift["dataset"]["drifted"] == 2 and drift["dataset"]["tested"] == 3

    none = versions.json("data", "diff", path, "v1", "v3", "--stats")
    assert not none["dataset"]["drift"] and none["dataset"]["drifted"] == 0

    versions.cairn("data", "diff", path, "v1", "v2", "--fail-on-drift", expect=1)
    out = versions.cairn("data", "diff", path, "v1", "v3", "--fail-on-drift").stdout
    assert "dataset: no drift (0 of 3 tested columns drifted; the dataset drifts at 50%)" in out


def test_diff_defaults_to_head_against_the_workspace_and_shows_column_changes(versions) -> None:
    import polars as pl

    df = pl.read_csv(versions.root / "data" / "t.csv").drop("n").with_columns(pl.col("x").alias("y"))
    df.write_csv(versions.root / "data" / "t.csv")
    out = versions.cairn("data", "diff", "data/t.csv").stdout
    assert out.splitlines()[:4] == [
        "data/t.csv: HEAD -> workspace",
        "rows 3,000 -> 3,000",
        "  - n (Int64)",
        "  + y (Float64)",
    ]
    doc = versions.json("data", "diff", "data/t.csv", "--stats", "--numeric", "psi", "--threshold", "psi=0.5")
    x = next(c for c in doc["columns"] if c["name"] == "x")
    assert x["drift"]["method"] == "psi" and x["drift"]["threshold"] == 0.5 and not x["drift"]["drifted"]


def test_pvalues_on_request(versions) -> None:
    doc = versions.json("data", "diff", "data/t.csv", "v1", "v2", "--stats", "--pvalues")
    cols = {c["name"]: c for c in doc["columns"]}
    assert cols["x"]["drift"]["method"] == "ks" and cols["x"]["drift"]["pvalue"] < 0.05
    assert cols["k"]["drift"]["method"] == "chisquare"
    assert doc["methods"]["pvalues"] is True


def test_a_folder_of_tables_and_a_file_inside_it(repo, tables) -> None:
    parts = repo.root / "parts"
    parts.mkdir()
    tables(1, rows=1000).write_csv(parts / "p1.csv")
    tables(2, rows=500).write_parquet(parts / "p2.parquet")
    repo.cairn("add", "parts")
    repo.commit("parts")
    doc = repo.json("data", "stats", "parts", "--rev", "HEAD")
    assert doc["stats"]["kind"] == "table" and doc["stats"]["format"] == "mixed"
    assert (doc["stats"]["rows"], doc["stats"]["files"]) == (1500, 2)
    inner = repo.json("data", "stats", "parts/p2.parquet", "--rev", "HEAD")
    assert inner["stats"]["rows"] == 500 and inner["from"] == "computed"


def test_a_folder_of_other_files(repo) -> None:
    imgs = repo.root / "images"
    (imgs / "cats").mkdir(parents=True)
    for i in range(3):
        (imgs / "cats" / f"c{i}.jpg").write_bytes(b"j" * (100 * (i + 1)))
    (imgs / "dog.png").write_bytes(b"p" * 50)
    (imgs / "README").write_bytes(b"r" * 7)
    repo.cairn("add", "images")
    repo.commit("images")
    rec = repo.json("data", "stats", "images", "--rev", "HEAD")["stats"]
    assert rec["kind"] == "files" and rec["files"] == 5 and rec["bytes"] == 657
    assert rec["extensions"] == [
        {"extension": ".jpg", "files": 3, "bytes": 600},
        {"extension": "(none)", "files": 1, "bytes": 7},
        {"extension": ".png", "files": 1, "bytes": 50},
    ]
    assert rec["sizes"]["min"] == 7 and rec["sizes"]["max"] == 300
    (imgs / "dog2.png").write_bytes(b"q" * 70)
    doc = repo.json("data", "diff", "images", "--stats")
    assert doc["files"] == [5, 6] and {"extension": ".png", "files": [1, 2], "bytes": [50, 120]} in doc["extensions"]
    assert "files 5 -> 6" in repo.cairn("data", "diff", "images").stdout


def test_bad_input(repo, tables, assert_error) -> None:
    d = repo.root
    (d / "bad.csv").write_text("a,b,c\n1,x,2.5\n2,y,3\n3,z,4,9\n")
    assert_error(
        repo.cairn("data", "stats", "bad.csv", expect=None),
        UserInputError,
        "bad.csv line 4: 4 fields where the header has 3",
        "fix that line (or quote the field)",
    )
    (d / "empty.csv").write_bytes(b"")
    assert_error(
        repo.cairn("data", "stats", "empty.csv", expect=None),
        UserInputError,
        "empty.csv is empty (0 bytes): there is no table to describe",
    )
    (d / "model.bin").write_bytes(b"\x00weights")
    assert_error(
        repo.cairn("data", "stats", "model.bin", expect=None),
        UserInputError,
        "model.bin is not a table: cairn reads CSV/TSV (.csv, .tsv), Parquet (.parquet) and JSON Lines",
    )
    (d / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert_error(
        repo.cairn("data", "stats", "photo.csv", expect=None),
        UserInputError,
        "photo.csv is not a CSV file: it holds binary data",
    )
    assert_error(repo.cairn("data", "stats", "nothere.csv", expect=None), PathError, "nothere.csv does not exist")
    for root in ("", "."):  # the root is no dataset (it used to read "'' is outside the repository")
        assert_error(repo.cairn("data", "stats", root, expect=None), PathError, f"{root!r} names the repository root")
    assert_error(
        repo.cairn("data", "stats", "bad.csv", "--rev", "HEAD", expect=None),
        PathError,
        "bad.csv is not tracked at HEAD: no pointer (bad.csv.cairn) and no pipeline output there",
    )
    assert_error(
        repo.cairn("data", "diff", "bad.csv", "--stats", "--numeric", "mean", expect=None),
        UserInputError,
        "unknown drift method 'mean' for numeric columns",
    )
    proc = repo.cairn("data", "diff", "bad.csv", "--threshold", "psi", expect=2)
    assert "'psi' is not METHOD=NUMBER (e.g. psi=0.2)" in proc.stderr
    # a remote named with -r must exist, even when the data is here and it is never read
    for cmd in (["stats", "empty.csv"], ["diff", "empty.csv"]):
        assert_error(
            repo.cairn("data", *cmd, "-r", "nope", expect=None),
            ConfigError,
            "there is no remote named 'nope'",
        )

    # NaN and inf, mixed types, an identifier column: stats with warnings, not errors
    lines = ["v,m,id"] + [f"{i}.5,{i},u{i}" for i in range(20_100)] + ["nan,text,z1", "inf,7,z2", "-inf,8,z3"]
    (d / "odd.csv").write_text("\n".join(lines) + "\n")
    proc = repo.cairn("data", "stats", "odd.csv")
    assert "warning: column 'v' holds 1 NaN and 2 infinite values: counted apart, left out of min, max" in proc.stdout
    assert (
        "warning: column 'm' mixes numbers and text (20,102 numbers, text such as 'text'): read as text" in proc.stdout
    )
    assert "warning: column 'id' has ~" in proc.stdout and "drift skips it" in proc.stdout
    rec = repo.json("data", "stats", "odd.csv")["stats"]
    v = rec["columns"][0]
    assert (v["nan"], v["inf"], v["finite"], v["min"]) == (1, 2, 20_100, 0.5)


def test_a_version_whose_data_is_nowhere(versions, fresh_copy, assert_error) -> None:
    other = fresh_copy(versions, "other")
    import shutil

    shutil.rmtree(other.root / ".cairn" / "cache")
    assert_error(
        other.cairn("data", "stats", "data/t.csv", "--rev", "v1", expect=None),
        ObjectMissingError,
        "the data of data/t.csv at v1 is not on this machine and no remote holds its stats",
        "get it with `cairn pull` (or `cairn fetch`) at that revision, or compute its stats where the data "
        "is and `cairn push` them",
    )
