"""Reading .dvc files and dvc.lock as DVC 1, 2 and 3 write them (hand-written here, in the exact
shapes DVC's serializers produce), and every problem they can hold."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cairn.dvcimport.dvcfiles import Recorded, read_dvc_file, read_lock
from cairn.dvcimport.problems import Problems
from cairn.errors import DvcImportError

M1 = "7bcb75e220fc2437b75069fb503b2596"
M2 = "c6d782c7ffff70340b0cde51db898c55"


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(textwrap.dedent(text).lstrip("\n"))


def test_dvc3_file(tmp_path):
    write(
        tmp_path,
        "data/raw.dvc",
        f"""
        outs:
        - md5: {M1}.dir
          size: 24
          nfiles: 4
          hash: md5
          path: raw
        """,
    )
    p = Problems()
    f = read_dvc_file(tmp_path, "data/raw.dvc", p)
    assert p.items == [] and f is not None
    assert f.outs == [Recorded("data/raw", M1 + ".dir", False, 24, 4)]
    assert f.outs[0].is_dir


def test_dvc2_file_is_legacy_and_keeps_isexec(tmp_path):
    write(tmp_path, "model.bin.dvc", f"outs:\n- md5: {M2}\n  size: 3\n  path: model.bin\n  isexec: true\n")
    p = Problems()
    f = read_dvc_file(tmp_path, "model.bin.dvc", p)
    assert f is not None and f.outs == [Recorded("model.bin", M2, True, 3, None, True)]


def test_annotations_are_notes_not_problems(tmp_path):
    write(tmp_path, "d.dvc", f"outs:\n- md5: {M2}\n  path: d\n  hash: md5\n  desc: hi\n  push: false\n  type: model\n")
    p = Problems()
    assert read_dvc_file(tmp_path, "d.dvc", p) is not None
    assert p.items == []
    assert "d.dvc: `type` of d has no place in a cairn pointer and was left out" in p.notes
    assert "d.dvc: d has `push: false`; cairn pushes every tracked path" in p.notes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "deps:\n- path: data\n  repo:\n    url: https://example.com/r.git\nouts:\n- path: data\n",
            "x.dvc: is a `dvc import`/`import-url` (it has deps); import it again with "
            "`cairn import https://example.com/r.git data`",
        ),
        (
            "deps:\n- path: s3://b/k\nouts:\n- path: k\n",
            "x.dvc: is a `dvc import`/`import-url` (it has deps); import it again with `cairn import-url s3://b/k`",
        ),
        (
            "cmd: python x.py\nouts:\n- path: o\n",
            "x.dvc: is a single-stage .dvc file with a `cmd` (DVC 1); move the stage into dvc.yaml first",
        ),
        ("outs: []\n", "x.dvc: has no `outs`"),
        ("- 1\n", "x.dvc: is not a mapping"),
        ("", "x.dvc: is empty"),
        ("outs: [\n", "x.dvc: is not valid YAML at line 2, column 1"),
        (f"outs:\n- md5: {M2}\n  path: ../outside\n", "x.dvc: path '../outside' is outside the repository"),
        (f"outs:\n- md5: {M2}\n", "x.dvc: an entry without a `path`"),
        (
            f"outs:\n- md5: {M2}\n  path: a\n  cache: false\n",
            "x.dvc: a has `cache: false` (git tracks it, not DVC); `git add` it instead",
        ),
        ("outs:\n- path: a\n", "x.dvc: a has no md5 (never committed); run `dvc commit x.dvc` first"),
        ("outs:\n- md5: nothex\n  path: a\n", "x.dvc: a has an invalid md5 'nothex'"),
        (
            f"outs:\n- md5: {M2}\n  path: a\n  hash: sha256\n",
            "x.dvc: a is hashed with 'sha256'; only md5 (DVC 2 and 3) converts",
        ),
        (f"outs:\n- md5: {M2}\n  path: a\n  size: big\n", "x.dvc: a has an invalid size or nfiles"),
        (
            f"outs:\n- md5: {M2}\n  path: a\n  files: []\n",
            "x.dvc: a records a cloud-versioned remote (`files:`/`cloud:`), which cairn does not have",
        ),
        (f"outs:\n- md5: {M2}\n  path: a\n  weird: 1\n", "x.dvc: a has keys cairn does not know: weird"),
    ],
)
def test_bad_dvc_files(tmp_path, text, message):
    (tmp_path / "x.dvc").write_text(text)
    p = Problems()
    read_dvc_file(tmp_path, "x.dvc", p)
    assert message in p.items, p.items


DVC3_LOCK = f"""
schema: '2.0'
stages:
  prepare@small:
    cmd: mkdir -p out && echo small > out/small.txt
    deps:
    - path: data/raw
      hash: md5
      md5: {M1}.dir
      size: 24
      nfiles: 4
    outs:
    - path: out/small.txt
      hash: md5
      md5: {M2}
      size: 12
  train:
    cmd:
    - python train.py
    - python eval.py
    params:
      params.yaml:
        train.lr: 0.1
        train:
          epochs: 3
    outs:
    - path: model.bin
      hash: md5
      md5: {M2}
      size: 24
