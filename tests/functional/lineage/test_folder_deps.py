"""A stage that depends on a folder other stages write into: lineage follows those stages too."""

from __future__ import annotations

import json
import shutil
import sys

PIPELINE = f"""\
stages:
  one:
    cmd: {sys.executable} -c "open('parts/one.txt', 'w').write('1')"
    outs: [parts/one.txt]
  two:
    cmd: {sys.executable} -c "open('parts/two.txt', 'w').write('2')"
    outs: [parts/two.txt]
  join:
    cmd: {sys.executable} -c "open('all.txt', 'w').write('12')"
    deps: [parts]
    outs: [all.txt]
"""


def test_a_dep_on_a_folder_filled_by_other_stages(tmp_path, _templates, run_cairn, git):
    root = tmp_path / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    (root / "parts").mkdir()
    (root / "cairn.yaml").write_text(PIPELINE)
    run_cairn("repro", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-qm", "parts", cwd=root)
    doc = json.loads(run_cairn("lineage", "all.txt", "--json", cwd=root).stdout)
    assert sorted(s["name"] for s in doc["stages"]) == ["join", "one", "two"]
    parts = next(n for n in doc["nodes"] if n["path"] == "parts")
    assert parts["fed_by"] == ["one", "two"]
    assert {"from": "parts/one.txt", "to": "parts"} in doc["edges"]
    assert {"from": "stage:two", "to": "parts/two.txt"} in doc["edges"]
    text = run_cairn("lineage", "all.txt", cwd=root).stdout
    assert "└─ parts  [git folder, tree, " in text
    assert next(s for s in doc["stages"] if s["name"] == "join")["code"] == []  # a folder is no code blob
    assert "holds outputs of stage one:" in text and "written by stage two: " in text
