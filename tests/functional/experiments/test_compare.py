"""Comparing experiments: `exp show` (baselines, sorting, filters, formats, changed columns,
environment), `exp diff`, `exp list`, and the derived index rebuilt from the refs."""

from __future__ import annotations

import csv
import io
import json
import platform
import sqlite3

import pytest

from cairn.errors import UserInputError


def sweep(exp_repo, name: str = "s", lrs: str = "0.1,0.2,0.3") -> None:
    """Queued experiments NAME-1.. with train.lr from `lrs` (acc = 1.02 - lr), run now."""
    exp_repo.exp("run", "--queue", "-n", name, "-S", f"train.lr={lrs}")
    exp_repo.exp("run", "--run-all", "-j", "3")


def md_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    assert lines[1].startswith("|---|")
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in [lines[0], *lines[2:]]]


def test_show_sorts_filters_and_formats(exp_repo, assert_error):
    sweep(exp_repo)
    names = lambda *args: [r["name"] for r in exp_repo.show(*args)]  # noqa: E731
    assert names("--sort-by", "metrics.acc") == ["s-3", "s-2", "s-1"]
    assert names("--sort-by", "metrics.acc", "--sort-order", "desc") == ["s-1", "s-2", "s-3"]
    assert names("--sort-by", "params.train.lr", "--sort-order", "desc") == ["s-3", "s-2", "s-1"]
    assert names("--filter", "metrics.acc>0.8", "--sort-by", "name") == ["s-1", "s-2"]
    assert names("--filter", "params.train.lr<=0.1") == ["s-1"]
    assert names("--filter", "metrics.acc == 0.72") == ["s-3"]
    assert names("--filter", "metrics.acc>0.99") == []
    # env columns filter and sort without --env showing them; none of these runs was dirty
    assert names("--filter", "env.dirty==false", "--sort-by", "name") == ["s-1", "s-2", "s-3"]
    assert sorted(names("--sort-by", "env.python")) == ["s-1", "s-2", "s-3"]
    assert names("--filter", "env.dirty==true") == []
    assert "env.python" not in exp_repo.show()[0]
    text = exp_repo.exp("show", "--filter", "metrics.acc>0.99").stdout
    assert text == "No experiment matches 'metrics.acc>0.99'.\n"  # not "No experiments for this commit"

    (row,) = exp_repo.show("--filter", "params.train.lr<=0.1")
    assert {k: row[k] for k in ("status", "params.train.lr", "params.train.depth", "metrics.acc", "metrics.loss")} == {
        "status": "success",
        "params.train.lr": 0.1,
        "params.train.depth": 2,
        "metrics.acc": 0.92,
        "metrics.loss": 0.08,
    }

    out = exp_repo.exp("show", "--csv", "--sort-by", "metrics.acc", "--sort-order", "desc").stdout
    table = list(csv.DictReader(io.StringIO(out)))
    assert [(r["name"], r["metrics.acc"], r["params.train.lr"]) for r in table] == [
        ("s-1", "0.92", "0.1"),
        ("s-2", "0.82", "0.2"),
        ("s-3", "0.72", "0.3"),
    ]
    assert list(table[0])[:4] == ["name", "baseline", "created", "status"]

    rows = md_rows(exp_repo.exp("show", "--md", "--sort-by", "name").stdout)
    assert rows[0][:4] == ["name", "baseline", "created", "status"]
    assert [r[0] for r in rows[1:]] == ["s-1", "s-2", "s-3"]

    changed = md_rows(exp_repo.exp("show", "--md", "--only-changed", "--sort-by", "name").stdout)
    # (created differs only when the runs finished in different seconds)
    assert [c for c in changed[0] if c != "created"] == [
        "name",
        "status",
        "params.train.lr",
        "metrics.acc",
        "metrics.loss",
    ]


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--filter", "metrics.acc~0.9"], "cannot read the filter 'metrics.acc~0.9'", "metrics.acc>0.9"),
        (["--filter", "metrics.f1>0.5"], "no experiment has a column 'metrics.f1'", "columns: baseline, created"),
        (["--sort-by", "metrics.f1"], "cannot sort by 'metrics.f1': no such column", "columns: baseline"),
    ],
)
def test_show_bad_filter_or_sort_column(exp_repo, assert_error, args, message, hint):
    exp_repo.exp("run", "-n", "one")
    assert_error(exp_repo.exp("show", *args, expect=None), UserInputError, message, hint)


