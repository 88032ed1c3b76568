"""cairn.experiments.overrides: -S parsing, sweeps, writing params files."""

from __future__ import annotations

import datetime
import json
import math
import tomllib

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cairn.errors import UserInputError
from cairn.experiments import overrides as ovr
from cairn.experiments.overrides import Override


def values(spec: str) -> list:
    (alternatives,) = ovr.parse([spec])
    return [o.value for o in alternatives]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("lr=0.1", [0.1]),
        ("lr=1e-3", [0.001]),
        ("lr=-2.5E+2", [-250.0]),
        ("n=3", [3]),
        ("flag=true", [True]),
        ("name=resnet 50", ["resnet 50"]),
        ("name='1e-3'", ["1e-3"]),
        ("empty=", [""]),
        ("none=null", [None]),
        ("layers=[1, 2, 3]", [[1, 2, 3]]),
        ("opts={a: 1, b: x}", [{"a": 1, "b": "x"}]),
        ('tag="a,b"', ["a,b"]),
        ("lr=0.1,0.01, 0.001", [0.1, 0.01, 0.001]),
        ("d=range(2,8,2)", [2, 4, 6]),
        ("d=range( 3 , 0 , -1 )", [3, 2, 1]),
        ("d=range(0,3)", [0, 1, 2]),
        ("day=2024-01-31", [datetime.date(2024, 1, 31)]),
    ],
)
def test_values_and_sweeps(spec, expected):
    assert values(spec) == expected


def test_file_and_add_prefixes():
    ((o,),) = ovr.parse(["+conf/train.json:model.width=64"])
    assert o == Override("conf/train.json", "model.width", 64, add=True)
    ((o,),) = ovr.parse(["train.lr=0.1"])
    assert o == Override("params.yaml", "train.lr", 0.1, add=False)
    # the `+` where a user puts it after naming the file means the same
    ((o,),) = ovr.parse(["conf/train.json:+model.width=64"])
    assert o == Override("conf/train.json", "model.width", 64, add=True)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lr", "cannot read the override 'lr'"),
        ("=1", "cannot read the override '=1'"),
        ("lr=[1", "cannot parse the value in 'lr=[1'"),
        ('lr="open', "cannot parse the value in 'lr=\"open'"),
        ("d=range(1,5,0)", "range step is 0"),
        ("d=range(5,1)", "range(5,1) is empty"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(UserInputError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        ovr.parse([spec])


def test_combinations_are_the_cartesian_product_in_order():
    combos = ovr.combinations(ovr.parse(["a=1,2", "b=x,y,z"]))
    assert [[(o.key, o.value) for o in c] for c in combos] == [
        [("a", a), ("b", b)] for a in (1, 2) for b in ("x", "y", "z")
    ]
    assert ovr.combinations([]) == [[]]


# -- labels read back to the same override (the queue stores them) ------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, width=64),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)
nested = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.from_regex(r"[a-z]{1,4}", fullmatch=True), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(
    value=nested,
    file=st.sampled_from(["params.yaml", "conf/p.json", "x.toml"]),
    add=st.booleans(),
)
def test_label_reads_back_to_the_same_override(value, file, add):
    o = Override(file, "train.key", value, add)
    ((back,),) = ovr.parse([o.label()])
    assert back.file == o.file and back.key == o.key and back.add == o.add
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(back.value)
    else:
        assert back.value == value and type(back.value) is type(value)


@pytest.mark.parametrize("value", ["true", "0.1", "a,b", "range(1,3)", "[x]", "", "null", " padded ", "1e-5"])
def test_strings_that_look_like_something_else_are_quoted(value):
    o = Override("params.yaml", "k", value)
    assert ovr.parse([o.label()])[0] == [o]


def test_labels_stay_readable():
    assert Override("params.yaml", "train.lr", 0.1).label() == "train.lr=0.1"
    assert Override("params.yaml", "train.name", "resnet").label() == "train.name=resnet"
    assert Override("p.json", "x", [1, 2], add=True).label() == "+p.json:x=[1, 2]"
    assert Override("params.yaml", "t", "a,b").label() == 't="a,b"'


# -- applying --------------------------------------------------------------------------------------
def test_apply_to_yaml_keeps_key_order_and_other_values(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n  depth: 2\nseed: 7\n")
    ovr.apply(tmp_path, [Override("params.yaml", "train.lr", 0.5), Override("params.yaml", "new.k", 1, add=True)])
    text = (tmp_path / "params.yaml").read_text()
    assert yaml.safe_load(text) == {"train": {"lr": 0.5, "depth": 2}, "seed": 7, "new": {"k": 1}}
    assert text.index("train") < text.index("seed") < text.index("new")
    assert not list(tmp_path.glob(".*tmp"))


def test_apply_to_json_and_toml(tmp_path):
    (tmp_path / "p.json").write_text('{"a": {"b": 1}}')
    (tmp_path / "p.toml").write_text("[model]\nwidth = 8\n")
    ovr.apply(tmp_path, [Override("p.json", "a.b", 2), Override("p.toml", "model.width", 64)])
    assert json.loads((tmp_path / "p.json").read_text()) == {"a": {"b": 2}}
    assert tomllib.loads((tmp_path / "p.toml").read_text()) == {"model": {"width": 64}}


def test_apply_list_items_by_index(tmp_path):
    (tmp_path / "params.yaml").write_text("layers: [8, 16]\n")
    ovr.apply(tmp_path, [Override("params.yaml", "layers", [8, 32])])
    assert yaml.safe_load((tmp_path / "params.yaml").read_text()) == {"layers": [8, 32]}


def test_unknown_key_lists_the_known_ones(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.1\n  depth: 2\n")
    with pytest.raises(UserInputError) as e:
        ovr.apply(tmp_path, [Override("params.yaml", "train.lrr", 1)])
    assert e.value.message == "params.yaml has no param 'train.lrr' (it has: train.depth, train.lr)"
    assert e.value.hint == "fix the name, or add a new key with -S +train.lrr=..."
    assert (tmp_path / "params.yaml").read_text() == "train:\n  lr: 0.1\n  depth: 2\n"


def test_a_missing_params_file_has_no_keys_but_plus_creates_it(tmp_path):
    with pytest.raises(UserInputError) as e:
        ovr.apply(tmp_path, [Override("other.yaml", "x", 1)])
    # the file is named, and so is the `+` spelling that creates it (not `-S +x=`, params.yaml's)
    assert e.value.message == "there is no params file other.yaml for 'other.yaml:x'"
    assert e.value.hint == "fix the file name, or create it with -S +other.yaml:x=..."
    (tmp_path / "other.yaml").write_text("y: 1\n")
    with pytest.raises(UserInputError) as e:
        ovr.apply(tmp_path, [Override("other.yaml", "x", 1)])
    assert e.value.hint == "fix the name, or add a new key with -S +other.yaml:x=..."
    (tmp_path / "other.yaml").unlink()
    ovr.apply(tmp_path, [Override("other.yaml", "x", 1, add=True)])
    assert yaml.safe_load((tmp_path / "other.yaml").read_text()) == {"x": 1}


def test_a_key_below_a_scalar_is_refused(tmp_path):
    (tmp_path / "params.yaml").write_text("lr: 0.1\n")
    with pytest.raises(UserInputError, match=r"cannot set 'lr\.x': 'lr' is not a mapping"):
        ovr.apply(tmp_path, [Override("params.yaml", "lr.x", 1, add=True)])
