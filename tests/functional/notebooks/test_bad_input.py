"""Bad input around notebooks: a cell that raises (the stage fails naming the cell and the
error; the partial executed notebook is kept, not cached), a kernel that is not installed, a
file that is not a notebook, params with no `parameters` cell, bad `notebook:` settings and an
export of a revision with no notebook run."""

from __future__ import annotations

import json
import textwrap

import pytest
from blake3 import blake3

from cairn.errors import NotebookError, NotebookFailedError, PipelineError, RevisionError, StageFailedError


def _stage(repo, settings: str = "analysis.ipynb") -> None:
    (repo.root / "params.yaml").write_text("lr: 0.5\n")
    (repo.root / "cairn.yaml").write_text(
        textwrap.dedent(f"""
        stages:
          analyse:
            notebook: {settings}
            params: [lr]
        """).lstrip()
    )


def test_a_failing_cell_fails_the_stage_and_keeps_the_partial_notebook_uncached(repo, notebook):
    notebook(repo.root / "analysis.ipynb", ["x = lr * 2\nprint('x is', x)", "y = x / 0", "print('never')"], "lr = 1")
    _stage(repo)
    proc = repo.cairn("repro", venv_first=True, expect=StageFailedError.exit_code)  # one kernel start
    assert "error: stage 'analyse' failed (exit code 9): cairn notebooks run analysis.ipynb" in proc.stderr
    # papermill numbers the injected cell too (In [4]); the cell number is the user's notebook's
    assert (
        "notebook 'analysis.ipynb' failed in cell 3 (In [4]): ZeroDivisionError: float division by zero" in proc.stderr
    )
    assert "is kept at analysis.executed.ipynb for inspection (it is not cached as a result)" in proc.stderr

    partial = repo.root / "analysis.executed.ipynb"
    cells = json.loads(partial.read_text())["cells"]
    ran = next(c for c in cells if "".join(c["source"]).startswith("x = lr"))
    assert "".join(ran["outputs"][0]["text"]) == "x is 1.0\n"
    failed = next(c for c in cells if "".join(c["source"]) == "y = x / 0")
    assert failed["outputs"][0]["ename"] == "ZeroDivisionError"
    never = next(c for c in cells if "".join(c["source"]) == "print('never')")
    assert never["outputs"] == []
    oid = blake3(partial.read_bytes()).hexdigest()
    assert oid not in repo.cache_oids()  # not cached as a result (loose or packed)
    assert not (repo.root / "cairn.lock").exists()  # and no run recorded


def test_a_kernel_that_dies_mid_way(repo, notebook, assert_error):
    notebook(repo.root / "dead.ipynb", ["print('hi')", "import os\nos._exit(3)", "print('never')"])
    assert_error(
        repo.cairn("notebooks", "run", "dead.ipynb", "-o", "dead.out.ipynb", expect=None),  # one kernel start
        NotebookFailedError,
        "notebook 'dead.ipynb' stopped: DeadKernelError: Kernel died",
        "its kernel died or did not answer (out of memory? a cell that exits?); what ran is kept at dead.out.ipynb",
    )
    cells = json.loads((repo.root / "dead.out.ipynb").read_text())["cells"]
    assert "".join(cells[0]["outputs"][0]["text"]) == "hi\n" and cells[2]["outputs"] == []


def test_a_kernel_that_is_not_installed_fails_the_stage_before_any_cell_runs(repo, notebook):
    notebook(repo.root / "analysis.ipynb", ["print(lr)"], "lr = 1", kernel="nosuch-kernel")
    _stage(repo)
    proc = repo.cairn("repro", venv_first=True, expect=StageFailedError.exit_code)
    assert "'analysis.ipynb' runs on the Jupyter kernel 'nosuch-kernel', which is not installed here" in proc.stderr
    assert "python -m ipykernel install --sys-prefix --name nosuch-kernel" in proc.stderr
    assert not (repo.root / "analysis.executed.ipynb").exists()
    assert "or choose an installed kernel with `kernel:` in the stage's notebook settings" in proc.stderr


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"cells": [\n<<<<<<< HEAD\n', "Notebook does not appear to be JSON"),
        (json.dumps({"cells": "no", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), "is missing an expected key"),
    ],
    ids=["not-json", "not-a-notebook"],
)
def test_a_file_that_is_not_a_notebook(repo, assert_error, text, why):
    (repo.root / "bad.ipynb").write_text(text)
    (repo.root / "params.yaml").write_text("lr: 0.5\n")
    proc = repo.cairn("notebooks", "run", "bad.ipynb", "-o", "out.ipynb", expect=None)
    assert_error(
        proc,
        NotebookError,
        "'bad.ipynb' is not a valid Jupyter notebook: ",
        "a merge conflict left in the JSON is the usual cause",
    )
    assert why in proc.stderr
    assert not (repo.root / "out.ipynb").exists()


def test_params_without_a_parameters_cell(repo, notebook, assert_error):
    notebook(repo.root / "analysis.ipynb", ["lr = 1", "print(lr)"])  # defaults set, but the cell is not tagged
    (repo.root / "params.yaml").write_text("lr: 0.5\ntrain:\n  epochs: 3\n")
    assert_error(
        repo.cairn(
            "notebooks", "run", "analysis.ipynb", "-o", "out.ipynb", "-p", "params.yaml:lr,train.epochs", expect=None
        ),
        NotebookError,
        "'analysis.ipynb' has no cell tagged `parameters`, so the stage's params (lr, train_epochs) have nowhere to go",
        "papermill injects params in a new cell right after the cell tagged `parameters`",
    )
    assert not (repo.root / "out.ipynb").exists()
    assert_error(
        repo.cairn("notebooks", "run", "analysis.ipynb", "-o", "out.ipynb", "-p", "params.yaml:nope", expect=None),
        NotebookError,
        "params.yaml has no key 'nope'",
        "add it to params.yaml or remove it from the stage's params",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("data.csv", "'data.csv' is not a notebook: the path must end with .ipynb"),
        ("{path: a.ipynb, kernal: python3}", "unknown notebook setting 'kernal' (expected one of: kernel, out, path)"),
        ("[a.ipynb]", "`notebook` is a path to an .ipynb file, or {path: ..., out: ..., kernel: ...}"),
    ],
)
def test_bad_notebook_settings_in_cairn_yaml(repo, assert_error, settings, message):
    _stage(repo, settings)
    assert_error(repo.cairn("repro", expect=None), PipelineError, "cairn.yaml has 1 problem")
    assert message in repo.cairn("repro", expect=None).stderr


def test_notebook_and_cmd_together(repo, assert_error):
    (repo.root / "cairn.yaml").write_text("stages:\n  s:\n    cmd: echo hi\n    notebook: a.ipynb\n")
    proc = repo.cairn("repro", expect=None)
    assert_error(proc, PipelineError, "cairn.yaml has 1 problem")
    assert "a stage runs either `cmd` or `notebook`, not both" in proc.stderr


def test_export_of_a_revision_without_a_notebook_run(repo, assert_error):
    assert_error(
        repo.cairn("notebooks", "export", "analysis.ipynb", "--rev", "HEAD", expect=None),
        NotebookError,
        "no notebook stage at 'HEAD' executes or writes 'analysis.ipynb'",
        "at a revision whose cairn.lock records a run of it",
    )
    assert_error(
        repo.cairn("notebooks", "export", "analysis.ipynb", "--rev", "nosuch", expect=None),
        RevisionError,
        "'nosuch' is neither a git revision nor an experiment",
        "`cairn exp list`",
    )
    assert not any(p.suffix == ".html" for p in repo.root.iterdir())
