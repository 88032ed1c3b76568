"""The CI recipes of docs/ci.md (examples/ci/) cannot rot: each is parsed and its shell steps run,
as written, in a fresh clone of a bare origin whose default cairn remote is a local folder. Only
the step posting the comment (gh / glab: no forge here) is left out, and `python -m pip install
cairn` meets a stand-in that checks it is asked for cairn (cairn is installed already, and the
suite does not reach the network). `uses:` steps are done as the actions do them: checkout is the
full clone, the cache starts empty, upload-artifact's paths must exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import write

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "ci"

PIPELINE = f"""
stages:
  train:
    cmd: {sys.executable} train.py
    deps: [train.py, data/raw]
    params: [train.acc]
    metrics:
      - metrics.json: {{cache: true}}
    plots:
      - loss.csv: {{cache: true, x: epoch, y: loss}}
checks:
  floor: {{metric: 'metrics.json:acc', min: 0.8}}
  not-worse: {{metric: 'metrics.json:acc', baseline: main, max_drop: 1%}}
  stable: {{metric: 'metrics.json:acc', stddev: 3, history: 10, severity: warning}}
"""

TRAIN = """
import json
import yaml

acc = yaml.safe_load(open("params.yaml"))["train"]["acc"]
n = len(open("data/raw/rows.csv").read().splitlines())
json.dump({"acc": acc, "rows": n}, open("metrics.json", "w"))
open("loss.csv", "w").write("epoch,loss\\n" + "".join(f"{e},{(1 - acc) / (e + 1):.4f}\\n" for e in range(3)))
"""


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, _templates, run_cairn, git) -> Path:
    """A bare origin: main (three trained commits; data and run-cache pushed to the folder
    remote) and branch pr changing a param, its cairn.lock left for CI to bring up to date.
    Made once: the tests only clone it (nothing they do reaches the origin or the storage but
    the push test's run-cache entries, which are those already there)."""
    base = tmp_path_factory.mktemp("ci-origin")
    root, storage, bare = base / "proj", base / "storage", base / "origin.git"
    shutil.copytree(_templates[1], root, symlinks=True)

    def commit(message: str) -> None:
        git("add", "-A", cwd=root)
        git("commit", "-q", "-m", message, cwd=root)

    run_cairn("remote", "add", "-d", "store", str(storage), cwd=root)
    write(root, "cairn.yaml", PIPELINE)
    write(root, "train.py", TRAIN)
    write(root, ".gitignore", "/metrics.json\n/loss.csv\n/cairn_report/\n/cairn-checks.xml\n")
    write(root, "data/raw/rows.csv", "a\nb\nc\n")
    run_cairn("add", "data/raw", cwd=root)
    for acc in (0.84, 0.85, 0.84):
        write(root, "params.yaml", f"train:\n  acc: {acc}\n")
        run_cairn("repro", cwd=root)
        commit(f"train {acc}")
    run_cairn("push", "--run-cache", cwd=root)
    git("checkout", "-q", "-b", "pr", cwd=root)
    write(root, "params.yaml", "train:\n  acc: 0.845\n")
    commit("pr: a new acc")
    git("checkout", "-q", "main", cwd=root)
    git("clone", "-q", "--bare", str(root), str(bare), cwd=base)
    return bare


@pytest.fixture
def ci_env(tmp_path: Path, home: Path) -> dict[str, str]:
    """PATH with the venv (cairn) and a `python` that stands in for `python -m pip install cairn`."""
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "pip.log"
    (shim / "python").write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2 $3" = "-m pip install" ]; then\n'
        f'  echo "$@" >> {log}\n'
        '  [ "$4" = "cairn" ] && exit 0\n'
        "  exit 1\n"
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    (shim / "python").chmod(0o755)
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    path = os.pathsep.join(dict.fromkeys([str(shim), str(Path(sys.executable).parent), git_dir, "/usr/bin", "/bin"]))
    return {
        "PATH": path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_COLOR": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "CI": "true",
        "PIP_LOG": str(log),
    }


def clone(origin: Path, where: Path, branch: str, env: dict[str, str]) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True, env=env)
    subprocess.run(["git", "checkout", "-q", branch], cwd=where, check=True, env=env)
    return where


def sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- GitHub Actions --------------------------------------------------------------------------


def _github_expr(text: str, event: str) -> str:
    values = {
        "github.base_ref || 'main'": "main",  # the pull request's target; a push has none: main
        "github.token": "",
        "github.event.pull_request.number": "7",
    }

    def sub(m: re.Match) -> str:
        inner = m.group(1).strip()
        if inner.startswith("secrets."):
            return ""
        assert inner in values, f"the test knows no value for ${{{{ {inner} }}}}"
        return values[inner]

    return re.sub(r"\$\{\{(.*?)\}\}", sub, text)


def _github_if(expr: str | None, event: str, ok_so_far: bool) -> bool:
    if expr is None:
        return ok_so_far  # success(): every step before succeeded
    text = expr.replace("always()", "True").replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"github\.event_name\s*==\s*'(\w+)'", lambda m: str(m.group(1) == event), text)
    assert re.fullmatch(r"[\sA-Za-z()]*", text) and set(text.split()) <= {"True", "False", "and", "or"}, expr
    return bool(eval(text))  # only True, False, and, or and parentheses are left


