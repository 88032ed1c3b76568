"""`cairn env show | diff | export` over git revisions, experiments, the workspace and the
current environment; a distribution installed in another version is named in status and diff."""

from __future__ import annotations

import json
import platform

from cairn.errors import DataError, UserInputError

PKG = "fakepkg-for-cairn"


def fake_distribution(folder, name: str, version: str) -> str:
    """A folder that, on PYTHONPATH, adds an installed distribution to importlib.metadata."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return str(folder)


def _json(exp_repo, *args, **kwargs):
    return json.loads(exp_repo.cairn(*args, "--json", **kwargs).stdout)


def test_show_diff_and_export_across_a_revision_and_an_experiment(exp_repo, tmp_path, assert_error):
    old = {"PYTHONPATH": fake_distribution(tmp_path / "old", PKG, "2.4.1")}
    new = {"PYTHONPATH": fake_distribution(tmp_path / "new", PKG, "2.5.5")}
    exp_repo.cairn("repro", "-f", env=old)
    exp_repo.commit("pipeline run with 2.4.1")
    head = exp_repo.git("rev-parse", "HEAD").strip()

    # another version installed: status names it, the pipeline stays up to date
    proc = exp_repo.cairn("status", env=new)
    assert f"warning: stage prepare ran in another environment: {PKG} 2.4.1 -> 2.5.5" in proc.stderr
    assert "Pipeline is up to date." in proc.stdout

    # the experiment reruns train only (prepare's entry is HEAD's)
    exp_repo.exp("run", "-n", "newer", "-S", "train.lr=0.2", env=new)
    doc = _json(exp_repo, "env", "diff", "HEAD", "newer")
    assert doc["a"] == {"source": "HEAD", "kind": "revision", "commit": head}
    assert doc["b"]["kind"] == "experiment"
    assert doc["stages"]["prepare"] == {"changes": [], "note": None}
    assert doc["stages"]["train"]["changes"] == [
        {"kind": "package", "name": PKG, "old": "2.4.1", "new": "2.5.5", "text": f"{PKG} 2.4.1 -> 2.5.5"}
    ]
    text = exp_repo.cairn("env", "diff", "HEAD", "newer").stdout
    assert text == f"stage prepare: same environment\nstage train:\n  {PKG} 2.4.1 -> 2.5.5\n"
    # B defaults to the current environment
    doc = _json(exp_repo, "env", "diff", "HEAD", "--stage", "train", env=new)
    assert [c["text"] for c in doc["stages"]["train"]["changes"]] == [f"{PKG} 2.4.1 -> 2.5.5"]

    shown = _json(exp_repo, "env", "show", "newer")
    assert shown["kind"] == "experiment" and len(shown["records"]) == 2
    train = shown["records"][shown["stages"]["train"]]
    assert f"{PKG}==2.5.5" in train["packages"] and train["python"]["version"] == platform.python_version()
    text = exp_repo.cairn("env", "show", "HEAD").stdout
    assert f"(stages: prepare, train)\n  python:   {platform.python_version()} (CPython)" in text
    assert f"  {PKG}==2.4.1" in exp_repo.cairn("-v", "env", "show", "HEAD").stdout
    current = _json(exp_repo, "env", "show", env=new)
    assert current["kind"] == "current" and f"{PKG}==2.5.5" in next(iter(current["records"].values()))["packages"]

    # export: pinned requirements, or a Dockerfile at the commit
    req = req_head = exp_repo.cairn("env", "export", "HEAD").stdout
    assert req.startswith("# the distributions recorded with HEAD\n") and f"\n{PKG}==2.4.1\n" in req
    assert "\npip==" not in req
    req = exp_repo.cairn("env", "export", "newer", "--stage", "train").stdout
    assert f"\n{PKG}==2.5.5\n" in req
    docker = exp_repo.cairn("env", "export", "HEAD", "--format", "dockerfile").stdout
    assert f"FROM python:{platform.python_version()}-slim\n" in docker
    assert f"    {PKG}==2.4.1 \\\n" in docker or f"    {PKG}==2.4.1\n" in docker
    assert f"RUN git checkout --quiet {head}\n" in docker
    assert docker.endswith('CMD ["sh", "-c", "cairn pull && cairn repro"]\n')
    # -o makes its folders, as `model get -o` does; a file on the way is a PathError, not a traceback
    exp_repo.cairn("env", "export", "HEAD", "-o", "deploy/requirements.txt")
    assert (exp_repo.root / "deploy/requirements.txt").read_text() == req_head
    (exp_repo.root / "notes.txt").write_text("a file")
    proc = exp_repo.cairn("env", "export", "HEAD", "-o", "notes.txt/requirements.txt", expect=2)
    assert "cannot write notes.txt/requirements.txt: a part of its path is a file, not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr

    # bad input
    assert_error(
        exp_repo.cairn("env", "export", "newer", expect=2),
        UserInputError,
        "the stages of newer ran in 2 different environments",
        "choose one stage with --stage (prepare, train)",
    )
    assert_error(
        exp_repo.cairn("env", "show", "no-such-thing", expect=2),
        UserInputError,
        "'no-such-thing' is neither a git revision nor an experiment",
        "give a commit, branch or tag, an experiment name (`cairn exp list`), `workspace` or `current`",
    )
    assert_error(
        exp_repo.cairn("env", "diff", "HEAD", "newer", "--stage", "nope", expect=2),
        UserInputError,
        "stage 'nope' has no environment record in HEAD or newer",
        "`cairn env show NAME` lists the stages that have one",
    )


def test_a_record_not_in_the_cache_and_a_lock_without_records(exp_repo, assert_error):
    lock = (exp_repo.root / "cairn.lock").read_text()
    oid = json.loads(exp_repo.cairn("env", "show", "HEAD", "--json").stdout)["stages"]["train"]
    obj = exp_repo.root / ".cairn" / "cache" / "objects" / oid[:2] / oid[2:]
    obj.chmod(0o644)
    obj.unlink()
    assert_error(
        exp_repo.cairn("env", "export", "HEAD", expect=4),
        DataError,
        f"environment record {oid[:12]} of HEAD is not in the cache",
        "fetch it: `cairn pull` (set a default remote with `cairn remote add -d`)",
    )
    doc = _json(exp_repo, "env", "diff", "HEAD")
    assert doc["stages"]["train"] == {
        "changes": [],
        "note": f"environment record {oid[:12]} of HEAD is not in the cache (`cairn pull` at it)",
    }
    # a lock written before environment records: readable, nothing to compare
    old = "\n".join(ln for ln in lock.splitlines() if not ln.startswith("    env: ")) + "\n"
    (exp_repo.root / "cairn.lock").write_text(old.replace("version: 2", "version: 1"))
    doc = _json(exp_repo, "env", "diff", "workspace")
    assert doc["stages"]["train"]["note"] == (
        "no environment recorded at workspace (run before cairn recorded environments)"
    )
    assert_error(
        exp_repo.cairn("env", "export", expect=2),
        UserInputError,
        "workspace records no environment (no stage of its cairn.lock has a record)",
        "run the pipeline with this cairn (`cairn repro`) to record one",
    )


def test_a_queued_experiment_records_its_environment(exp_repo, tmp_path):
    new = {"PYTHONPATH": fake_distribution(tmp_path / "new", PKG, "3.0.0")}
    exp_repo.exp("run", "--queue", "-n", "queued", "-S", "train.lr=0.3")
    exp_repo.exp("run", "--run-all", env=new)
    shown = _json(exp_repo, "env", "show", "queued")
    assert shown["kind"] == "experiment" and shown["missing"] == []
    train = shown["records"][shown["stages"]["train"]]
    assert f"{PKG}==3.0.0" in train["packages"]
