"""A monitor's `evaluate:` section: parsing and bounds."""

from __future__ import annotations

import pytest

from cairn.datastats.evaluate import Evaluation, _flat, judge, parse
from cairn.errors import PipelineError


def test_parse() -> None:
    assert parse(None, "m") is None
    ev = parse({"cmd": "python eval.py", "labels": "y", "min": {"acc": 0.8}, "max": {"loss": 1}}, "m")
    assert ev == Evaluation("python eval.py", "y", {"acc": 0.8}, {"loss": 1.0})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"labels": "y"}, "m.evaluate: needs `cmd:`, the command that writes $CAIRN_METRICS"),
        ({"cmd": "x", "run": 1}, "m.evaluate: unknown key 'run'"),
        ({"cmd": "x", "min": {"acc": "high"}}, "m.evaluate.min: must map metric names to numbers"),
        ({"cmd": "x", "max": [1]}, "m.evaluate.max: must map metric names to numbers"),
    ],
)
def test_bad_specs(spec: dict, message: str) -> None:
    with pytest.raises(PipelineError) as e:
        parse(spec, "m")
    assert e.value.message == message


def test_judge_and_flatten() -> None:
    ev = Evaluation("x", None, {"acc": 0.8, "recall": 0.5}, {"loss": 1.0})
    assert judge(ev, {"acc": 0.9, "recall": 0.6, "loss": 0.2}) == []
    assert judge(ev, {"acc": 0.7, "loss": 1.5}) == ["acc 0.7 < 0.8", "recall missing < 0.5", "loss 1.5 > 1"]
    assert _flat({"a": 1, "b": {"c": 2.5, "d": "text"}, "e": True}) == {"a": 1.0, "b.c": 2.5}
