"""`cairn add`: pointers, .gitignore entries, .cairnignore, the stat cache, tree objects, the
read-only cache and the link types."""

from __future__ import annotations

import os
import stat

import pytest
from blake3 import blake3

from cairn.errors import ConfigError, PathError


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def add_json(repo, *paths: str) -> list[dict]:
    out = repo.json("add", *paths)
    assert isinstance(out, list)
    return out


def test_the_git_add_hint_names_a_shared_gitignore_once(repo):
    repo.write({"models/a.bin": b"a", "models/b.bin": b"b"})

    proc = repo.cairn("add", "models/a.bin", "models/b.bin")

    assert "git add models/a.bin.cairn models/.gitignore models/b.bin.cairn\n" in proc.stdout


def test_add_file_writes_pointer_gitignore_and_object(repo):
    data = b"weights " * 1000
    repo.write({"models/model.bin": data})

    proc = repo.cairn("add", "models/model.bin")

    assert "added models/model.bin (7.8 KiB)" in proc.stdout
    assert "git add models/model.bin.cairn models/.gitignore" in proc.stdout
    oid = b3(data)
    # Key order is part of the format: git diffs of pointers stay readable.
    assert (repo.root / "models" / "model.bin.cairn").read_text() == (
        f"version: 1\npath: model.bin\nkind: file\noid: {oid}\nsize: {len(data)}\nfiles: 1\n"
    )
    assert (repo.root / "models" / ".gitignore").read_text() == "/model.bin\n"
    assert repo.object_path(oid).read_bytes() == data
    # git sees the pointer and the .gitignore, never the data
    status = repo.git("status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == ["?? models/.gitignore", "?? models/model.bin.cairn"]


def test_add_folder_pointer_and_tree_objects(repo, make_dataset):
    files = make_dataset(repo.root / "data", count=20, depth=2)
    (repo.root / "data" / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (repo.root / "data" / "run.sh").chmod(0o755)

    out = add_json(repo, "data")

    oid, size, count = repo.expected("data")
    assert out == [
        {
            "path": "data",
            "pointer": "data.cairn",
            "oid": oid,
            "kind": "tree",
            "size": size,
            "files": len(files) + 1,
            "hashed": len(files) + 1,
            "link": "copy",
            "changed": True,
            "skipped": [],
            "follow_symlinks": False,
        }
    ]
    assert count == len(files) + 1
    assert repo.pointer("data") == {"version": 1, "path": "data", "kind": "tree", "oid": oid, "size": size, "files": 21}
    assert (repo.root / ".gitignore").read_text() == "/data\n"
    # One tree object per folder (root, 3 + 9 subfolders), each byte-for-byte as docs/formats.md says.
    trees = repo.expected_trees("data")
    assert len(trees) == 1 + 3 + 9
    blobs = {b3(b) for b in files.values()} | {b3(b"#!/bin/sh\necho hi\n")}
    assert repo.cache_oids() == set(trees) | blobs
    for tree_oid, body in trees.items():
        assert repo.object_path(tree_oid).read_bytes() == body
    assert b'"exec":true,"kind":"file","name":"run.sh"' in trees[oid]


def test_cache_objects_are_read_only(repo, make_dataset):
    make_dataset(repo.root / "data")
    repo.cairn("add", "data")

    modes = {stat.S_IMODE(repo.object_path(o).stat().st_mode) for o in repo.cache_oids()}
    assert modes == {0o444}
    # copy mode leaves the user's own files as they were: writable
    assert all(os.access(p, os.W_OK) for p in (repo.root / "data").rglob("*.bin"))


def test_add_from_a_subfolder_is_relative_to_it(repo, make_dataset):
    make_dataset(repo.root / "project" / "images", count=3, depth=0)

    proc = repo.cairn("add", "images", cwd=repo.root / "project")

    assert "added project/images (3 files" in proc.stdout
    assert repo.pointer("project/images")["path"] == "images"
    assert (repo.root / "project" / ".gitignore").read_text() == "/images\n"
    assert repo.git("check-ignore", "project/images/f00000.bin").strip() == "project/images/f00000.bin"


def test_add_several_paths_and_keep_existing_gitignore(repo):
    (repo.root / ".gitignore").write_text("*.log")  # no trailing newline
    repo.write({"a.bin": b"a", "b.bin": b"b"})

    out = add_json(repo, "a.bin", "b.bin")

    assert [r["path"] for r in out] == ["a.bin", "b.bin"]
    assert (repo.root / ".gitignore").read_text() == "*.log\n/a.bin\n/b.bin\n"
    add_json(repo, "a.bin")
    assert (repo.root / ".gitignore").read_text() == "*.log\n/a.bin\n/b.bin\n", "entries are not duplicated"


def test_cairnignore_is_honoured(repo, make_dataset):
    make_dataset(repo.root / "data", count=6, depth=1)
    repo.write(
        {
            "data/scratch.tmp": b"scratch",
            "data/keep.tmp": b"keep me",
            "data/.ipynb_checkpoints/nb.ipynb": b"{}",
            "data/s0/deep/x.log": b"log",
        }
    )
    (repo.root / ".cairnignore").write_text("# notebooks and scratch\n*.tmp\n!keep.tmp\n.ipynb_checkpoints/\n*.log\n")

    out = add_json(repo, "data")

    assert out[0]["files"] == 6 + 1  # the dataset and keep.tmp
    assert '"name":"keep.tmp"' in repo.object_path(out[0]["oid"]).read_text()
    for name in ("scratch.tmp", ".ipynb_checkpoints", "x.log"):
        assert all(name not in repo.object_path(o).read_text(errors="replace") for o in repo.cache_oids())
    # Changing an ignored file is not a change of the data.
    (repo.root / "data" / "scratch.tmp").write_bytes(b"changed")
    repo.cairn("status", "-q")


def test_readd_unchanged_reads_no_file(repo, make_dataset):
    files = make_dataset(repo.root / "data", count=30)
    first = add_json(repo, "data")[0]
    assert first["hashed"] == len(files)

    proc = repo.cairn("add", "data")
    again = add_json(repo, "data")[0]

    assert f"unchanged data ({len(files)} files" in proc.stdout
    assert "git add" not in proc.stdout
    assert again["hashed"] == 0
    assert again["changed"] is False
    assert again["oid"] == first["oid"]


def test_change_to_one_file_rewrites_only_trees_on_its_path(repo, make_dataset):
    files = make_dataset(repo.root / "data", count=27, depth=3)
    first = add_json(repo, "data")[0]
    before = repo.cache_oids()
    old_trees = repo.expected_trees("data")
    target = "s1/s0/s2/f00019.bin"
    assert target in files

    new_content = b"a new version of one file"
    repo.write({target: new_content}, under="data")
    second = add_json(repo, "data")[0]

    assert second["hashed"] == 1
    assert second["changed"] is True
    new_objects = repo.cache_oids() - before
    new_trees = repo.expected_trees("data")
    assert second["oid"] != first["oid"]
    # root, s1, s1/s0, s1/s0/s2: four new trees, one new file, nothing else
    assert new_objects == {b3(new_content)} | (set(new_trees) - set(old_trees))
    assert len(set(new_trees) - set(old_trees)) == 4
    assert len(new_objects) == 5


def test_readd_restores_objects_the_cache_lost(repo, make_dataset):
    make_dataset(repo.root / "data")
    repo.cairn("add", "data")
    before = repo.cache_oids()
    for oid in before:
        repo.object_path(oid).unlink()

    out = add_json(repo, "data")[0]

    assert out["changed"] is False
    assert repo.cache_oids() == before
    assert "all good" in repo.cairn("fsck").stdout


def test_readd_after_a_change_restores_the_lost_packed_objects_of_the_changed_folder(repo):
    # small files are packed; a folder whose tree is new has each of its files checked (the
    # pack index first, then loose and chunked forms): those the cache lost are stored again
    files = {f"{d}/{i}.bin": f"{d}{i}".encode() * 50 for d in ("a", "b") for i in range(5)}
    repo.write(files, under="data", mtime_ns=1_000_000_000_000_000_000)
    repo.cairn("add", "data")
    assert {b3(v) for v in files.values()} <= set(repo.packed())
    packs = repo.objects_dir.parent / "packs"
    for f in packs.iterdir():
        f.unlink()
    assert not repo.packed()

    repo.write({"a/0.bin": b"a new version"}, under="data")
    out = add_json(repo, "data")[0]

    assert out["changed"] is True and out["hashed"] == 1
    kept = repo.cache_oids()
    assert {b3(b"a new version")} | {b3(v) for k, v in files.items() if k.startswith("a/") and k != "a/0.bin"} <= kept


def test_pointer_is_rewritten_only_when_the_data_changed(repo):
    repo.write({"f.bin": b"one"})
    repo.cairn("add", "f.bin")
    pointer = repo.root / "f.bin.cairn"
    os.utime(pointer, ns=(1, 1))

    repo.cairn("add", "f.bin")

    assert pointer.stat().st_mtime_ns == 1


@pytest.mark.parametrize("kind", ["hardlink", "symlink"])
def test_linked_files_share_the_cache_object_and_are_read_only(repo, make_dataset, kind):
    repo.cairn("config", "cache.type", kind)
    files = make_dataset(repo.root / "data", count=6)

    out = add_json(repo, "data")[0]

    assert out["link"] == kind
    for rel, content in files.items():
        path = repo.root / "data" / rel
        obj = repo.object_path(b3(content))
        if kind == "hardlink":
            assert not path.is_symlink()
            assert path.stat().st_ino == obj.stat().st_ino
        else:
            assert path.is_symlink()
            assert os.readlink(path) == str(obj)
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
        assert path.read_bytes() == content
    assert "data: unchanged" in repo.cairn("status").stdout

    # A deleted linked file comes back linked.
    victim = repo.root / "data" / next(iter(files))
    victim.unlink()
    repo.cairn("checkout")
    assert victim.is_symlink() if kind == "symlink" else victim.stat().st_nlink > 1

    # unprotect: private writable copies with the same content; the cache is untouched.
    proc = repo.cairn("unprotect", "data")
    assert f"{len(files)} file(s) made writable." in proc.stdout
    for rel, content in files.items():
        path = repo.root / "data" / rel
        assert not path.is_symlink()
        assert path.stat().st_nlink == 1
        assert stat.S_IMODE(path.stat().st_mode) & 0o200
        assert path.read_bytes() == content
        path.write_bytes(content + b" edited")  # really writable, and the cache object is not affected
    repo.assert_cache_sound()
    assert f"{len(files)} modified" in repo.cairn("status").stdout
    assert "Nothing to unprotect" in repo.cairn("unprotect", "data").stdout


def test_copy_link_type_keeps_files_independent(repo, make_dataset):
    repo.cairn("config", "cache.type", "copy")
    files = make_dataset(repo.root / "data", count=3)

    assert add_json(repo, "data")[0]["link"] == "copy"

    for rel, content in files.items():
        path = repo.root / "data" / rel
        assert path.stat().st_ino != repo.object_path(b3(content)).stat().st_ino
        assert path.stat().st_nlink == 1


def test_config_rejects_an_unknown_link_type(repo, assert_error):
    proc = repo.cairn("config", "cache.type", "hardlnk", expect=None)

    assert_error(proc, ConfigError, "unknown link type 'hardlnk' in cache.type", "reflink, hardlink, symlink, copy")
    assert "hardlnk" not in (repo.root / ".cairn" / "config.toml").read_text()
    repo.cairn("status")  # the repository still works


def test_config_round_trip_and_unknown_key(repo, assert_error):
    repo.cairn("config", "cache.type", "hardlink,copy")
    assert repo.cairn("config", "cache.type").stdout.strip() == "hardlink,copy"  # as it is typed
    repo.cairn("config", "cache.chunking.enabled", "true")
    assert repo.cairn("config", "cache.chunking.enabled").stdout.strip() == "true"  # not Python's True
    assert repo.cairn("config", "core.remote").stdout.strip() == "(not set)"
    assert repo.json("config", "cache.type") == {"cache.type": ["hardlink", "copy"]}
    repo.cairn("config", "--local", "core.lock_wait", "2.5")
    assert "lock_wait = 2.5" in (repo.root / ".cairn" / "config.local.toml").read_text()
    assert repo.cairn("config", "core.lock_wait").stdout.strip() == "2.5"
    repo.cairn("config", "--unset", "--local", "core.lock_wait")
    assert repo.cairn("config", "core.lock_wait").stdout.strip() == "5"

    proc = repo.cairn("config", "cache.typ", "copy", expect=None)
    assert_error(
        proc,
        ConfigError,
        "unknown config key 'cache.typ'",
        "known keys: cache.chunking.enabled, cache.chunking.min_size, cache.dir, cache.pack_size, cache.type",
    )
    proc = repo.cairn("config", "core.no_scm", "maybe", expect=None)
    assert_error(proc, ConfigError, "core.no_scm takes true or false, not 'maybe'")


def test_tree_format_with_unusual_names(repo):
    names = ["B.bin", "a.bin", 'quote"back\\slash.bin', "naïve ✓.txt", "日本.bin", "tab\there.bin", "new\nline.bin"]
    repo.write({f"data/{n}": n.encode() for n in names} | {"data/ü/ß.bin": b"nested"})

    out = add_json(repo, "data/")  # a trailing slash names the same folder

    assert out[0]["path"] == "data"
    oid, size, files = repo.expected("data")
    assert (out[0]["oid"], out[0]["size"], out[0]["files"]) == (oid, size, files)
    for tree_oid, body in repo.expected_trees("data").items():
        assert repo.object_path(tree_oid).read_bytes() == body
    repo.cairn("status", "-q")


@pytest.mark.parametrize(
    ("name", "neighbour"),
    [
        ("data[1].bin", "data1.bin"),
        ("star*.bin", "starry.bin"),
        ("q?.bin", "qz.bin"),
        ("trailing space ", "trailing space"),
        ("back\\slash", "backslash"),
        ("!bang", "bang"),
        ("#hash", "hash"),
    ],
)
def test_gitignore_entry_matches_exactly_the_tracked_name(repo, name, neighbour):
    repo.write({name: b"data", neighbour: b"code"})

    repo.cairn("add", name)

    # git ignores the data, and nothing else
    untracked = repo.git("ls-files", "--others", "--exclude-standard", "-z").split("\0")
    assert sorted(filter(None, untracked)) == sorted([".gitignore", f"{name}.cairn", neighbour])
    repo.cairn("add", name)
    assert len((repo.root / ".gitignore").read_text().splitlines()) == 1, "the entry is not added twice"


def test_name_with_a_line_break_is_refused(repo, assert_error):
    repo.write({"two\nlines.bin": b"x"})

    proc = repo.cairn("add", "two\nlines.bin", expect=None)

    assert_error(proc, PathError, "'two\\nlines.bin' has a line break in its name", "rename it")
    assert not (repo.root / ".gitignore").exists()
