"""`cairn notebooks setup`: git stores notebooks without outputs (clean filter), `git diff` goes
through nbdime's diff driver and `git merge` through its merge driver, on real repositories;
`--undo` takes all of it back."""

from __future__ import annotations

import json
import re
import subprocess

ATTRIBUTE = "*.ipynb diff=jupyternotebook merge=jupyternotebook filter=cairn-notebook"


def _edit(path, **sources: str) -> None:
    """Change cell sources as Jupyter saves them (cell index -> source), outputs kept."""
    nb = json.loads(path.read_text())
    for key, source in sources.items():
        nb["cells"][int(key[1:])]["source"] = source
    path.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n")


def test_setup_stores_notebooks_without_outputs_and_diffs_and_merges_through_nbdime(repo, notebook, plain):
    done = repo.cairn("notebooks", "setup", venv_first=True)
    assert "Commit the new line: git add .gitattributes" in done.stdout
    assert (repo.root / ".gitattributes").read_text() == ATTRIBUTE + "\n"
    config = repo.git("config", "--local", "--list")
    assert "diff.jupyternotebook.command=git-nbdiffdriver diff --use-filter" in config
    assert "merge.jupyternotebook.driver=git-nbmergedriver merge %O %A %B %L %P" in config
    assert "filter.cairn-notebook.clean=cairn notebooks clean" in config

    # a notebook saved after running: outputs, execution counts, timing metadata
    nb = notebook(repo.root / "nb.ipynb", ["a = 1\nb = 2", "print(a)", "print(b)"], outputs=True)
    repo.git("add", "nb.ipynb", ".gitattributes", venv_first=True)
    repo.git("commit", "-q", "-m", "notebook", venv_first=True)
    stored = json.loads(repo.git("show", "HEAD:nb.ipynb"))
    code = [c for c in stored["cells"] if c["cell_type"] == "code"]
    assert [c["source"] for c in code] == ["a = 1\nb = 2", "print(a)", "print(b)"]
    assert all(c["outputs"] == [] and c["execution_count"] is None and c["metadata"] == {} for c in code)
    workspace = json.loads(nb.read_text())
    assert workspace["cells"][1]["outputs"][0]["text"] == "out 1\n"  # the workspace copy keeps them
    assert repo.git("status", "--porcelain", venv_first=True) == ""

    # git diff: cell by cell through nbdime; outputs only in the workspace are no change
    _edit(nb, c1="print(a + 1)")
    diff = plain(repo.git("diff", "nb.ipynb", venv_first=True))
    assert "## modified /cells/1/source:" in diff
    assert re.search(r"^-\s*print\(a\)\n\+\s*print\(a \+ 1\)$", diff, re.M), diff
    assert "output" not in diff and '"source"' not in diff
    repo.git("commit", "-q", "-am", "print a + 1", venv_first=True)

    # git merge: a real conflicting edit of one cell on two branches, plus one side's other cell
    repo.git("checkout", "-q", "-b", "right", venv_first=True)
    _edit(nb, c0="a = 20\nb = 2", c2="print(b * 2)")
    repo.git("commit", "-q", "-am", "right", venv_first=True)
    repo.git("checkout", "-q", "main", venv_first=True)
    _edit(nb, c0="a = 10\nb = 2")
    repo.git("commit", "-q", "-am", "left", venv_first=True)
    merge = subprocess.run(
        ["git", "merge", "right"], cwd=repo.root, capture_output=True, text=True, env=_env(repo), check=False
    )
    assert merge.returncode == 1, merge.stdout + merge.stderr
    assert "CONFLICT (content): Merge conflict in nb.ipynb" in merge.stdout
    merged = json.loads(nb.read_text())  # still a notebook: the conflict is inside the cell
    sources = ["".join(c["source"]) for c in merged["cells"]]
    assert sources[0] == "<<<<<<< local\na = 10\n=======\na = 20\n>>>>>>> remote\nb = 2"
    assert sources[1:] == ["print(a + 1)", "print(b * 2)"]  # the other side's cell merged in


def test_undo_removes_the_git_config_and_the_attribute_line(repo):
    (repo.root / ".gitattributes").write_text("*.bin binary\n")
    repo.cairn("notebooks", "setup", venv_first=True)
    assert (repo.root / ".gitattributes").read_text() == f"*.bin binary\n{ATTRIBUTE}\n"
    again = repo.cairn("notebooks", "setup", "--json", venv_first=True)
    assert json.loads(again.stdout)["changed"] is False  # idempotent: the line is not added twice

    undone = repo.json("notebooks", "setup", "--undo")
    assert undone["changed"] is True
    assert undone["config"] == ["diff.jupyternotebook", "merge.jupyternotebook", "filter.cairn-notebook"]
    assert (repo.root / ".gitattributes").read_text() == "*.bin binary\n"
    assert "jupyternotebook" not in repo.git("config", "--local", "--list")
    assert "cairn-notebook" not in repo.git("config", "--local", "--list")
    out = repo.cairn("notebooks", "setup", "--undo").stdout
    assert "nothing (was not set)" in out


def test_setup_lists_committed_notebooks_that_still_hold_outputs(repo, notebook):
    notebook(repo.root / "old.ipynb", ["x = 1"], outputs=True)
    repo.commit("notebook with outputs")
    out = repo.cairn("notebooks", "setup", venv_first=True).stdout
    assert "1 committed notebook(s) still hold outputs: old.ipynb" in out
    assert "git add --renormalize -- '*.ipynb'" in out


def test_setup_without_nbdime_on_path(repo, assert_error):
    from cairn.errors import MissingDependencyError

    assert_error(
        repo.cairn("notebooks", "setup", expect=None),  # PATH without the venv: no git-nbdiffdriver
        MissingDependencyError,
        "nbdime's git drivers (git-nbdiffdriver, git-nbmergedriver) are not on PATH",
        "pip install 'cairn[notebooks]'",
    )


def _env(repo) -> dict:
    import os
    import sys
    from pathlib import Path

    bin_dir = str(Path(sys.executable).parent)
    home = repo.root.parent / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.pathsep.join([bin_dir, "/usr/bin", "/bin"]),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": "C.UTF-8",
    }
