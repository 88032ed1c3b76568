"""`cairn import-dvc` on DVC projects written by hand in DVC 3's and DVC 2's formats: the
result is up to date for `cairn status` and `cairn repro`, the bytes are the same, data comes
from the workspace, the DVC cache or the DVC remote, and bad input changes nothing."""

from __future__ import annotations

import json
import shlex
import shutil

import pytest
import yaml

from cairn.errors import ConfigError, DvcImportError, NotARepoError

from .conftest import RAW


def up_to_date(repo) -> None:
    status = repo.json("status")
    assert status["stages"] == {}
    assert all(p["state"] == "unchanged" for p in status["paths"]), status["paths"]
    assert repo.json("repro")["ran"] == []


@pytest.mark.parametrize("legacy", [False, True], ids=["dvc3", "dvc2"])
def test_converted_project_is_up_to_date(repo, dvc_project, legacy, tmp_path):
    dvc_project(repo.root, legacy=legacy)
    result = repo.json("import-dvc")
    assert result["pointers"] == ["data/raw.cairn"]
    assert result["stages"] == ["copy"] and result["locked"] == ["copy"] and result["rerun"] == {}
    assert result["remotes_added"] == ["store"] and result["initialized"] is False
    assert sorted(result["files"]) == [".cairnignore", "cairn.lock", "cairn.yaml", "data/raw.cairn"]
    # cairn.yaml is dvc.yaml byte for byte: it uses nothing cairn lacks
    assert (repo.root / "cairn.yaml").read_text() == (repo.root / "dvc.yaml").read_text()
    assert "*.tmp" in (repo.root / ".cairnignore").read_text()
    up_to_date(repo)
    # the pointer names what cairn itself computes for the folder (scratch.tmp is ignored)
    cmp = tmp_path / "cmp" / "raw"
    shutil.copytree(repo.root / "data" / "raw", cmp, ignore=shutil.ignore_patterns("*.tmp"))
    oid, size, files = repo.expected("../cmp/raw")
    assert repo.pointer("data/raw") == {
        "version": 1,
        "path": "raw",
        "kind": "tree",
        "oid": oid,
        "size": size,
        "files": files,
    }
    lock = yaml.safe_load((repo.root / "cairn.lock").read_text())["stages"]["copy"]
    assert lock["params"] == {"params.yaml": {"lr": 0.1}}
    assert [o["path"] for o in lock["outs"]] == ["metrics.json", "out.txt"]
    config = (repo.root / ".cairn" / "config.toml").read_text()
    assert 'url = "../dvcstore/cairn"' in config and 'remote = "store"' in config
    # a changed param is stale, as it would be for DVC
    (repo.root / "params.yaml").write_text("lr: 0.2\nepochs: 3\n")
    assert repo.json("status")["stages"] == {"copy": ["param lr 0.1 -> 0.2"]}


@pytest.mark.parametrize("legacy", [False, True], ids=["dvc3", "dvc2"])
def test_data_only_in_the_dvc_cache(repo, dvc_project, legacy):
    """The workspace lacks the data: it comes from the cache (DVC 2's md5 of b.txt is taken
    after dos2unix), and `cairn checkout` brings back every byte."""
    dvc_project(repo.root, legacy=legacy)
    shutil.rmtree(repo.root / "data" / "raw")
    (repo.root / "out.txt").unlink()
    repo.cairn("import-dvc")
    repo.cairn("checkout")
    for rel, data in RAW.items():
        assert (repo.root / "data" / "raw" / rel).read_bytes() == data
    assert (repo.root / "out.txt").read_bytes() == RAW["a.txt"]
    up_to_date(repo)


def test_import_initializes_cairn_and_dry_run_writes_nothing(git_repo, run_cairn, dvc_project):
    dvc_project(git_repo)
    dry = run_cairn("import-dvc", "--dry-run", "--json", cwd=git_repo)
    assert '"dry_run": true' in dry.stdout and '"data/raw.cairn"' in dry.stdout
    assert not (git_repo / ".cairn").exists() and not (git_repo / "cairn.yaml").exists()
    proc = run_cairn("import-dvc", cwd=git_repo)
    assert "initialized cairn in" in proc.stdout
    assert "wrote 1 pointer(s), 1 stage(s) (1 with a lock entry)" in proc.stdout
    assert (git_repo / ".cairn" / "config.toml").exists() and (git_repo / "data" / "raw.cairn").exists()
    status = run_cairn("status", "--json", cwd=git_repo)
    assert '"stages": {}' in status.stdout