def test_show_groups_by_baseline_and_defaults_to_head(exp_repo):
    sweep(exp_repo, "old", "0.3,0.1")  # old-1: acc 0.72, old-2: acc 0.92
    first = exp_repo.git("rev-parse", "HEAD").strip()
    exp_repo.write("prepare.py", exp_repo.read("prepare.py") + "# a code change\n")
    second = exp_repo.commit("new baseline")
    assert exp_repo.exp("show").stdout == (
        "No experiments for this commit (-A shows all). Run one with `cairn exp run`.\n"
    )
    sweep(exp_repo, "new", "0.2")  # one experiment "new": acc 0.82

    assert [r["name"] for r in exp_repo.show()] == ["new"]  # HEAD's experiments only
    assert sorted(r["name"] for r in exp_repo.show("-A")) == ["new", "old-1", "old-2"]

    # sorted by acc the baselines interleave (0.72 old, 0.82 new, 0.92 old); the table keeps each
    # baseline's rows together, sorted within it
    rows = md_rows(exp_repo.exp("show", "-A", "--md", "--sort-by", "metrics.acc").stdout)
    assert [(r[0], r[1]) for r in rows[1:]] == [("old-1", first[:7]), ("old-2", first[:7]), ("new", second[:7])]

    # experiments of different baselines differ in the code they ran
    env = {row["key"]: row for row in json.loads(exp_repo.exp("diff", "old-1", "new", "--json").stdout)["env"]}
    assert (env["commit"]["old"], env["commit"]["new"]) == (first, second)


def test_list(exp_repo):
    assert exp_repo.exp("list").stdout == "No experiments.\n"
    exp_repo.exp("run", "-n", "ws")
    head = exp_repo.git("rev-parse", "HEAD").strip()
    (entry,) = json.loads(exp_repo.exp("list", "--json").stdout)
    commit = exp_repo.git("rev-parse", f"refs/cairn/exps/{head}/ws").strip()
    assert entry == {
        "name": "ws",
        "baseline": head,
        "status": "success",
        "commit": commit,
        "ref": f"refs/cairn/exps/{head}/ws",
    }
    assert exp_repo.exp("list").stdout == f"ws\t{head[:7]}\tsuccess\t{commit[:7]}\n"


