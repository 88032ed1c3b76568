"""Hostile files from a teammate's commit or a shared remote, driven through the real `cairn`
CLI in real git repositories: each command fails with its documented exit code and a message
naming the file, writes nothing outside the repository (a sentinel folder beside it stays
empty) and leaves the workspace as it was (checkout validates everything before it writes)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from blake3 import blake3

from cairn.errors import CorruptObjectError, PathError, PipelineError, PointerError, RemoteError

GOOD = blake3(b"hostile").hexdigest()


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def files_of(root: Path) -> dict[str, bytes]:
    """The workspace: every file outside .git/ and cairn's cache and state (a fetch may keep a
    crafted object in the cache: it is content-addressed, and refused when read as a tree)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.split("/")[0] == ".git" or rel.startswith((".cairn/state", ".cairn/tmp", ".cairn/cache")):
            continue
        if p.is_symlink():
            out[rel] = b"-> " + os.readlink(p).encode()
        elif p.is_file():
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def sentinel(repo) -> Path:
    """A folder next to the repository that hostile input tries to write into."""
    path = repo.root.parent / "sentinel"
    path.mkdir()
    return path


def assert_untouched(repo, sentinel: Path, before: dict[str, bytes]) -> None:
    assert list(sentinel.iterdir()) == [], "a file was written outside the repository"
    assert files_of(repo.root) == before, "the workspace changed"
    assert not (repo.root.parent / "evil").exists()


