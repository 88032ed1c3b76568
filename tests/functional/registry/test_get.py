"""`cairn model get` of a model big enough to be stored loose on the remote (the path the
deployment bench times), and `--repo` reading the data remote a repository configured after the
model was registered."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from cairn.errors import CorruptObjectError

from .conftest import CAIRN_YAML

BIG = 3 * 2**20  # above the pack threshold (2 MiB): pushed as a loose object


def big_model(seed: int) -> bytes:
    return bytes((i * seed + i // 4096) % 251 for i in range(4096)) * (BIG // 4096)


def loose_files(store: Path) -> list[Path]:
    return [f for f in (store / "objects").rglob("*") if f.is_file()]


def test_get_of_a_loose_object_is_verified_and_leaves_nothing_half_written(project, assert_error):
    project.write({"models/churn.bin": big_model(7)})
    project.cairn("add", "models/churn.bin")
    project.commit("a big model")
    project.cairn("push")
    project.cairn("model", "register", "churn")
    shutil.rmtree(project.root / ".cairn" / "cache")
    (loose,) = loose_files(project.store)

    got = project.json("model", "get", "churn", "-o", "deploy/m.bin")
    assert (project.root / "deploy/m.bin").read_bytes() == big_model(7)
    assert got["size"] == BIG and got["oid"] == loose.parent.name + loose.name
    assert not (project.root / ".cairn/cache").exists()  # a get does not fill the cache

    # bit rot on the remote: refused, and neither the output nor a temp file beside it is left
    loose.chmod(0o644)
    with open(loose, "r+b") as f:
        f.seek(BIG // 2)
        f.write(b"\xff\x00")
    proc = project.cairn("model", "get", "churn", "-o", "again/m.bin", expect=None)
    assert_error(proc, CorruptObjectError, "on remote 'store' is corrupt (its bytes do not match its id)")
    assert not (project.root / "again").exists()  # nor the folder it made for -o
    # --force over an existing file keeps the old one when the new copy fails
    proc = project.cairn("model", "get", "churn", "-o", "deploy/m.bin", "--force", expect=None)
    assert_error(proc, CorruptObjectError, "is corrupt")
    assert os.listdir(project.root / "deploy") == ["m.bin"]
    assert (project.root / "deploy/m.bin").read_bytes() == big_model(7)


def test_get_with_repo_reads_a_remote_configured_after_registration(repo, tmp_path: Path, git, run_cairn):
    """The version's commit has no data remote in its config; the default branch's tip has."""
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    repo.git("branch", "-M", "main")
    repo.git("remote", "add", "origin", str(origin))
    repo.write({"models/churn.bin": big_model(3), "cairn.yaml": CAIRN_YAML.encode()})
    repo.cairn("add", "models/churn.bin")
    repo.commit("churn model")
    repo.cairn("model", "register", "churn")
    store = tmp_path / "store"
    repo.cairn("remote", "add", "-d", "store", str(store))
    repo.commit("the data remote")
    repo.cairn("push")
    repo.git("push", "-q", "origin", "main", "--tags")

    # a clone reads its own (current) config
    git("clone", "-q", str(origin), "bob", cwd=tmp_path)
    out = json.loads(run_cairn("model", "get", "churn@v0.0.1", "-o", "m.bin", "--json", cwd=tmp_path / "bob").stdout)
    assert (tmp_path / "bob/m.bin").read_bytes() == big_model(3) and out["version"] == "v0.0.1"
    # a deployment job outside any repository: the remote comes from the tip of origin's main
    job = tmp_path / "job"
    job.mkdir()
    out = json.loads(run_cairn("model", "get", "churn", "--repo", str(origin), "-o", "m.bin", "--json", cwd=job).stdout)
    assert (job / "m.bin").read_bytes() == big_model(3) and out["commit"] == repo.git("rev-parse", "HEAD~1").strip()
    assert sorted(p.name for p in job.iterdir()) == ["m.bin"]


def test_tags_of_tags_and_of_blobs(project):
    """A tag of a tag counts for the commit its chain ends in; a tag of a blob is no version."""
    head = project.git("rev-parse", "HEAD").strip()
    project.git("tag", "-a", "inner", "-m", "inner", head)
    project.git("tag", "-a", "churn@v1.0.0", "-m", "Registering artifact churn version v1.0.0", "inner")
    blob = project.git("rev-parse", "HEAD:cairn.yaml").strip()
    project.git("tag", "-a", "churn@v2.0.0", "-m", "Registering artifact churn version v2.0.0", blob)
    shown = project.json("model", "show", "churn")
    assert [(v["version"], v["commit"]) for v in shown["versions_detail"]] == [("v1.0.0", head)]


def test_registry_reads_need_git(project, tmp_path: Path, run_cairn, assert_error):
    from cairn.errors import MissingDependencyError, NotARepoError

    project.cairn("model", "register", "churn")
    assert_error(
        project.cairn("model", "list", env={"PATH": str(tmp_path / "empty")}, expect=None),
        MissingDependencyError,
        "the model registry reads git tags with the git CLI, and `git` is not on PATH",
        "install git",
    )
    # a cairn repository whose git is gone (git must not find one above it either)
    shutil.rmtree(project.root / ".git")
    assert_error(
        project.cairn("model", "get", "churn", env={"GIT_CEILING_DIRECTORIES": str(project.root.parent)}, expect=None),
        NotARepoError,
        f"{project.root} is not a git repository",
        "run `git init` first",
    )
    (project.root / ".cairn/config.toml").write_text("version = 1\n[core]\nno_scm = true\n")
    assert_error(
        project.cairn("model", "history", "churn", expect=None),
        NotARepoError,
        "the model registry lives in git tags, and this repository has no git (core.no_scm)",
        "set core.no_scm to false",
    )


def test_get_into_a_folder_writes_the_model_inside_it(project):
    """`-o deploy/` or an existing folder receives the model under its own name, as `cp` does:
    before, an existing folder was "an existing path" that --force replaced, with all it held."""
    project.cairn("model", "register", "churn")
    deploy = project.root / "deploy"
    deploy.mkdir()
    (deploy / "keep.txt").write_text("other files of the deployment")
    for out in ("deploy", "deploy/", "deploy/"):
        got = project.json("model", "get", "churn", "-o", out, "--force")
        assert got["path"] == str(deploy / "churn.bin")
    assert sorted(p.name for p in deploy.iterdir()) == ["churn.bin", "keep.txt"]
    assert (deploy / "churn.bin").read_bytes() == b"threshold 10\n"
    proc = project.cairn("model", "get", "churn", "-o", "deploy/", expect=None)
    assert proc.returncode == 2 and f"{deploy / 'churn.bin'} already exists" in proc.stderr
    project.json("model", "get", "churn", "-o", "fresh/")  # a folder that does not exist yet
    assert (project.root / "fresh/churn.bin").read_bytes() == b"threshold 10\n"
    # a folder model given a folder path without the slash still replaces it, with --force
    (project.root / "models/churn.bin").unlink()
    (project.root / "models/churn.bin.cairn").unlink()
    project.write({"models/churn.bin/weights": b"w1", "models/churn.bin/config": b"c"})
    project.cairn("add", "models/churn.bin")
    project.commit("a folder model")
    project.cairn("model", "register", "churn")
    (project.root / "out").mkdir()
    project.json("model", "get", "churn", "-o", "out", "--force")
    assert sorted(p.name for p in (project.root / "out").iterdir()) == ["config", "weights"]


def test_get_and_bundle_to_a_path_under_a_file(project, assert_error):
    """An -o whose folder cannot be made (a file on the way) is a PathError naming that file,
    not a FileExistsError traceback, and leaves nothing behind."""
    from cairn.errors import PathError

    project.cairn("model", "register", "churn")
    (project.root / "notes.txt").write_text("a file")
    for args in (("get", "churn", "-o", "notes.txt/m.bin"), ("bundle", "churn", "-o", "notes.txt/b.tar.gz")):
        assert_error(
            project.cairn("model", *args, expect=None),
            PathError,
            "is a file, not a folder",
            "choose another -o path",
        )
    assert (project.root / "notes.txt").read_text() == "a file"
    assert not [p for p in project.root.iterdir() if p.name.startswith(".notes") or p.name.startswith(".m.bin")]
