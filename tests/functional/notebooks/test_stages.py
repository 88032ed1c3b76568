"""Notebooks as pipeline stages, executed on a real Jupyter kernel (ipykernel): params injected
after the `parameters` cell, the executed notebook a cached output, reruns only when the notebook
or its params change, the run-cache, experiments (direct and queued), the HTML export of a past
run and cell-by-cell diffs. Each kernel start costs seconds: executions are counted here."""

from __future__ import annotations

import json
import textwrap

import yaml

PIPELINE = """
stages:
  analyse:
    notebook: analysis.ipynb
    params: [lr, epochs]
    metrics:
      - metrics.json: {cache: false}
"""
CELLS = [
    ("markdown", "# Analysis"),
    "x = lr * epochs\nprint('x is', x)",
    "import json\njson.dump({'x': x}, open('metrics.json', 'w'))",
]


def _project(repo, notebook, lr: float = 0.5) -> None:
    notebook(repo.root / "analysis.ipynb", CELLS, params="lr = 0.1\nepochs = 2")
    (repo.root / "params.yaml").write_text(f"lr: {lr}\nepochs: 4\n")
    (repo.root / "cairn.yaml").write_text(textwrap.dedent(PIPELINE).lstrip())


def _repro(repo) -> str:
    """The outcome line of stage analyse."""
    proc = repo.cairn("repro", venv_first=True)  # the stage runs `cairn notebooks run`
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("Stage 'analyse'")]
    return lines[-1] if lines else (proc.stdout + proc.stderr).strip().splitlines()[-1]


def test_notebook_stage_runs_reruns_on_params_restores_from_the_run_cache_and_exports(repo, notebook, plain):
    _project(repo, notebook)
    assert _repro(repo) == "Stage 'analyse': ran"  # execution 1
    assert json.loads((repo.root / "metrics.json").read_text()) == {"x": 2.0}
    lock = yaml.safe_load((repo.root / "cairn.lock").read_text())["stages"]["analyse"]
    assert lock["cmd"] == "cairn notebooks run analysis.ipynb -o analysis.executed.ipynb -p params.yaml:lr,epochs"
    assert [d["path"] for d in lock["deps"]] == ["analysis.ipynb"]
    assert lock["params"] == {"params.yaml": {"epochs": 4, "lr": 0.5}}
    executed = json.loads((repo.root / "analysis.executed.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert "".join(injected[0]["source"]) == "# Parameters\nlr = 0.5\nepochs = 4\n"
    assert "".join(executed["cells"][3]["outputs"][0]["text"]) == "x is 2.0\n"
    out_oid = next(o["oid"] for o in lock["outs"] if o["path"] == "analysis.executed.ipynb")
    assert out_oid in repo.cache_oids()  # cached (loose or packed)
    assert "/analysis.executed.ipynb" in (repo.root / ".gitignore").read_text().splitlines()  # not in git
    assert "Everything is up to date" in repo.cairn("repro", venv_first=True).stdout
    first = repo.commit("lr 0.5")

    (repo.root / "params.yaml").write_text("lr: 0.25\nepochs: 4\n")
    assert _repro(repo) == "Stage 'analyse': ran"  # execution 2
    assert json.loads((repo.root / "metrics.json").read_text()) == {"x": 1.0}
    second = repo.commit("lr 0.25")

    (repo.root / "params.yaml").write_text("lr: 0.5\nepochs: 4\n")
    assert _repro(repo).startswith("Stage 'analyse': restored")  # the run-cache, no kernel
    assert json.loads((repo.root / "metrics.json").read_text()) == {"x": 2.0}

    # the executed notebook of a past run as one offline page
    html_path = repo.root / "second.html"
    done = repo.json("notebooks", "export", "analysis.ipynb", "--rev", second, "-o", str(html_path))
    assert done["stage"] == "analyse" and done["notebook"] == "analysis.executed.ipynb"
    html = html_path.read_text()
    assert "<pre>x is 1.0\n" in html and '<span class="mf">0.25</span>' in html  # output; injected param
    assert 'src="http' not in html and "src='http" not in html and '<link rel="stylesheet" href="http' not in html
    repo.cairn("notebooks", "export", "analysis.executed.ipynb", "--rev", first, "-o", "reports/first.html")
    assert "<pre>x is 2.0\n" in (repo.root / "reports" / "first.html").read_text()  # its folder is made
    # -o a folder, or below a file: a clear error, not a traceback, and no temp file left
    for bad, message in (("reports", "reports is a folder"), ("params.yaml/x.html", "a folder above it is a file")):
        proc = repo.cairn("notebooks", "export", "analysis.ipynb", "--rev", first, "-o", bad, expect=2)
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in (repo.root / "reports").iterdir()) == ["first.html"]

    # cairn diff: the notebook a stage depends on, cell by cell
    nb = json.loads((repo.root / "analysis.ipynb").read_text())
    nb["cells"][2]["source"] = "x = lr * epochs * 2\nprint('x is', x)"
    (repo.root / "analysis.ipynb").write_text(json.dumps(nb, indent=1))
    cells = repo.json("diff")["notebooks"]
    assert [(n["path"], [(c["cell"], c["change"], c["type"]) for c in n["cells"]]) for n in cells] == [
        ("analysis.ipynb", [(3, "modified", "code")])
    ]
    assert repo.json("notebooks", "diff") == cells  # the same, on its own
    text = repo.cairn("diff").stdout
    assert "notebook analysis.ipynb:\n  cell 3 (code) modified\n" in text
    assert "    -x = lr * epochs\n    +x = lr * epochs * 2\n" in text
    assert "notebooks" not in repo.json("diff", first, second)  # the notebook did not change between them


def test_experiments_over_a_notebook_stage_direct_and_queued(repo, notebook):
    _project(repo, notebook)
    repo.commit("notebook stage")
    repo.cairn("exp", "run", "-n", "quarter", "-S", "lr=0.25", venv_first=True)  # execution 1
    repo.cairn("exp", "run", "--queue", "-n", "double", "-S", "lr=1.0", venv_first=True)
    repo.cairn("exp", "run", "--run-all", venv_first=True)  # execution 2
    rows = {r["name"]: r for r in repo.json("exp", "show")}
    assert {n: (rows[n]["params.lr"], rows[n]["metrics.x"]) for n in ("quarter", "double")} == {
        "quarter": (0.25, 1.0),
        "double": (1.0, 4.0),
    }
    # an experiment's executed notebook, exported by the experiment's name
    repo.cairn("notebooks", "export", "analysis.ipynb", "--rev", "double", "-o", "double.html")
    assert "<pre>x is 4.0\n" in (repo.root / "double.html").read_text()

    # exp diff shows the notebook's cells changed since an experiment's commit
    nb = json.loads((repo.root / "analysis.ipynb").read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "end", "metadata": {}, "source": "The end."})
    (repo.root / "analysis.ipynb").write_text(json.dumps(nb, indent=1))
    diff = repo.json("exp", "diff", "quarter")
    assert diff["notebooks"][0]["cells"] == [
        {"cell": 5, "change": "added", "type": "markdown", "diff": "--- before\n+++ after\n@@ -0,0 +1 @@\n+The end."}
    ]
    assert (
        "notebook analysis.ipynb:\n  cell 5 (markdown) added\n    @@ -0,0 +1 @@\n    +The end.\n"
        in repo.cairn("exp", "diff", "quarter").stdout
    )
    assert "notebook" not in repo.cairn("exp", "diff", "quarter", "double").stdout  # same notebook in both runs
