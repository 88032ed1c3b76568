"""cairn ls / get / import / update between two local repositories, the registry's data on S3
(moto): as a consumer would use a team's data registry."""

from __future__ import annotations

import json
import os

import yaml

from cairn.errors import (
    ConfigError,
    PathError,
    RemoteAuthError,
    RemoteUnreachableError,
    RevisionError,
    WouldLoseDataError,
)

from .conftest import S3_ENV, images


def _json(project, *args):
    return json.loads(project.cairn(*args, "--json", env=S3_ENV).stdout)


def _tree_files(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_ls_lists_git_files_and_tracked_data_without_touching_the_data(registry, tmp_path):
    # no credentials at all: listing the top needs git objects only, never the data remote
    out = registry.cairn("ls", registry.root, "--json", cwd=tmp_path)
    doc = json.loads(out.stdout)
    entries = {e["path"]: e for e in doc["entries"]}
    assert doc["commit"] == registry.project.git("rev-parse", "HEAD").strip()
    assert entries["model.bin"] == {
        "path": "model.bin",
        "kind": "file",
        "tracked": "cairn",
        "origin": "pointer",
        "size": 800,
        "files": 1,
    }
    assert entries["data"]["tracked"] == "git" and entries["data"]["kind"] == "folder"
    assert not any(p.endswith(".cairn") for p in entries)  # pointers stand for their data

    text = registry.cairn("ls", registry.root, "data", cwd=tmp_path).stdout
    total = sum(len(b) for b in images(1).values())
    assert f"data/images/  [{total} B, 13 files]" in text


def test_ls_inside_a_tracked_folder_reads_its_trees(registry, tmp_path):
    doc = json.loads(
        registry.cairn("ls", registry.root, "data/images", "-R", "--json", cwd=tmp_path, env=S3_ENV).stdout
    )
    listed = {e["path"]: e for e in doc["entries"]}
    want = {f"data/images/{k}": v for k, v in images(1).items()}
    assert {p for p, e in listed.items() if e["kind"] == "file"} == set(want)
    assert listed["data/images/sub"]["files"] == 1
    assert all(listed[p]["size"] == len(b) for p, b in want.items())
    # -R from the top expands tracked folders too
    doc = json.loads(registry.cairn("ls", registry.root, "-R", "--json", cwd=tmp_path, env=S3_ENV).stdout)
    assert set(want) <= {e["path"] for e in doc["entries"]}


def test_get_outside_any_repository_verified_and_complete(registry, tmp_path):
    here = tmp_path / "elsewhere"
    here.mkdir()
    registry.cairn("get", registry.root, "data/images", cwd=here, env=S3_ENV)
    assert _tree_files(here / "images") == images(1)
    assert not list(here.glob(".*"))  # the temporary store is gone
    assert not (here / "images.cairn").exists()
    assert os.access(here / "images" / "img01.png", os.W_OK)  # the user's own files
    # one file from inside a tracked folder, at an older tag, to a chosen name
    registry.release(2)
    registry.cairn("get", registry.root, "data/images/img00.png", "--rev", "v1", "-o", "old.png", cwd=here, env=S3_ENV)
    assert (here / "old.png").read_bytes() == images(1)["img00.png"]
    registry.cairn("get", registry.root, "data/images/img00.png", "-o", "new.png", cwd=here, env=S3_ENV)
    assert (here / "new.png").read_bytes() == b"image 0 v2"
    # what git tracks there comes from git (no credentials needed)
    registry.project.write({"conf/train.yaml": b"lr: 0.1\n", "conf/sub/x.txt": b"x"})
    registry.project.commit("config")
    out = registry.cairn("get", registry.root, "conf", "--json", cwd=here)
    assert json.loads(out.stdout)["kind"] == "git"
    assert _tree_files(here / "conf") == {"train.yaml": b"lr: 0.1\n", "sub/x.txt": b"x"}
    one = registry.cairn("get", registry.root, "conf/train.yaml", cwd=here / "conf" / "sub")
    assert "(1 file tracked by git)" in one.stdout


def test_get_large_objects_and_repeated_contents(registry, tmp_path):
    """A large object travels loose (not in a pack), and one content at several paths is one
    object: `get` writes every path, each a file of its own."""
    big = bytes(range(256)) * (9 * 1024)  # 2.25 MiB, above the pack threshold
    files = {"a.bin": big, "sub/b.bin": big, "c.txt": b"same", "sub/d.txt": b"same"}
    files.update({"e/one.txt": b"q", "f/g/e/one.txt": b"q"})  # one folder version at two depths
    registry.project.write(files, under="big")
    registry.cairn("add", "big")
    registry.cairn("push")
    registry.project.commit("big")
    registry.cairn("get", registry.root, "big", "-o", tmp_path / "got", cwd=tmp_path, env=S3_ENV)
    got = tmp_path / "got"
    assert _tree_files(got) == files
    assert (got / "a.bin").stat().st_ino != (got / "sub" / "b.bin").stat().st_ino
    assert (got / "c.txt").stat().st_nlink == 1


def test_get_credentials_from_the_local_config_of_the_same_remote(registry, app, assert_error):
    proc = app.cairn("get", registry.root, "model.bin", expect=None)
    assert_error(proc, RemoteAuthError, "no credentials found")
    assert not (app.root / "model.bin").exists()
    # this clone's settings for the same bucket (kept in config.local.toml) apply to the source's remote
    app.cairn("remote", "add", "reg", registry.remote_url)
    app.cairn("remote", "modify", "reg", "access_key_id", "testing", "--local")
    app.cairn("remote", "modify", "reg", "secret_access_key", "testing", "--local")
    app.cairn("get", registry.root, "model.bin")
    assert (app.root / "model.bin").read_bytes() == b"weights " * 100


def test_import_records_the_source_and_push_sends_to_our_remote(registry, app, tmp_path):
    proc = app.cairn("import", registry.root, "data/images", "--rev", "main", "-o", "inputs/images", env=S3_ENV)
    # the .gitignore written is the one beside the pointer, not the top one
    assert proc.stdout.endswith("Commit it: git add inputs/images.cairn inputs/.gitignore\n")
    assert _tree_files(app.root / "inputs" / "images") == images(1)
    pointer = yaml.safe_load((app.root / "inputs" / "images.cairn").read_text())
    assert pointer["source"] == {
        "version": 1,
        "type": "repo",
        "url": str(registry.root),
        "rev": "main",
        "commit": registry.project.git("rev-parse", "v1").strip(),
        "path": "data/images",
    }
    assert (app.root / "inputs" / ".gitignore").read_text() == "/images\n"
    assert app.json("status")["imports"] == []
    app.commit("import images")
    # the objects are ours now: push them to this project's own (local folder) remote
    app.cairn("remote", "add", "-d", "mine", str(tmp_path / "mine"))
    app.cairn("push")
    assert (tmp_path / "mine" / "cairn-remote.json").exists()


def test_status_and_update_follow_the_source(registry, app, assert_error):
    app.cairn("import", registry.root, "data/images", env=S3_ENV)
    app.commit("import")
    registry.release(2)
    status = _json(app, "status")
    [behind] = status["imports"]
    assert behind["path"] == "images" and behind["behind"] is True
    assert behind["latest"] == registry.project.git("rev-parse", "v2").strip()
    assert "images: import behind its source" in app.cairn("status", env=S3_ENV).stdout

    # local changes are not replaced without --force
    (app.root / "images" / "img01.png").chmod(0o644)
    (app.root / "images" / "img01.png").write_bytes(b"edited here")
    proc = app.cairn("update", expect=None, env=S3_ENV)
    assert_error(proc, WouldLoseDataError, "images has changes in the workspace (0 added, 1 modified, 0 deleted)")
    assert (app.root / "images" / "img01.png").read_bytes() == b"edited here"
    app.cairn("update", "--force", "images", env=S3_ENV)
    assert _tree_files(app.root / "images") == images(2)
    assert _json(app, "status")["imports"] == []

    # back to an older tag; the pointer remembers the rev asked for
    out = _json(app, "update", "--rev", "v1")
    assert out[0]["updated"] is True
    assert _tree_files(app.root / "images") == images(1)
    assert app.pointer("images")["source"]["rev"] == "v1"
    assert _json(app, "update")[0]["updated"] is False


def test_an_import_is_a_stage_dependency(registry, app):
    app.cairn("import", registry.root, "data/images/sub", "-o", "sub", env=S3_ENV)
    app.write({"count.py": b"import os\nopen('n.txt', 'w').write(str(len(os.listdir('sub'))))\n"})
    app.cairn("stage", "add", "-n", "count", "-d", "sub", "-d", "count.py", "-o", "n.txt", "python3 count.py")
    app.cairn("repro")
    assert (app.root / "n.txt").read_text() == "1"
    registry.release(2)
    app.cairn("update", "sub", env=S3_ENV)
    assert "stage count: stale" in app.cairn("status", env=S3_ENV).stdout
    app.cairn("repro")
    assert (app.root / "n.txt").read_text() == "2"


def test_bad_input(registry, app, tmp_path, assert_error):
    proc = app.cairn("ls", tmp_path / "no-such-repo", expect=None)
    assert_error(proc, RemoteUnreachableError, "cannot read the source repository", "`git ls-remote URL` must answer")
    proc = app.cairn("get", registry.root, "data/images", "--rev", "no-such-branch", expect=None)
    assert_error(proc, RevisionError, f"the source repository {registry.root} has no revision 'no-such-branch'")
    proc = app.cairn("import", registry.root, "data/images", "--rev", "abc1234", expect=None)
    assert_error(proc, RevisionError, "'abc1234' looks like an abbreviated commit id")
    proc = app.cairn("import", registry.root, "data/labels", expect=None)
    assert_error(
        proc,
        PathError,
        f"{registry.root} does not track 'data/labels' with cairn at",
        f"list what it tracks with `cairn ls {registry.root}`",
    )
    assert "; it tracks: data/images, model.bin" in proc.stderr
    # a file git tracks there cannot be imported, but `get` copies it: the hint says so
    proc = app.cairn("import", registry.root, ".cairn/config.toml", expect=None, env=S3_ENV)
    assert_error(
        proc,
        PathError,
        "does not track '.cairn/config.toml' with cairn",
        f"git tracks it there: copy it with `cairn get {registry.root} .cairn/config.toml`",
    )
    proc = app.cairn("get", registry.root, "data/images/nope.png", expect=None, env=S3_ENV)
    # the source named in message and hint (the hint said `cairn ls SOURCE ...`)
    assert_error(
        proc,
        PathError,
        f"data/images in {registry.root} has no nope.png",
        f"list it with `cairn ls {registry.root} data/images -R`",
    )

    app.cairn("import", registry.root, "model.bin", env=S3_ENV)
    proc = app.cairn("import", registry.root, "model.bin", expect=None, env=S3_ENV)
    assert_error(proc, PathError, "model.bin.cairn already exists", "`cairn update model.bin` moves it")
    app.write({"local.txt": b"mine"})
    app.cairn("add", "local.txt")
    proc = app.cairn("update", "local.txt", expect=None)
    assert_error(proc, PathError, "local.txt.cairn is not an import (it records no source)")
    proc = app.cairn("update", "nope", expect=None)  # not "track it with `cairn add nope`"
    assert_error(
        proc, PathError, "nope is not tracked by cairn: there is no import there", "give the path of an import"
    )
    (tmp_path / "taken").mkdir()
    proc = app.cairn("get", registry.root, "model.bin", "-o", tmp_path / "taken", expect=None)
    assert_error(proc, PathError, "taken already exists")
    # a source without a data remote
    bare = app.root.parent / "plain"
    app.git("clone", "-q", str(registry.root), str(bare))
    (bare / ".cairn" / "config.toml").write_text("version = 1\n")
    app._git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qam", "no remote", cwd=bare)
    proc = app.cairn("get", bare, "model.bin", "-o", "m2.bin", expect=None)
    assert_error(
        proc, ConfigError, f"{bare} names no data remote to read from (its remotes: none)", "cairn remote add -d"
    )