def run_github(origin: Path, work: Path, env: dict[str, str], event: str) -> list[str]:
    doc = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    job = doc["jobs"]["model-checks"]
    job_env = {k: _github_expr(str(v), event) for k, v in job["env"].items()}
    ran: list[str] = []
    ok = True
    for step in job["steps"]:
        name = step.get("name") or step.get("uses")
        if "uses" in step:
            action = step["uses"].split("@")[0]
            if action == "actions/checkout":
                assert step["with"]["fetch-depth"] == 0
                clone(origin, work, "pr" if event == "pull_request" else "main", env)
            elif action == "actions/upload-artifact" and _github_if(step.get("if"), event, ok):
                for p in step["with"]["path"].split():
                    assert (work / p).exists(), f"artifact path {p} was not written"
            else:
                assert action in ("actions/setup-python", "actions/cache"), action
            ran.append(name)
            continue
        if not _github_if(step.get("if"), event, ok):
            continue
        script = _github_expr(step["run"], event)
        if re.search(r"(^|\s)gh\s", script):
            ran.append(f"skipped: {name}")
            continue
        step_env = {k: _github_expr(str(v), event) for k, v in step.get("env", {}).items()}
        proc = sh(script, work, {**env, **job_env, **step_env})
        ran.append(f"{name}: {proc.returncode}")
        assert proc.returncode == 0, f"step {name!r} failed:\n{proc.stdout}\n{proc.stderr}"
        ok = ok and proc.returncode == 0
    return ran


def test_github_actions_pull_request(origin, ci_env, tmp_path):
    work = tmp_path / "gh-pr"
    ran = run_github(origin, work, ci_env, "pull_request")
    assert ran == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "actions/cache@v4",
        "Install cairn: 0",
        "Pull data and the run-cache: 0",
        "Reproduce the pipeline: 0",
        "Check: 0",
        "Report: 0",
        "skipped: Comment on the pull request",
        "actions/upload-artifact@v4",
    ]
    assert Path(ci_env["PIP_LOG"]).read_text() == "-m pip install cairn\n"
    md = (work / "cairn_report" / "report.md").read_text()
    assert md.splitlines()[2] == "✅ **All 3 checks passed**"
    assert "Compared: **workspace** against baseline **origin/main (" in md
    assert "| metrics.json | acc | 0.84 | 0.845 | +0.005 |" in md
    assert "| train | reran | params, outs |" in md
    assert (work / "cairn_report" / "plots" / "loss.csv.png").read_bytes().startswith(b"\x89PNG")
    assert "<testsuites" in (work / "cairn-checks.xml").read_text()


def test_github_actions_push_shares_the_run_cache(origin, ci_env, tmp_path):
    work = tmp_path / "gh-push"
    ran = run_github(origin, work, ci_env, "push")
    assert "Share the run-cache: 0" in ran and not any("Comment" in r for r in ran)
    # main's lock is up to date: nothing reran, and the report says so
    assert "No stage reran." in (work / "cairn_report" / "report.md").read_text()


# -- GitLab CI -------------------------------------------------------------------------------


def test_gitlab_ci_merge_request(origin, ci_env, tmp_path):
    doc = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    job = doc["model-checks"]
    assert job["variables"]["GIT_DEPTH"] == "0" and ".cairn/cache" in job["cache"]["paths"]
    lines = [*job["before_script"], *job["script"]]
    posting = [ln for ln in lines if re.search(r"(^|\s)glab\s", ln)]
    assert len(posting) == 1
    work = clone(origin, tmp_path / "gl-mr", "pr", ci_env)
    env = {
        **ci_env,
        **{k: str(v) for k, v in job["variables"].items()},
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_DEFAULT_BRANCH": "main",
    }
    # the runner runs before_script and script as one shell script that stops at a failure
    proc = sh("\n".join(ln for ln in lines if ln not in posting), work, env)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    md = (work / "cairn_report" / "report.md").read_text()
    assert md.splitlines()[2] == "✅ **All 3 checks passed**"
    for p in job["artifacts"]["paths"]:
        assert (work / p).exists()
    assert (work / job["artifacts"]["reports"]["junit"]).exists()


def test_gitlab_ci_fails_the_job_on_a_failed_check_after_writing_the_report(origin, ci_env, tmp_path):
    doc = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    job = doc["model-checks"]
    lines = [ln for ln in [*job["before_script"], *job["script"]] if not re.search(r"(^|\s)glab\s", ln)]
    work = clone(origin, tmp_path / "gl-bad", "pr", ci_env)
    (work / "params.yaml").write_text("train:\n  acc: 0.7\n")  # as if the merge request held it
    env = {**ci_env, "CI_MERGE_REQUEST_IID": "8", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
           "CI_DEFAULT_BRANCH": "main"}  # fmt: skip
    proc = sh("\n".join(lines), work, env)
    assert proc.returncode == 1
    assert "failed: check 'floor': 0.7 is below the minimum 0.8" in proc.stderr
    md = (work / "cairn_report" / "report.md").read_text()
    assert md.splitlines()[2].startswith("❌ **2 of 3 checks failed**")
