"""dvc.yaml -> cairn.yaml: copied byte for byte when nothing needs to change; otherwise the
converted document, with each dropped annotation noted and each unconvertible construct listed."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from cairn.dvcimport.dvcyaml import convert
from cairn.dvcimport.problems import Problems

PLAIN = """# the pipeline
vars:
  - config.yaml
stages:
  prepare:
    foreach: ${sizes}   # from params.yaml
    do:
      cmd: python prep.py ${item}
      deps: [data/raw]
      outs:
        - out/${item}
  sweep:
    matrix:
      lr: [0.1, 0.01]
    cmd: python sweep.py ${item.lr}
  train:
    cmd: python train.py
    wdir: src
    params:
      - train.lr
      - ../other.yaml:
    outs:
      - ../model.bin:
          persist: true
    metrics:
      - ../metrics.json:
          cache: false
    plots:
      - ../loss.csv:
          x: step
          y: loss
    frozen: false
metrics: [metrics.json]
params: [params.yaml]
plots:
  - loss.csv
artifacts:
  model:
    path: model.bin
    type: model
"""


def run(tmp_path, text):
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent(text))
    p = Problems()
    return convert(tmp_path, p), p


def test_a_dvc_yaml_cairn_reads_as_is_is_copied_byte_for_byte(tmp_path):
    out, p = run(tmp_path, PLAIN)
    assert out == PLAIN
    assert p.items == [] and p.notes == []


def test_no_dvc_yaml(tmp_path):
    assert convert(tmp_path, Problems()) is None


def test_annotations_are_dropped_with_notes(tmp_path):
    out, p = run(
        tmp_path,
        """
        stages:
          train:
            cmd: python train.py
            outs:
              - model.bin:
                  push: false
                  desc: the model
              - logs:
                  type: folder
            plots:
              - loss.csv:
                  header: true
                  y: loss
        plots:
          - acc:
              x: step
              y:
                train.csv: acc
                test.csv: acc
              template: linear
        """,
    )
    assert p.items == []
    doc = yaml.safe_load(out)
    assert out.startswith("# converted from dvc.yaml by `cairn import-dvc`\n")
    assert doc["stages"]["train"]["outs"] == [{"model.bin": {"desc": "the model"}}, "logs"]
    assert doc["stages"]["train"]["plots"] == [{"loss.csv": {"y": "loss"}}]
    assert doc["plots"] == [
        {"train.csv": {"x": "step", "y": "acc", "template": "linear", "title": "acc"}},
        {"test.csv": {"x": "step", "y": "acc", "template": "linear", "title": "acc"}},
    ]
    assert "dvc.yaml stage train outs model.bin: `push` was left out (cairn pushes every cached output)" in p.notes
    assert "dvc.yaml stage train plots loss.csv: `header` was left out (cairn reads CSV/TSV headers itself)" in p.notes
    assert "dvc.yaml plot acc: draws 2 files; cairn makes one plot per file" in p.notes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datasets: []\nstages: {}\n", "dvc.yaml: `datasets` (DVC's dataset registry) has no cairn equivalent"),
        ("stages: {}\nextra: 1\n", "dvc.yaml: unknown top-level key 'extra'"),
        ("stages: [1]\n", "dvc.yaml: `stages` is not a mapping of stage names to stages"),
        (
            "stages:\n  s:\n    cmd: x\n    vars: [a.yaml]\n",
            "dvc.yaml stage s: has stage-level `vars`; move them into the top-level `vars` list",
        ),
        ("stages:\n  s:\n    cmd: x\n    retries: 3\n", "dvc.yaml stage s: has a key cairn does not know: 'retries'"),
        ("stages:\n  s: echo\n", "dvc.yaml stage s: is not a mapping with a `cmd`"),
        (
            "stages:\n  s:\n    foreach: [1]\n    do: {cmd: x}\n    wdir: a\n",
            "dvc.yaml stage s: a foreach stage holds only `foreach` and `do`, not ['wdir']",
        ),
        (
            "stages:\n  s:\n    cmd: x\n    outs:\n      - o:\n          checkpoint: true\n",
            "dvc.yaml stage s: o is a checkpoint output, which DVC 3 dropped and cairn lacks",
        ),
        (
            "stages:\n  s:\n    cmd: x\n    outs:\n      - o:\n          odd: 1\n",
            "dvc.yaml stage s: o has a setting cairn does not know: 'odd'",
        ),
        (
            "stages:\n  s:\n    cmd: x\n    plots:\n      - p.csv:\n          - {y: a}\n",
            "dvc.yaml stage s: plots entry p.csv holds a list of plot definitions; use one",
        ),
        (
            "plots:\n  - p:\n      x: {a.csv: s}\n      y: {a.csv: v}\n",
            "dvc.yaml plot p: has `x` per file; give one `x` column",
        ),
        ("- a\n", "dvc.yaml: is not a mapping with `stages`"),
    ],
)
def test_unconvertible(tmp_path, text, message):
    (tmp_path / "dvc.yaml").write_text(text)
    p = Problems()
    convert(tmp_path, p)
    assert message in p.items, p.items
