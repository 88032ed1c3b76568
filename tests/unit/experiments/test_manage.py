"""cairn.experiments.manage: rows, filters, sorting, changed columns, diffs, dates."""

from __future__ import annotations

import pytest

from cairn.errors import UserInputError
from cairn.experiments import manage
from cairn.experiments.record import ExpInfo


def info(name: str, created: float = 0.0, baseline: str = "b" * 40, **kw) -> ExpInfo:
    return ExpInfo(name=name, baseline=baseline, status=kw.pop("status", "success"), created=created, **kw)


def rows():
    return [
        manage.flat_row(info("a", 1, params={"params.yaml": {"lr": 0.1}}, metrics={"m.json": {"acc": 0.9}})),
        manage.flat_row(info("b", 2, params={"params.yaml": {"lr": 0.2}}, metrics={"m.json": {"acc": 0.7}})),
        manage.flat_row(info("c", 3, params={"params.yaml": {"lr": 0.3}}, metrics={})),
    ]


def test_flat_row_names_files_only_when_there_are_several():
    one = manage.flat_row(info("x", params={"params.yaml": {"a": 1}}, metrics={"m.json": {"acc": 1}}))
    assert one["params.a"] == 1 and one["metrics.acc"] == 1 and one["baseline"] == "bbbbbbb"
    two = manage.flat_row(info("x", metrics={"m.json": {"acc": 1}, "n.json": {"acc": 2}}))
    assert two["metrics.m.json:acc"] == 1 and two["metrics.n.json:acc"] == 2


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("metrics.acc>0.8", ["a"]),
        ("metrics.acc >= 0.7", ["a", "b"]),
        ("params.lr<0.3", ["a", "b"]),
        ("params.lr==0.3", ["c"]),
        ("params.lr!=0.3", ["a", "b"]),
        ("metrics.acc<1", ["a", "b"]),  # rows without the value never match
    ],
)
def test_filter(expr, names):
    assert [r["name"] for r in manage.apply_filter(rows(), expr)] == names


def test_filter_compares_strings_and_skips_mismatched_types():
    rs = [{"name": "a", "params.opt": "adam"}, {"name": "b", "params.opt": 3}]
    assert [r["name"] for r in manage.apply_filter(rs, "params.opt=='adam'")] == ["a"]
    assert [r["name"] for r in manage.apply_filter(rs, "params.opt>1")] == ["b"]


def test_filter_reads_true_and_false_as_booleans():
    rs = [{"name": "a", "env.dirty": True}, {"name": "b", "env.dirty": False}]
    assert [r["name"] for r in manage.apply_filter(rs, "env.dirty==true")] == ["a"]
    assert [r["name"] for r in manage.apply_filter(rs, "env.dirty==False")] == ["b"]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("acc>1", "cannot read the filter"),
        ("metrics.acc~1", "cannot read the filter"),
        ("metrics.acc>>0.5", "cannot read the filter"),  # not acc > '>0.5', which matches nothing
        ("metrics.acc=>0.5", "cannot read the filter"),
        ("metrics.acc==", "cannot read the filter"),
        ("metrics.f1>1", "no experiment has a column 'metrics.f1'"),
    ],
)
def test_bad_filters(expr, message):
    with pytest.raises(UserInputError, match=message):
        manage.apply_filter(rows(), expr)


def test_sort_puts_rows_without_the_value_last_in_either_order():
    assert [r["name"] for r in manage.sort_rows(rows(), "metrics.acc", "asc")] == ["b", "a", "c"]
    assert [r["name"] for r in manage.sort_rows(rows(), "metrics.acc", "desc")] == ["a", "b", "c"]
    assert [r["name"] for r in manage.sort_rows(rows()[::-1], None, "asc")] == ["a", "b", "c"]  # by creation
    with pytest.raises(UserInputError, match="cannot sort by 'nope': no such column"):
        manage.sort_rows(rows(), "nope", "asc")


def test_sort_of_mixed_types_falls_back_to_text():
    rs = [{"name": "a", "params.x": "b"}, {"name": "b", "params.x": 1}]
    assert [r["name"] for r in manage.sort_rows(rs, "params.x", "asc")] == ["b", "a"]


def test_only_changed_columns():
    rs = [
        {"name": "a", "status": "success", "params.x": 1, "params.y": 5},
        {"name": "b", "status": "success", "params.x": 2, "params.y": 5},
    ]
    assert manage.columns(rs, only_changed=False) == ["name", "status", "params.x", "params.y"]
    assert manage.columns(rs, only_changed=True) == ["name", "status", "params.x"]
    assert manage.columns(rs[:1], only_changed=True) == ["name", "status", "params.x", "params.y"]