"""


def test_dvc3_lock(tmp_path):
    write(tmp_path, "dvc.lock", DVC3_LOCK)
    p = Problems()
    lock = read_lock(tmp_path, p)
    assert p.items == []
    assert list(lock) == ["prepare@small", "train"]
    assert lock["prepare@small"].deps == [Recorded("data/raw", M1 + ".dir", False, 24, 4)]
    assert lock["prepare@small"].outs == [Recorded("out/small.txt", M2, False, 12)]
    assert lock["train"].cmd == ["python train.py", "python eval.py"]
    assert lock["train"].params == {"params.yaml": {"train.lr": 0.1, "train": {"epochs": 3}}}


def test_dvc2_lock_is_legacy_and_keeps_paths_relative_to_wdir(tmp_path):
    write(
        tmp_path,
        "dvc.lock",
        f"schema: '2.0'\nstages:\n  s:\n    cmd: x\n    deps:\n    - path: ../in\n      md5: {M2}\n",
    )
    lock = read_lock(tmp_path, Problems())
    assert lock["s"].deps == [Recorded("../in", M2, True)]


def test_dvc1_lock_has_stages_at_the_top(tmp_path):
    write(tmp_path, "dvc.lock", f"s:\n  cmd: x\n  outs:\n  - path: o\n    md5: {M2}\n")
    lock = read_lock(tmp_path, Problems())
    assert lock["s"].outs == [Recorded("o", M2, True)]


def test_no_lock_is_no_stage(tmp_path):
    assert read_lock(tmp_path, Problems()) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema: '3.0'\nstages: {}\n", "dvc.lock: has schema '3.0'; DVC 2 and 3 write 2.0"),
        ("- a\n", "dvc.lock: is not a mapping"),
        ("schema: '2.0'\nstages: [1]\n", "dvc.lock: `stages` is not a mapping"),
        ("schema: '2.0'\nstages:\n  s: {deps: []}\n", "dvc.lock stage s: has no `cmd`"),
        ("schema: '2.0'\nstages:\n  s: {cmd: x, deps: 3}\n", "dvc.lock stage s: `deps` is not a list"),
        (
            "schema: '2.0'\nstages:\n  s: {cmd: x, params: [1]}\n",
            "dvc.lock stage s: `params` is not a mapping of files to values",
        ),
    ],
)
def test_bad_locks(tmp_path, text, message):
    (tmp_path / "dvc.lock").write_text(text)
    p = Problems()
    read_lock(tmp_path, p)
    assert message in p.items, p.items


def test_problems_raise_one_error_listing_all():
    p = Problems()
    p.add("a.dvc", "one")
    p.add("b.dvc", "two")
    with pytest.raises(DvcImportError) as e:
        p.raise_if_any()
    assert e.value.message == (
        "this DVC project has 2 things cairn cannot convert; nothing was written:\n  a.dvc: one\n  b.dvc: two"
    )
    assert e.value.problems == ["a.dvc: one", "b.dvc: two"]
    assert "docs/dvc.md" in e.value.hint
    Problems().raise_if_any()  # nothing: no error