def fake_distribution(folder, name: str, version: str) -> str:
    """A folder that, on PYTHONPATH, adds an installed distribution to importlib.metadata."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return str(folder)


def test_environment_is_recorded_shown_and_diffed(exp_repo, tmp_path):
    exp_repo.exp("run", "-n", "clean")  # a clean workspace, the venv's packages
    # what a run leaves in the workspace (its params, cairn.lock, metrics) is the pipeline's own:
    # the run after it is not dirty
    exp_repo.exp("run", "-n", "moved", "-S", "train.lr=0.3")
    assert exp_repo.git("status", "--porcelain").strip(), "the run left nothing in the workspace"
    exp_repo.exp("run", "-n", "after", "-S", "train.lr=0.1")
    assert exp_repo.by_name("--env")["after"]["env.dirty"] is False
    # an uncommitted file makes the workspace dirty, and one more package is installed
    exp_repo.write("notes.txt", "work in progress\n")
    extra_site = fake_distribution(tmp_path / "site", "fakepkg-for-cairn", "9.9")
    exp_repo.exp("run", "-n", "extra", "-S", "train.lr=0.2", env={"PYTHONPATH": extra_site})

    rows = exp_repo.by_name("--env")
    clean, extra = rows["clean"], rows["extra"]
    assert clean["env.python"] == extra["env.python"] == platform.python_version()
    assert clean["env.platform"] == platform.platform()
    assert (clean["env.dirty"], extra["env.dirty"]) == (False, True)
    assert clean["env.fingerprint"] != extra["env.fingerprint"]
    meta = json.loads(exp_repo.git("log", "-1", "--format=%B", exp_repo.ref("extra")).split("\n\n", 1)[1])
    assert "fakepkg-for-cairn==9.9" in meta["env"]["packages"]
    assert meta["env"]["commit"] == exp_repo.git("rev-parse", "HEAD").strip()

    header = md_rows(exp_repo.exp("show", "--env", "--only-changed", "--md").stdout)[0]
    assert {"env.fingerprint", "env.dirty"} <= set(header)
    assert "env.python" not in header and "env.platform" not in header

    lines = exp_repo.exp("diff", "clean", "extra").stdout.splitlines()
    assert "params\ttrain.lr\t0.1 -> 0.2 (+0.1)" in lines
    assert "metrics\tacc\t0.92 -> 0.82 (-0.1)" in lines
    assert "env\tdirty\tFalse -> True" in lines
    assert f"env\tfingerprint\t{clean['env.fingerprint']} -> {extra['env.fingerprint']}" in lines
    assert "env\tpackage\t- -> fakepkg-for-cairn==9.9" in lines

    d = json.loads(exp_repo.exp("diff", "clean", "extra", "--json").stdout)
    assert {"file": "params.yaml", "key": "train.lr", "old": 0.1, "new": 0.2, "change": pytest.approx(0.1)} in d[
        "params"
    ]
    assert {"key": "package", "old": None, "new": "fakepkg-for-cairn==9.9"} in d["env"]

    # against the workspace (which holds extra's results, without the extra package)
    d = json.loads(exp_repo.exp("diff", "extra", "--json").stdout)
    assert d["params"] == [] and d["metrics"] == []
    assert {"key": "package", "old": "fakepkg-for-cairn==9.9", "new": None} in d["env"]


def test_diff_of_identical_and_unknown_experiments(exp_repo, assert_error):
    exp_repo.exp("run", "-n", "same")
    exp_repo.reset()
    assert exp_repo.exp("diff", "same", "same").stdout == "No differences.\n"
    assert_error(
        exp_repo.exp("diff", "sam", expect=None),
        UserInputError,
        "there is no experiment named 'sam'",
        "did you mean 'same'?",
    )


def _damage(db, how: str) -> None:
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    if how == "deleted":
        db.unlink()
    elif how == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    elif how == "truncated":
        db.write_bytes(db.read_bytes()[:100])
    else:
        con = sqlite3.connect(db)
        if how == "bad rows":
            con.execute("UPDATE exps SET meta = 'not json'")
        elif how == "unknown fields":
            con.execute("""UPDATE exps SET meta = '{"name": "x", "from_the_future": 1}'""")
        elif how == "other schema":
            con.execute("DROP TABLE exps")
            con.execute("CREATE TABLE exps (something TEXT)")
        con.commit()
        con.close()


def test_the_index_is_rebuilt_when_missing_or_damaged(exp_repo):
    sweep(exp_repo, "i", "0.1,0.2")
    expected = exp_repo.show("-A", "--sort-by", "name")
    db = exp_repo.root / ".cairn" / "state" / "exps.db"
    for how in ("deleted", "garbage", "truncated", "bad rows", "unknown fields", "other schema"):
        assert db.exists()
        _damage(db, how)
        proc = exp_repo.exp("show", "-A", "--sort-by", "name", "--json", expect=None)
        assert proc.returncode == 0, f"{how}: {proc.stderr}"
        assert json.loads(proc.stdout) == expected, how

    # the refs are the truth: a ref deleted behind cairn's back disappears from the index
    exp_repo.git("update-ref", "-d", exp_repo.ref("i-1"))
    assert [r["name"] for r in exp_repo.show("-A")] == ["i-2"]