def test_diff_params_metrics_and_environment():
    a = info(
        "a",
        params={"params.yaml": {"lr": 0.1, "opt": "sgd"}},
        metrics={"m.json": {"acc": 0.5}},
        env={
            "python": "3.11.7",
            "platform": "Linux",
            "fingerprint": "f1",
            "commit": "c1",
            "dirty": False,
            "packages": ["x==1", "y==1"],
        },
    )
    env_b = {
        "python": "3.12.1",
        "platform": "Linux",
        "fingerprint": "f2",
        "commit": "c1",
        "dirty": True,
        "packages": ["x==2", "y==1"],
    }
    d = manage.diff(a, {"params.yaml": {"lr": 0.2, "opt": "adam"}}, {"m.json": {"acc": 0.75}}, env_b)
    assert d["params"] == [
        {"file": "params.yaml", "key": "lr", "old": 0.1, "new": 0.2, "change": pytest.approx(0.1)},
        {"file": "params.yaml", "key": "opt", "old": "sgd", "new": "adam", "change": None},
    ]
    assert d["metrics"] == [{"file": "m.json", "key": "acc", "old": 0.5, "new": 0.75, "change": 0.25}]
    assert d["env"] == [
        {"key": "python", "old": "3.11.7", "new": "3.12.1"},
        {"key": "fingerprint", "old": "f1", "new": "f2"},
        {"key": "dirty", "old": False, "new": True},
        {"key": "package", "old": "x==1", "new": None},
        {"key": "package", "old": None, "new": "x==2"},
    ]
    assert manage.diff(a, a.params, a.metrics, a.env) == {"params": [], "metrics": [], "env": []}


def test_diff_changes_are_rounded_as_in_metrics_diff_and_booleans_have_none():
    a = info("a", params={"p.yaml": {"lr": 0.15, "flag": False}}, metrics={"m.json": {"acc": 0.81}})
    d = manage.diff(a, {"p.yaml": {"lr": 0.05, "flag": True}}, {"m.json": {"acc": 0.83}}, a.env)
    # exactly, not approximately: --json must not print -0.09999999999999999
    assert [(r["key"], r["change"]) for r in d["params"]] == [("flag", None), ("lr", -0.1)]
    assert d["metrics"][0]["change"] == 0.02


def test_rows_name_a_param_alike_when_one_experiment_has_several_files():
    one = info("one", params={"params.yaml": {"x": 1}})
    two = info("two", params={"params.yaml": {"x": 2}, "conf/new.yaml": {"a": 1}})
    rows = manage.flat_rows([one, two])
    # x is one column, not params.x in one row and params.params.yaml:x in the other
    assert rows[0]["params.params.yaml:x"] == 1 and rows[1]["params.params.yaml:x"] == 2
    assert rows[1]["params.conf/new.yaml:a"] == 1 and "params.x" not in rows[0]
    assert manage.flat_rows([one])[0]["params.x"] == 1


def test_find_by_name_or_commit_prefix():
    infos = [info("alpha", commit="abcdef1234"), info("beta", commit="abc9999999")]
    assert manage.find(infos, "alpha").name == "alpha"
    assert manage.find(infos, "abcdef1").name == "alpha"
    with pytest.raises(UserInputError, match="there is no experiment named 'abc'"):
        manage.find(infos, "abc")  # too short to be a commit id
    with pytest.raises(UserInputError) as e:
        manage.find(infos, "alpah")
    assert e.value.hint == "did you mean 'alpha'?"


def test_older_than():
    infos = [info("old", created=0), info("new", created=2_000_000_000)]
    assert [i.name for i in manage.older_than(infos, "2020-01-01")] == ["old"]
    assert [i.name for i in manage.older_than(infos, "2040-01-01T00:00:00")] == ["old", "new"]
    with pytest.raises(UserInputError, match="cannot read the date 'soon'"):
        manage.older_than(infos, "soon")


def test_status_text_names_a_failed_stage_s_exit_code_or_signal():
    assert manage.status_text("failed", 3) == "failed (exit code 3)"
    assert manage.status_text("failed", -9) == "failed (killed by signal 9)"
    assert manage.status_text("failed", None) == "failed"  # the stage could not start
    assert manage.status_text("failed", 0) == "failed"  # commands succeeded, an output is missing
    assert manage.status_text("killed", 130) == "killed"
    assert manage.status_text("success", 0) == "success"


def test_exit_code_is_a_row_field_shown_within_status():
    row = manage.flat_row(info("x", status="failed", exit_code=3, params={"params.yaml": {"a": 1}}))
    assert (row["status"], row["exit_code"]) == ("failed", 3)
    assert manage.columns([row], only_changed=False) == ["name", "baseline", "created", "status", "params.a"]
