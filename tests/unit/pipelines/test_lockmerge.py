"""Three-way merge of cairn.lock: each rule of issue 26, unreadable sides refused, and
properties over generated locks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.errors import PipelineError
from cairn.pipelines import lock
from cairn.pipelines.lock import PathState, StageLock
from cairn.pipelines.lockmerge import merge_locks

A = "a" * 64
B = "b" * 64
C = "c" * 64


def _entry(lr: float = 0.1, out: str = B, cmd: str = "python train.py", env: str | None = None) -> StageLock:
    return StageLock(
        [cmd],
        deps=[PathState("data", "tree", A, 300, 3)],
        params={"params.yaml": {"train.lr": lr}},
        outs=[PathState("model.bin", "file", out, 12, 1)],
        env=env,
    )


def _text(**stages: StageLock) -> str:
    return lock.dump(stages, list(stages))


def _merge(base, ours, theirs):
    return merge_locks(base, ours, theirs, "cairn.lock")


BASE = _text(prepare=_entry(0.1), train=_entry(0.2), evaluate=_entry(0.3))


def test_one_sided_changes_are_taken_from_their_side():
    ours = _text(prepare=_entry(0.5, C), train=_entry(0.2), evaluate=_entry(0.3))
    theirs = _text(prepare=_entry(0.1), train=_entry(0.7, C), evaluate=_entry(0.3))
    text, dropped = _merge(BASE, ours, theirs)
    assert dropped == []
    assert text == _text(prepare=_entry(0.5, C), train=_entry(0.7, C), evaluate=_entry(0.3))


def test_a_stage_changed_differently_on_both_sides_is_dropped():
    ours = _text(prepare=_entry(0.1), train=_entry(0.8, C), evaluate=_entry(0.4))
    theirs = _text(prepare=_entry(0.1), train=_entry(0.9, A), evaluate=_entry(0.3))
    text, dropped = _merge(BASE, ours, theirs)
    assert dropped == ["train"]
    assert text == _text(prepare=_entry(0.1), evaluate=_entry(0.4))


def test_the_same_change_on_both_sides_is_taken():
    both = _text(prepare=_entry(0.1), train=_entry(0.8, C), evaluate=_entry(0.3))
    assert _merge(BASE, both, both) == (both, [])


def test_a_stage_added_on_one_side_is_taken_in_pipeline_order():
    ours = _text(prepare=_entry(0.1), train=_entry(0.2), evaluate=_entry(0.3), report=_entry(1.0))
    theirs = _text(prepare=_entry(0.1), clean=_entry(2.0), train=_entry(0.2), evaluate=_entry(0.3))
    text, dropped = _merge(BASE, ours, theirs)
    assert dropped == []
    # each new stage stays where its side's pipeline put it
    assert list(lock.parse(text, "x")) == ["prepare", "clean", "train", "evaluate", "report"]
    assert text == _text(
        prepare=_entry(0.1), clean=_entry(2.0), train=_entry(0.2), evaluate=_entry(0.3), report=_entry(1.0)
    )


def test_a_stage_added_differently_on_both_sides_is_dropped():
    ours = _text(prepare=_entry(0.1), train=_entry(0.2), evaluate=_entry(0.3), report=_entry(1.0))
    theirs = _text(prepare=_entry(0.1), train=_entry(0.2), evaluate=_entry(0.3), report=_entry(2.0))
    assert _merge(BASE, ours, theirs) == (
        _text(prepare=_entry(0.1), train=_entry(0.2), evaluate=_entry(0.3)),
        ["report"],
    )


def test_removed_on_one_side_and_unchanged_on_the_other_is_removed():
    ours = _text(prepare=_entry(0.1), evaluate=_entry(0.3))
    text, dropped = _merge(BASE, ours, BASE)
    assert (text, dropped) == (ours, [])
    text, dropped = _merge(BASE, BASE, ours)
    assert (text, dropped) == (ours, [])


def test_removed_on_both_sides_is_removed_not_reported():
    gone = _text(prepare=_entry(0.1), train=_entry(0.2))
    assert _merge(BASE, gone, gone) == (gone, [])


def test_removed_on_one_side_and_changed_on_the_other_is_dropped():
    ours = _text(prepare=_entry(0.1), evaluate=_entry(0.3))
    theirs = _text(prepare=_entry(0.1), train=_entry(0.9, C), evaluate=_entry(0.3))
    assert _merge(BASE, ours, theirs) == (ours, ["train"])
    assert _merge(BASE, theirs, ours) == (ours, ["train"])


def test_any_field_of_an_entry_counts_as_a_change():
    for changed in (_entry(cmd="python train.py --fast"), _entry(out=C), StageLock(["python train.py"])):
        ours = _text(prepare=_entry(0.1), train=changed, evaluate=_entry(0.3))
        theirs = _text(prepare=_entry(0.1), train=_entry(0.6), evaluate=_entry(0.3))
        assert _merge(BASE, ours, theirs)[1] == ["train"]


def test_without_a_base_equal_stages_are_kept_and_differing_ones_dropped():
    ours = _text(prepare=_entry(0.1), train=_entry(0.2), report=_entry(1.0))
    theirs = _text(prepare=_entry(0.1), train=_entry(0.5), evaluate=_entry(0.3))
    text, dropped = _merge(None, ours, theirs)
    assert dropped == ["train"]
    assert text == _text(prepare=_entry(0.1), evaluate=_entry(0.3), report=_entry(1.0))


def test_empty_sides_and_base_are_locks_without_stages():
    one = _text(train=_entry(0.2))
    assert _merge("", "", one) == (one, [])
    assert _merge(None, one, "") == (one, [])
    assert _merge(one, "", "") == (_text(), [])
    assert _text() == "version: 2\nstages: {}\n"


def test_the_output_is_what_repro_writes_for_the_same_entries(tmp_path):
    """A lock written by hand (other spacing, keys in another order) comes out as lock.write
    writes the merged entries."""
    ours = (
        "stages:\n  train:\n    outs: []\n    params: {params.yaml: {train.lr: 0.2}}\n"
        "    cmd: [python train.py]\nversion: 1\n"
    )
    text, _ = _merge(None, ours, ours)
    lock.write(tmp_path, {"train": StageLock(["python train.py"], params={"params.yaml": {"train.lr": 0.2}})}, [])
    assert text == (tmp_path / "cairn.lock").read_text()


@pytest.mark.parametrize("side", ["base", "ours", "theirs"])
def test_malformed_yaml_on_any_side_is_refused_naming_the_side(side):
    texts = {"base": BASE, "ours": BASE, "theirs": BASE, side: "stages:\n  train: [\n"}
    with pytest.raises(PipelineError) as e:
        merge_locks(texts["base"], texts["ours"], texts["theirs"], "sub/cairn.lock")
    assert e.value.message.startswith(f"cannot merge sub/cairn.lock: its {side} version is unreadable: ")
    assert "is not valid YAML" in e.value.message
    assert e.value.hint == (
        f"fix the {side} version of sub/cairn.lock, or settle it by hand: `git checkout --ours sub/cairn.lock` "
        "(or --theirs), `git add sub/cairn.lock`, then `cairn repro` reruns what is stale"
    )
    assert e.value.code == "bad-pipeline"


@pytest.mark.parametrize("side", ["base", "ours", "theirs"])
def test_an_unknown_version_on_any_side_is_refused(side):
    texts = {"base": BASE, "ours": BASE, "theirs": BASE, side: BASE.replace("version: 2", "version: 3")}
    with pytest.raises(PipelineError) as e:
        merge_locks(texts["base"], texts["ours"], texts["theirs"], "cairn.lock")
    assert e.value.message == (
        f"cannot merge cairn.lock: its {side} version is unreadable: "
        "cairn.lock has format version 3; this cairn reads 1 to 2"
    )
    assert e.value.hint == "upgrade cairn"


def test_environment_records_merge_with_their_entry():
    """A version 1 base; one side reran train (its entry now names an environment record), the
    other reran evaluate in another environment: both taken, the merged lock is version 2."""
    v1 = BASE.replace("version: 2", "version: 1")
    ours = _text(prepare=_entry(0.1), train=_entry(0.2, env=C), evaluate=_entry(0.3))
    theirs = _text(prepare=_entry(0.1), train=_entry(0.2), evaluate=_entry(0.3, env=A))
    text, dropped = _merge(v1, ours, theirs)
    assert dropped == []
    assert text == _text(prepare=_entry(0.1), train=_entry(0.2, env=C), evaluate=_entry(0.3, env=A))
    assert text.startswith("version: 2\n")
    # the same stage rerun on both sides in different environments: neither side is the merge's
    _, dropped = _merge(BASE, _text(train=_entry(0.2, env=C)), _text(train=_entry(0.2, env=A)))
    assert dropped == ["train"]


def test_a_damaged_entry_is_refused():
    damaged = BASE.replace(f"oid: {A}", "oid: nope", 1)
    with pytest.raises(PipelineError, match=r"its theirs version is unreadable: cairn.lock is damaged \(invalid oid"):
        _merge(BASE, BASE, damaged)


# -- properties over generated locks

_names = st.sampled_from(["prepare", "train", "evaluate", "report", "clean", "fetch"])
_oids = st.sampled_from([A, B, C])
_values = st.one_of(st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=5), st.booleans())
_states = st.builds(
    PathState,
    st.sampled_from(["data", "model.bin", "out/x"]),
    st.sampled_from(["file", "tree"]),
    _oids,
    st.integers(0, 10**12),
    st.integers(0, 10),
)
_entries = st.builds(
    StageLock,
    st.lists(st.sampled_from(["python a.py", "make", "échó"]), min_size=1, max_size=2),
    st.lists(_states, max_size=2),
    st.dictionaries(
        st.sampled_from(["params.yaml", "p.json"]),
        st.dictionaries(st.text(max_size=4), _values, max_size=2),
        max_size=2,
    ),
    st.lists(_states, max_size=2),
)
_locks = st.dictionaries(_names, _entries, max_size=4).map(lambda s: lock.dump(s, list(s)))


@settings(max_examples=100, deadline=None)
@given(_locks)
def test_a_lock_merged_with_itself_is_itself(x):
    assert merge_locks(x, x, x, "cairn.lock") == (x, [])


@settings(max_examples=100, deadline=None)
@given(_locks, _locks)
def test_a_change_on_our_side_only_is_our_version(base, ours):
    assert merge_locks(base, ours, base, "cairn.lock") == (ours, [])


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.none(), _locks), _locks, _locks)
def test_the_output_always_parses_and_holds_only_entries_of_a_side(base, ours, theirs):
    text, dropped = merge_locks(base, ours, theirs, "cairn.lock")
    merged = lock.parse(text, "merged")
    mine, other = lock.parse(ours, "o"), lock.parse(theirs, "t")
    assert not set(merged) & set(dropped)
    assert set(merged) | set(dropped) <= set(mine) | set(other)
    for name, entry in merged.items():
        assert lock.dump({name: entry}, []) in (
            lock.dump({name: mine[name]}, []) if name in mine else None,
            lock.dump({name: other[name]}, []) if name in other else None,
        )
    assert text == lock.dump(merged, list(merged))  # written as repro writes it