def put_object(repo, data: bytes) -> str:
    """Place an object in the cache as a shared cache or a fetch would: named by its BLAKE3."""
    oid = b3(data)
    path = repo.object_path(oid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return oid


def tree(*entries: tuple[str, str, str, int]) -> bytes:
    rows = [{"exec": False, "kind": k, "name": n, "oid": o, "size": s} for n, k, o, s in entries]
    return json.dumps({"entries": rows, "version": 1}, sort_keys=True, separators=(",", ":")).encode()


# -- pointer files from a teammate's commit ---------------------------------------------------
CRAFTED_POINTERS = {
    "escape": (f"version: 1\npath: ../sentinel/evil\nkind: file\noid: {GOOD}\nsize: 7\n", "points outside"),
    "absolute": (f"version: 1\npath: /tmp/evil\nkind: file\noid: {GOOD}\nsize: 7\n", "points outside"),
    "nul": (f'version: 1\npath: "ev\\0il"\nkind: file\noid: {GOOD}\nsize: 7\n', "holds a NUL character"),
    "git-dir": (f"version: 1\npath: .git\nkind: tree\noid: {GOOD}\nsize: 7\n", "points at .git/"),
    "short-oid": ("version: 1\npath: evil\nkind: file\noid: abc\nsize: 7\n", "has an invalid oid 'abc'"),
    "huge-size": (f"version: 1\npath: evil\nkind: file\noid: {GOOD}\nsize: -1\n", "invalid size"),
    "version": (f"version: 99\npath: evil\nkind: file\noid: {GOOD}\nsize: 7\n", "has format version 99"),
    "deep": ("version: 1\npath: " + "[" * 5000 + "]" * 5000 + "\n", "is not valid YAML"),
    "not-utf8": (b"version: 1\npath: \xff\xfe\n", "is not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED_POINTERS))
def test_a_crafted_pointer_is_refused_by_checkout_status_and_diff(repo, sentinel, assert_error, case):
    text, message = CRAFTED_POINTERS[case]
    repo.write({"keep.txt": b"mine"})
    (repo.root / "evil.cairn").write_bytes(text.encode() if isinstance(text, str) else text)
    repo.commit("a teammate's commit")
    before = files_of(repo.root)

    for command in (["checkout"], ["status"], ["diff", "HEAD~1", "HEAD"]):
        proc = repo.cairn(*command, expect=None)
        assert_error(proc, PointerError, "pointer file evil.cairn")
        assert message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert_untouched(repo, sentinel, before)


# -- tree objects -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../sentinel/evil", "..", "a/../../evil", "ev\0il", "/tmp/evil"])
def test_a_crafted_tree_in_the_cache_is_refused_before_anything_is_written(repo, sentinel, assert_error, name):
    # a good tracked file whose workspace copy is gone: checkout would restore it...
    repo.write({"good.bin": b"good data"})
    repo.cairn("add", "good.bin")
    (repo.root / "good.bin").unlink()
    # ...and a folder whose tree (well-formed above, crafted one level down) names a path outside
    payload = put_object(repo, b"evil payload")
    inner = put_object(repo, tree((name, "file", payload, 12)))
    top = put_object(repo, tree(("sub", "tree", inner, 12)))
    (repo.root / "data.cairn").write_text(f"version: 1\npath: data\nkind: tree\noid: {top}\nsize: 12\nfiles: 1\n")
    repo.commit("a teammate's commit")
    before = files_of(repo.root)

    proc = repo.cairn("checkout", expect=None)
    assert_error(proc, CorruptObjectError, f"object {inner} is not a valid tree object (invalid entry name")
    assert_untouched(repo, sentinel, before)
    assert not (repo.root / "good.bin").exists(), "checkout was half-applied"
    assert_error(repo.cairn("diff", "HEAD~1", "HEAD", expect=None), CorruptObjectError, f"object {inner}")


def remote_folder(repo, tmp_path: Path) -> Path:
    folder = tmp_path / "remote-store"
    repo.cairn("remote", "add", "-d", "store", str(folder))
    repo.commit("remote")
    return folder


def test_pull_of_a_crafted_tree_from_a_remote_writes_nothing(repo, sentinel, assert_error, tmp_path):
    folder = remote_folder(repo, tmp_path)
    payload = b"evil payload"
    evil = tree(("../../sentinel/evil", "file", b3(payload), len(payload)))
    # what an attacker with write access to the shared remote (or a damaged one) holds
    (folder / "objects" / b3(evil)[:2]).mkdir(parents=True)
    (folder / "objects" / b3(evil)[:2] / b3(evil)[2:]).write_bytes(evil)
    (folder / "objects" / b3(payload)[:2]).mkdir(parents=True, exist_ok=True)
    (folder / "objects" / b3(payload)[:2] / b3(payload)[2:]).write_bytes(payload)
    (folder / "cairn-remote.json").write_text('{"version": 1, "generation": "0123456789abcdef0123456789abcdef"}')
    (repo.root / "data.cairn").write_text(f"version: 1\npath: data\nkind: tree\noid: {b3(evil)}\nsize: 12\nfiles: 1\n")
    repo.commit("a teammate's commit")
    before = files_of(repo.root)

    proc = repo.cairn("pull", expect=None)
    assert_error(proc, CorruptObjectError, f"object {b3(evil)} is not a valid tree object")
    assert "'../../sentinel/evil'" in proc.stderr
    assert_untouched(repo, sentinel, before)


# -- pack indexes and the remote's layout -------------------------------------------------------
@pytest.fixture
def pushed(repo, tmp_path):
    """A project that pushed data/ to a folder remote, and a fresh clone of it (the victim)."""
    folder = remote_folder(repo, tmp_path)
    repo.write({"data/a.txt": b"alpha", "data/b.txt": b"beta"})
    repo.cairn("add", "data")
    repo.commit("data")
    repo.cairn("push")
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(repo.root), str(clone))
    return folder, clone


IDX_DAMAGE = {
    "bad-oid": lambda doc: {**doc, "objects": [["../../evil", 0, 5]]},
    "negative": lambda doc: {**doc, "objects": [[r[0], -100, r[2]] for r in doc["objects"]]},
    "huge-int": lambda doc: {**doc, "objects": [[r[0], r[1], 2**70] for r in doc["objects"]]},
    "huge-size": lambda doc: {**doc, "objects": [[r[0], r[1], 2**40] for r in doc["objects"]]},
    "float": lambda doc: {**doc, "objects": [[r[0], 0.5, r[2]] for r in doc["objects"]]},
    "duplicate": lambda doc: {**doc, "objects": doc["objects"] + doc["objects"][:1]},
    "deep": lambda doc: "DEEP",
    "version": lambda doc: {**doc, "version": 2},
}


@pytest.mark.parametrize("case", sorted(IDX_DAMAGE))
def test_pull_refuses_a_crafted_pack_index(repo, pushed, sentinel, run_cairn, assert_error, case):
    folder, clone = pushed
    idx = sorted((folder / "packs").glob("*.idx"))[0]  # the first one read
    doc = IDX_DAMAGE[case](json.loads(idx.read_bytes()))
    idx.write_bytes(b"[" * 3000 + b"]" * 3000 if doc == "DEEP" else json.dumps(doc).encode())
    before = files_of(clone)

    proc = run_cairn("pull", cwd=clone, expect=None)
    message = "has format version 2" if case == "version" else "on the remote is damaged"
    assert_error(proc, CorruptObjectError, f"pack index packs/{idx.name} {message}")
    assert files_of(clone) == before and list(sentinel.iterdir()) == []


@pytest.mark.parametrize(
    "layout, message",
    [
        (b"[" * 3000 + b"]" * 3000, "cairn-remote.json is damaged"),
        (b"\xff\xfe", "cairn-remote.json is damaged"),
        (b'{"version": true}', "has layout version True; this cairn reads 1"),
        (b'{"version": "1"}', "has layout version '1'; this cairn reads 1"),
    ],
)
def test_pull_refuses_a_crafted_remote_layout(pushed, run_cairn, assert_error, layout, message):
    folder, clone = pushed
    (folder / "cairn-remote.json").write_bytes(layout)
    before = files_of(clone)
    assert_error(run_cairn("pull", cwd=clone, expect=None), RemoteError, message)
    assert files_of(clone) == before


# -- cairn.lock ---------------------------------------------------------------------------------
def lock_text(out_path: str, oid: str, size: int) -> str:
    return (
        "version: 1\nstages:\n  train:\n    cmd: python train.py\n    outs:\n"
        f"    - path: {out_path}\n      kind: file\n      oid: {oid}\n      size: {size}\n      files: 1\n"
    )


@pytest.mark.parametrize(
    "out, message",
    [
        ("../sentinel/evil", "the path '../sentinel/evil' points outside the repository"),
        ("/tmp/evil", "the path '/tmp/evil' is an absolute path"),
        (".git/hooks/post-checkout", "the path '.git/hooks/post-checkout' is inside .git/"),
        ("a/./../../evil", "the path 'a/./../../evil' points outside the repository"),
    ],
)
def test_a_crafted_lock_is_refused_by_checkout_status_and_repro(repo, sentinel, assert_error, out, message):
    oid = put_object(repo, b"#!/bin/sh\necho evil\n")
    (repo.root / "cairn.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n    outs: [model.bin]\n")
    (repo.root / "cairn.lock").write_text(lock_text(out, oid, 21))
    repo.commit("a teammate's commit")
    before = files_of(repo.root)

    for command in ("checkout", "status", "repro"):
        proc = repo.cairn(command, expect=None)
        assert_error(proc, PipelineError, "cairn.lock is damaged (" + message, "git checkout -- cairn.lock")
    assert_untouched(repo, sentinel, before)
    assert not (repo.root / ".git" / "hooks" / "post-checkout").exists()


def test_checkout_does_not_write_through_a_committed_link_leading_outside(repo, sentinel, assert_error):
    oid = put_object(repo, b"evil payload")
    os.symlink("../sentinel", repo.root / "models")  # git stores the link itself
    (repo.root / "cairn.lock").write_text(lock_text("models/model.bin", oid, 12))
    repo.commit("a teammate's commit")
    before = files_of(repo.root)

    proc = repo.cairn("checkout", expect=None)
    assert_error(
        proc,
        PathError,
        "cannot check out models/model.bin: models is a symbolic link leading outside the repository",
        "replace the link with a folder (`rm models`)",
    )
    assert_untouched(repo, sentinel, before)


def test_a_link_inside_the_repository_is_still_written_through(repo, sentinel):
    oid = put_object(repo, b"model bytes")
    (repo.root / "real").mkdir()
    os.symlink("real", repo.root / "models")
    (repo.root / "cairn.lock").write_text(lock_text("models/model.bin", oid, 11))
    repo.cairn("checkout")
    assert (repo.root / "real" / "model.bin").read_bytes() == b"model bytes"
    assert list(sentinel.iterdir()) == []


# -- cairn.yaml and params ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "outs, message",
    [
        ("[../sentinel/evil]", "cairn.yaml:4:12: '../sentinel/evil' points outside the repository"),
        ("[.git/hooks/pre-commit]", "cairn.yaml:4:12: '.git/hooks/pre-commit' is inside .git/"),
    ],
)
def test_repro_refuses_outputs_outside_the_repository_before_running_anything(
    repo, sentinel, assert_error, outs, message
):
    ran = sentinel.parent / "ran"
    (repo.root / "cairn.yaml").write_text(f"stages:\n  s:\n    cmd: touch {ran}\n    outs: {outs}\n")
    before = files_of(repo.root)
    assert_error(repo.cairn("repro", expect=None), PipelineError, "cairn.yaml has 1 problem")
    assert message in repo.cairn("repro", expect=None).stderr
    assert not ran.exists(), "the stage ran"
    assert_untouched(repo, sentinel, before)


def _bomb(levels: int) -> str:
    keys = [f"k{i}" for i in range(9)]
    lines = ["l0: &l0 {" + ", ".join(f"{k}: 1" for k in keys) + "}"]
    lines += [f"l{i}: &l{i} {{" + ", ".join(f"{k}: *l{i - 1}" for k in keys) + "}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (_bomb(10).encode(), "params.yaml:6:5: refused: its aliases expand to more than 1,000,000 values"),
        (b"lr: \xff\n", "params file params.yaml is not UTF-8 text (byte 4)"),
        (("a: " + "[" * 400 + "]" * 400 + "\n").encode(), "params.yaml:1:"),
    ],
)
def test_repro_and_params_diff_refuse_a_hostile_params_file(repo, assert_error, content, message):
    (repo.root / "cairn.yaml").write_text("stages:\n  s:\n    cmd: echo hi\n    params: [lr]\n")
    (repo.root / "params.yaml").write_bytes(content)
    for command in (["repro"], ["status"]):
        proc = repo.cairn(*command, expect=None)
        assert_error(proc, PipelineError, message)


