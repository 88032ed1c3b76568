"""A stage whose input was rewritten after it ran: lineage shows the version it consumed and
says that the lock now records another one."""

from __future__ import annotations

import json
import shutil
import sys

import yaml

PIPELINE = f"""\
stages:
  make:
    cmd: {sys.executable} -c "open('a.txt', 'w').write(open('src.txt').read())"
    deps: [src.txt]
    outs: [a.txt]
  use:
    cmd: {sys.executable} -c "open('b.txt', 'w').write(open('a.txt').read() * 2)"
    deps: [a.txt]
    outs: [b.txt]
"""


def test_a_stale_consumer(tmp_path, _templates, run_cairn, git):
    root = tmp_path / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    (root / "src.txt").write_text("one")
    (root / "cairn.yaml").write_text(PIPELINE)
    run_cairn("repro", cwd=root)
    (root / "src.txt").write_text("two")
    run_cairn("repro", "make", cwd=root)  # `use` is now stale: it read the old a.txt
    git("add", "-A", cwd=root)
    git("commit", "-qm", "partly rerun", cwd=root)
    doc = json.loads(run_cairn("lineage", "b.txt", "--json", cwd=root).stdout)
    a = next(n for n in doc["nodes"] if n["path"] == "a.txt")
    lock = yaml.safe_load((root / "cairn.lock").read_text())
    consumed = lock["stages"]["use"]["deps"][0]["oid"]
    written = lock["stages"]["make"]["outs"][0]["oid"]
    assert consumed != written
    assert a["oid"] == consumed
    assert a["introduced"] is None  # the commit that brought the consumed version is not dated
    assert a["note"] == f"consumed version {consumed[:12]}; the lock now records {written[:12]} (the stage is stale)"
    assert f"note: consumed version {consumed[:12]}" in run_cairn("lineage", "b.txt", cwd=root).stdout