def test_the_next_git_add_line_runs_as_printed(git_repo, run_cairn, dvc_project, git):
    p = dvc_project(git_repo)
    data = b"a file at the top"
    p.write("top.bin", data)
    p.write("top.bin.dvc", f"outs:\n- md5: {p.put(data)}\n  size: {len(data)}\n  hash: md5\n  path: top.bin\n")
    proc = run_cairn("import-dvc", cwd=git_repo)
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("next: ")]
    # each file once (a pointer at the top was named twice), nothing git cannot take ("...")
    assert line == "next: git add .cairn data/raw.cairn top.bin.cairn .cairnignore cairn.lock cairn.yaml"
    git(*shlex.split(line.removeprefix("next: git ")), cwd=git_repo)
    staged = git("diff", "--cached", "--name-only", cwd=git_repo).split()
    assert {"top.bin.cairn", "data/raw.cairn", "cairn.yaml", "cairn.lock", ".cairnignore"} <= set(staged)


def test_remote_data_is_copied_into_the_cairn_remote(repo, dvc_project):
    p = dvc_project(repo.root, remote=True)
    older = p.folder({"a.txt": b"an older version\n"}, remote=True)  # in no current record
    shutil.rmtree(p.cache)
    shutil.rmtree(repo.root / "data" / "raw")
    (repo.root / "out.txt").unlink()
    result = repo.json("import-dvc", "--remote", "store")
    assert result["pushed"] > 0
    assert (p.store / "cairn").is_dir() and (p.store / "files" / "md5").is_dir()  # beside DVC's own
    # every version on the DVC remote came along, and the md5 map knows it for older commits
    known = json.loads((repo.root / ".cairn" / "state" / "dvc-md5.json").read_text())["versions"]
    assert known[older][0] == "tree" and known[older][3] == 1
    shutil.rmtree(repo.root / ".cairn" / "cache")
    repo.cairn("pull")
    assert (repo.root / "data" / "raw" / "sub" / "c.bin").read_bytes() == RAW["sub/c.bin"]
    up_to_date(repo)


def test_changed_code_dep_whose_bytes_are_gone_makes_the_stage_stale(repo, dvc_project):
    dvc_project(repo.root)
    (repo.root / "train.py").write_text("print('new')\n")
    text = (repo.root / "dvc.yaml").read_text().replace("      - data/raw\n", "      - data/raw\n      - train.py\n")
    (repo.root / "dvc.yaml").write_text(text)
    lock = (repo.root / "dvc.lock").read_text()
    old = "    - path: train.py\n      hash: md5\n      md5: 0123456789abcdef0123456789abcdef\n      size: 3\n"
    (repo.root / "dvc.lock").write_text(lock.replace("    params:\n", old + "    params:\n"))
    result = repo.json("import-dvc")
    assert result["rerun"] == {"copy": ["dep train.py modified since DVC ran it"]}
    assert repo.json("status")["stages"] == {"copy": ["dep train.py modified"]}


def test_not_a_dvc_project(repo, assert_error):
    proc = repo.cairn("import-dvc", expect=NotARepoError.exit_code)
    assert_error(
        proc,
        NotARepoError,
        "is not inside a DVC project (no .dvc/ folder here or above)",
        "run `cairn import-dvc` at the top of the DVC project",
    )


def test_missing_data_is_listed_and_nothing_is_written(git_repo, run_cairn, dvc_project, assert_error):
    p = dvc_project(git_repo)
    shutil.rmtree(p.cache)
    shutil.rmtree(git_repo / "data" / "raw")
    proc = run_cairn("import-dvc", cwd=git_repo, expect=DvcImportError.exit_code)
    assert_error(
        proc,
        DvcImportError,
        "this DVC project has 1 thing cairn cannot convert; nothing was written:",
        "change them in the DVC project (or remove them) and run `cairn import-dvc` again",
    )
    assert "data/raw.dvc: data/raw (md5 " in proc.stderr
    assert ") is neither in the workspace nor in the DVC cache; run `dvc pull data/raw.dvc` or pass --remote NAME" in (
        proc.stderr
    )
    assert not (git_repo / ".cairn").exists()
    assert not (git_repo / "cairn.yaml").exists() and not (git_repo / "data" / "raw.cairn").exists()


