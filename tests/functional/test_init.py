"""`cairn init`: the files it writes, re-initialization, and repositories without git."""

from __future__ import annotations

import tomllib

from cairn.errors import AlreadyInitializedError, NotARepoError


def test_init_writes_config_and_gitignore(git_repo, run_cairn, git):
    proc = run_cairn("init", cwd=git_repo)

    assert f"Initialized cairn in {git_repo / '.cairn'}" in proc.stdout
    assert "git add .cairn" in proc.stdout
    config = tomllib.loads((git_repo / ".cairn" / "config.toml").read_text())
    assert config["version"] == 1
    assert config["cache"]["type"] == ["reflink", "copy"]
    ignored = (git_repo / ".cairn" / ".gitignore").read_text().splitlines()
    assert sorted(ignored) == ["/cache/", "/config.local.toml", "/state/", "/tmp/"]
    # Exactly the two files to commit show up in git; local state never does.
    for name in ("cache/objects/ab/cd", "tmp/lock", "state/stat.db", "config.local.toml"):
        path = git_repo / ".cairn" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    status = git("status", "--porcelain", "--untracked-files=all", cwd=git_repo).splitlines()
    assert sorted(status) == ["?? .cairn/.gitignore", "?? .cairn/config.toml"]


def test_init_from_a_subfolder_sets_up_the_git_root(git_repo, run_cairn):
    sub = git_repo / "src" / "deep"
    sub.mkdir(parents=True)

    run_cairn("init", cwd=sub)

    assert (git_repo / ".cairn" / "config.toml").is_file()
    assert not (sub / ".cairn").exists()
    # and every command finds it from below
    assert "No tracked data" in run_cairn("status", cwd=sub).stdout


def test_reinit_is_refused_without_force(git_repo, run_cairn, assert_error):
    run_cairn("init", cwd=git_repo)
    (git_repo / ".cairn" / "config.toml").write_text('version = 1\n[cache]\ntype = ["copy"]\n')

    proc = run_cairn("init", cwd=git_repo, expect=None)

    assert_error(proc, AlreadyInitializedError, f"{git_repo} is already a cairn repository", "cairn init --force")
    assert 'type = ["copy"]' in (git_repo / ".cairn" / "config.toml").read_text()


def test_reinit_with_force_rewrites_config_and_keeps_the_cache(repo, make_dataset):
    make_dataset(repo.root / "data")
    repo.cairn("add", "data")
    before = repo.cache_oids()

    repo.cairn("init", "--force")

    assert repo.cache_oids() == before
    assert "No tracked data" not in repo.cairn("status").stdout
    assert "data: unchanged" in repo.cairn("status").stdout


def test_init_outside_git_names_both_fixes(tmp_path, run_cairn, assert_error):
    plain = tmp_path / "plain"
    plain.mkdir()

    proc = run_cairn("init", cwd=plain, expect=None)

    assert_error(proc, NotARepoError, f"{plain} is not inside a git repository", "run `git init` first")
    assert "cairn init --no-scm" in proc.stderr
    assert not (plain / ".cairn").exists()


def test_no_scm_works_outside_git(tmp_path, run_cairn, make_dataset, assert_error):
    plain = tmp_path / "plain"
    plain.mkdir()
    run_cairn("init", "--no-scm", cwd=plain)

    config = tomllib.loads((plain / ".cairn" / "config.toml").read_text())
    assert config["core"]["no_scm"] is True
    files = make_dataset(plain / "data")
    proc = run_cairn("add", "data", cwd=plain)
    assert f"added data ({len(files)} files" in proc.stdout
    assert "data: unchanged" in run_cairn("status", cwd=plain).stdout
    (plain / "data" / next(iter(files))).unlink()
    run_cairn("checkout", cwd=plain)
    assert "data: unchanged" in run_cairn("status", cwd=plain).stdout
    # Comparing revisions needs git: a clear refusal, not a crash.
    proc = run_cairn("diff", cwd=plain, expect=None)
    assert_error(proc, NotARepoError, "has no git (core.no_scm)", "run `git init`")
    # gc without history keeps what the workspace pointers use.
    assert "Nothing to remove" in run_cairn("gc", cwd=plain).stdout


def test_not_a_cairn_repo(git_repo, tmp_path, run_cairn, assert_error):
    proc = run_cairn("status", cwd=git_repo, expect=None)
    assert_error(proc, NotARepoError, "is a git repository but not a cairn repository", "run `cairn init`")

    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_cairn("add", "x", cwd=plain, expect=None)
    assert_error(proc, NotARepoError, f"{plain} is a directory but not a cairn repository", "run `cairn init`")
