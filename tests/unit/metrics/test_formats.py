"""Metrics, params and plot data files: parsing, flattening, and errors with file, revision, line."""

from __future__ import annotations

import pytest

from cairn.errors import PipelineError
from cairn.metrics import formats

WS = formats.WORKSPACE_WHERE
AT = "at v1, commit 1a2b3c4"


def test_json_yaml_toml_flatten_to_dotted_keys() -> None:
    expected = {"acc": 0.9, "train.loss": 0.1, "train.epochs": 3}
    assert formats.read_metrics(b'{"acc": 0.9, "train": {"loss": 0.1, "epochs": 3}}', "m.json", WS) == expected
    assert formats.read_metrics(b"acc: 0.9\ntrain:\n  loss: 0.1\n  epochs: 3\n", "m.yaml", WS) == expected
    assert formats.read_metrics(b"acc = 0.9\n[train]\nloss = 0.1\nepochs = 3\n", "m.toml", WS) == expected


def test_metrics_lists_flatten_by_index_params_lists_stay_whole() -> None:
    assert formats.read_metrics(b'{"per_class": [0.5, 0.7]}', "m.json", WS) == {"per_class.0": 0.5, "per_class.1": 0.7}
    assert formats.read_params(b"layers: [64, 32]\nopt: {name: adam}\n", "p.yaml", WS) == {
        "layers": [64, 32],
        "opt.name": "adam",
    }


def test_csv_and_tsv_metrics_are_the_last_row_with_numbers_converted() -> None:
    assert formats.read_metrics(b"epoch,acc,tag\n1,0.5,a\n2,0.75,b\n", "m.csv", WS) == {
        "epoch": 2,
        "acc": 0.75,
        "tag": "b",
    }
    assert formats.read_metrics(b"epoch\tacc\n1\t0.5\n", "m.tsv", WS) == {"epoch": 1, "acc": 0.5}
    assert formats.read_metrics(b"epoch,acc\n", "m.csv", WS) == {}


def test_empty_files_hold_no_metrics() -> None:
    assert formats.read_metrics(b"", "m.json", WS) == {}
    assert formats.read_metrics(b"", "m.yaml", WS) == {}


@pytest.mark.parametrize(
    ("name", "data", "where_line"),
    [
        ("m.json", b'{\n  "acc": 0.9,\n  "loss" 0.1\n}\n', "m.json:3:10"),
        ("m.yaml", b"acc: 0.9\nloss: [1, 2\n", "m.yaml:3:1"),
        ("m.toml", b"acc = 0.9\nloss = = 1\n", "m.toml:2:8"),
        ("m.csv", b"a,b\n1,2\n3\n", "m.csv:3"),
    ],
)
def test_syntax_errors_name_file_line_and_revision(name: str, data: bytes, where_line: str) -> None:
    with pytest.raises(PipelineError) as e:
        formats.read_metrics(data, name, AT)
    assert e.value.message.startswith(f"{where_line} ({AT}): invalid ")
    assert "leave the revision out" in (e.value.hint or "")
    with pytest.raises(PipelineError) as e:
        formats.read_metrics(data, name, WS)
    assert f"({WS})" in e.value.message
    assert e.value.hint == "fix the syntax there"


def test_a_scalar_is_not_metrics_and_binary_is_not_text() -> None:
    with pytest.raises(PipelineError, match="holds a single float, not named metrics"):
        formats.read_metrics(b"0.9", "m.json", WS)
    with pytest.raises(PipelineError, match="is not UTF-8 text"):
        formats.read_metrics(b"\xff\xfe\x00", "m.json", WS)
    with pytest.raises(PipelineError, match="must hold a mapping"):
        formats.read_params(b"[1, 2]", "p.yaml", WS)


def test_series_from_csv_json_list_and_named_list() -> None:
    cols, rows = formats.read_series(b"step,loss\n0,1.0\n1,0.5\n", "l.csv", WS)
    assert cols == ["step", "loss"] and rows == [{"step": 0, "loss": 1.0}, {"step": 1, "loss": 0.5}]
    cols, rows = formats.read_series(b'[{"x": 1, "m": {"a": 2}}, {"x": 2, "z": 3}]', "l.json", WS)
    assert cols == ["x", "m.a", "z"] and rows[0] == {"x": 1, "m.a": 2}
    cols, rows = formats.read_series(b"meta: 1\ntrain:\n  - {step: 0, loss: 2}\n", "l.yaml", WS)
    assert cols == ["step", "loss"] and rows == [{"step": 0, "loss": 2}]
    with pytest.raises(PipelineError, match="holds no series to plot"):
        formats.read_series(b'{"a": 1}', "l.json", WS)


def test_kinds() -> None:
    assert formats.is_image("a/b.PNG") and formats.is_image("x.svg") and not formats.is_image("x.csv")
    assert formats.is_number(1) and formats.is_number(0.5) and not formats.is_number(True)
    assert not formats.is_number("1")