def test_every_problem_is_listed_at_once(repo, dvc_project, assert_error):
    dvc_project(repo.root)
    (repo.root / "cairn.yaml").write_text("stages: {}\n")
    (repo.root / "x.dvc").write_text("deps:\n- path: s3://b/k\nouts:\n- path: k\n")
    text = (repo.root / "dvc.yaml").read_text().replace("    cmd: cp", "    retries: 2\n    cmd: cp")
    (repo.root / "dvc.yaml").write_text(text)
    proc = repo.cairn("import-dvc", expect=DvcImportError.exit_code)
    assert_error(proc, DvcImportError, "this DVC project has 3 things cairn cannot convert; nothing was written:")
    assert "  dvc.yaml stage copy: has a key cairn does not know: 'retries'" in proc.stderr
    assert (
        "  x.dvc: is a `dvc import`/`import-url` (it has deps); import it again with `cairn import-url s3://b/k`"
        in (proc.stderr)
    )
    assert "  cairn.yaml: exists already; import-dvc writes it (move it away to convert)" in proc.stderr
    assert not (repo.root / "data" / "raw.cairn").exists()


def test_pipeline_cairn_refuses_is_listed_with_its_position(repo, dvc_project, assert_error):
    dvc_project(repo.root)
    text = (repo.root / "dvc.yaml").read_text().replace("    cmd: cp", "    frozen: maybe\n    cmd: cp")
    (repo.root / "dvc.yaml").write_text(text)
    proc = repo.cairn("import-dvc", expect=DvcImportError.exit_code)
    assert_error(proc, DvcImportError, "this DVC project has 1 thing cairn cannot convert")
    assert "  dvc.yaml:3:5: `frozen` is true or false (as cairn reads it)" in proc.stderr


def test_unknown_dvc_remote(repo, dvc_project, assert_error):
    dvc_project(repo.root)
    proc = repo.cairn("import-dvc", "--remote", "nope", expect=ConfigError.exit_code)
    assert_error(
        proc,
        ConfigError,
        "the DVC project has no remote named 'nope' (its remotes: store)",
        "name one of them (`dvc remote list` shows them)",
    )


def test_an_older_dvc_commit_converts_on_a_branch_from_the_md5_map(repo, dvc_project):
    """After the conversion the DVC cache can go: an older DVC commit converts again (on its own
    branch) from the md5 -> BLAKE3 map and cairn's cache."""
    p = dvc_project(repo.root)
    repo.commit("DVC v1", ".")
    repo.cairn("import-dvc")
    repo.commit("moved to cairn", ".")
    shutil.rmtree(p.cache)
    shutil.rmtree(repo.root / "data" / "raw")
    repo.git("checkout", "-q", "-b", "old", "HEAD~1")
    assert not (repo.root / "data" / "raw.cairn").exists()
    repo.cairn("import-dvc")
    repo.cairn("checkout")
    for rel, data in RAW.items():
        assert (repo.root / "data" / "raw" / rel).read_bytes() == data
    up_to_date(repo)


def test_dvc_project_in_a_subfolder_of_its_git_repository(git_repo, run_cairn, dvc_project, assert_error):
    sub = git_repo / "ml"
    sub.mkdir()
    dvc_project(sub)
    proc = run_cairn("import-dvc", cwd=sub, expect=DvcImportError.exit_code)
    assert_error(
        proc,
        DvcImportError,
        "is a subfolder of the git repository",
        "move the DVC project to the top of its git repository first (git mv), then convert it there",
    )
    assert not (sub / ".cairn").exists()


def test_dvc_cache_type_becomes_cairns(git_repo, run_cairn, dvc_project):
    dvc_project(git_repo)
    with open(git_repo / ".dvc" / "config", "a") as f:
        f.write("[cache]\n    type = hardlink,copy\n")
    run_cairn("import-dvc", cwd=git_repo)
    assert 'type = ["hardlink", "copy"]' in (git_repo / ".cairn" / "config.toml").read_text()