def test_a_pipeline_whose_cmd_is_hostile_still_runs_it(repo, sentinel):
    """What cairn does NOT protect against (docs/security.md): cairn.yaml is code, like a
    Makefile; its commands run with the user's rights."""
    (repo.root / "cairn.yaml").write_text(f"stages:\n  s:\n    cmd: touch {sentinel / 'ran'}\n")
    repo.cairn("repro")
    assert (sentinel / "ran").exists()


def test_a_refused_checkout_leaves_no_temporary_file_behind(repo, make_dataset):
    make_dataset(repo.root / "data", count=30)
    repo.cairn("add", "data")
    shutil.rmtree(repo.root / "data")  # checkout would write 30 files...
    (repo.root / "evil.cairn").write_text(CRAFTED_POINTERS["escape"][0])  # ...but this pointer is planned too
    repo.cairn("checkout", expect=PointerError.exit_code)
    assert not (repo.root / "data").exists()
    tmp = repo.root / ".cairn" / "tmp"
    leftovers = [p.name for p in tmp.iterdir() if not p.name.startswith("lock")] if tmp.exists() else []
    assert leftovers == []


def test_checkout_does_not_fill_a_tracked_folder_that_became_a_link_leading_outside(repo, sentinel, assert_error):
    repo.write({"data/a.txt": b"alpha", "data/sub/b.txt": b"beta"})
    repo.cairn("add", "data")
    repo.commit("data")
    shutil.rmtree(repo.root / "data")
    os.symlink("../sentinel", repo.root / "data")
    before = files_of(repo.root)

    proc = repo.cairn("checkout", expect=None)
    assert_error(proc, PathError, "cannot check out data: data is a symbolic link leading outside the repository")
    assert_untouched(repo, sentinel, before)
