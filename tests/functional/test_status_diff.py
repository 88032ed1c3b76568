"""`cairn status` and `cairn diff`: what changed, per tracked path and per file, in text and JSON."""

from __future__ import annotations

import json

import pytest
from blake3 import blake3

from cairn.errors import PathError, RevisionError


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


@pytest.fixture
def tracked(repo, make_dataset):
    """data/ (9 files) and model.bin tracked and committed as v1."""
    files = make_dataset(repo.root / "data", count=9, depth=1)
    repo.write({"model.bin": b"model v1"})
    repo.cairn("add", "data", "model.bin")
    repo.commit("v1")
    repo.git("tag", "v1")
    return files


def change_data(repo) -> None:
    """One file added, one modified, one deleted under data/."""
    repo.write({"data/s0/new.bin": b"new", "data/s1/f00001.bin": b"modified"})
    (repo.root / "data" / "s2" / "f00002.bin").unlink()


def test_status_clean(repo, tracked):
    proc = repo.cairn("status")

    assert proc.stdout == "data: unchanged\nmodel.bin: unchanged\n\nData is up to date.\n"
    assert repo.cairn("status", "-q").stdout == ""
    out = repo.json("status")
    assert isinstance(out, dict)
    # JSON stays stable: these keys keep their meaning (other layers may add keys, e.g. stages)
    assert out["changed"] is False
    assert out["paths"] == [
        {
            "path": "data",
            "pointer": "data.cairn",
            "state": "unchanged",
            "counts": {"added": 0, "modified": 0, "deleted": 0},
            "added": [],
            "modified": [],
            "deleted": [],
            "note": None,
        },
        {
            "path": "model.bin",
            "pointer": "model.bin.cairn",
            "state": "unchanged",
            "counts": {"added": 0, "modified": 0, "deleted": 0},
            "added": [],
            "modified": [],
            "deleted": [],
            "note": None,
        },
    ]


def test_a_new_version_with_the_old_size_and_mtime_is_noticed(repo, tracked):
    """Tools that restore modification times (tar, unzip, rsync -t, cp -p) can give a changed
    file its old size and mtime, on the same inode: the stat cache also compares ctime (as git
    does), which no tool can set, so the change is seen and `add` records the new bytes."""
    import os

    path = repo.root / "data" / "s1" / "f00001.bin"
    before = path.stat()
    assert repo.json("status")["changed"] is False  # the stat cache holds the file
    new = bytes(b ^ 0xFF for b in path.read_bytes())
    with open(path, "r+b") as f:  # in place: the inode stays
        f.write(new)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)

    out = repo.json("status")
    assert out["changed"] is True
    repo.cairn("add", "data")
    repo.git("add", "data.cairn")
    repo.commit("v2")
    (repo.root / "data").rename(repo.root / "data-old")
    repo.cairn("checkout")
    assert path.read_bytes() == new


def test_status_reports_added_modified_deleted(repo, tracked):
    change_data(repo)
    repo.write({"model.bin": b"model v2"})

    proc = repo.cairn("status")

    assert proc.stdout.splitlines() == [
        "data: modified (1 added, 1 modified, 1 deleted)",
        "    added:     data/s0/new.bin",
        "    modified:  data/s1/f00001.bin",
        "    deleted:   data/s2/f00002.bin",
        "model.bin: modified (0 added, 1 modified, 0 deleted)",
        "    modified:  model.bin",
        "",
        "`cairn add` records changes; `cairn checkout` discards them.",
    ]
    out = repo.json("status")
    assert out["changed"] is True
    data = out["paths"][0]
    assert data["state"] == "modified"
    assert data["counts"] == {"added": 1, "modified": 1, "deleted": 1}
    assert (data["added"], data["modified"], data["deleted"]) == (
        ["data/s0/new.bin"],
        ["data/s1/f00001.bin"],
        ["data/s2/f00002.bin"],
    )
    # -q: silent, exit 1 when changed
    assert repo.cairn("status", "-q", expect=1).stdout == ""
    # targets narrow the report
    assert [p["path"] for p in repo.json("status", "model.bin")["paths"]] == ["model.bin"]
    assert [p["path"] for p in repo.json("status", "data.cairn")["paths"]] == ["data"]


def test_status_of_a_deleted_path_and_a_kind_change(repo, tracked):
    import shutil

    shutil.rmtree(repo.root / "data")
    (repo.root / "model.bin").unlink()
    (repo.root / "model.bin").mkdir()
    (repo.root / "model.bin" / "x").write_bytes(b"x")

    proc = repo.cairn("status")

    # no "(0 added, 0 modified, 0 deleted)": the path changed as a whole, not file by file
    assert "data: deleted - missing from the workspace\n" in proc.stdout
    assert "model.bin: modified - was a file, now a tree\n" in proc.stdout
    # a fresh clone shows its data this way: say how to get it, not only `cairn add`
    assert "`cairn pull` gets it" in proc.stdout
    out = repo.json("status")
    assert out["paths"][0]["state"] == "deleted"
    assert out["paths"][0]["note"] == "missing from the workspace"


def test_status_truncates_long_lists_unless_verbose(repo, tracked):
    repo.write({f"data/extra/{i:02d}.bin": b"%d" % i for i in range(13)})

    short = repo.cairn("status").stdout
    full = repo.cairn("-v", "status").stdout

    assert "data: modified (13 added, 0 modified, 0 deleted)" in short
    assert short.count("added:     data/extra/") == 10
    assert "... and 3 more added (cairn -v status lists all)" in short
    assert full.count("added:     data/extra/") == 13


def test_a_long_status_reaches_a_pipe_whole(repo, tracked):
    # `status` leaves with os._exit (cli/entry.py): what it printed must be flushed first
    repo.write({f"data/extra/{i:04d}.bin": b"%d" % i for i in range(1500)})

    full = repo.cairn("-v", "status").stdout
    as_json = json.loads(repo.cairn("-v", "status", "--json").stdout)

    assert full.count("added:     data/extra/") == 1500
    assert full.endswith("`cairn add` records changes; `cairn checkout` discards them.\n")
    assert len(as_json["paths"][0]["added"]) == 1500
    assert repo.cairn("status", "-q", expect=1).stdout == ""


def test_status_without_tracked_data_and_of_untracked_paths(repo, assert_error):
    assert repo.cairn("status").stdout == "No tracked data. Track some with `cairn add PATH`.\n"
    repo.write({"loose.bin": b"x"})
    (repo.root / "folder").mkdir()

    proc = repo.cairn("status", "loose.bin", expect=None)
    assert_error(proc, PathError, "loose.bin is not tracked by cairn", "track it with `cairn add loose.bin`")
    proc = repo.cairn("status", "folder", expect=None)
    assert_error(proc, PathError, "nothing under folder is tracked by cairn", "cairn add folder")


def test_diff_head_against_workspace(repo, tracked):
    change_data(repo)

    proc = repo.cairn("diff")

    assert proc.stdout.splitlines() == [
        "added:     data/s0/new.bin",
        "modified:  data/s1/f00001.bin",
        "deleted:   data/s2/f00002.bin",
        "",
        "3 file(s) changed",
    ]
    out = repo.json("diff")
    assert out["counts"] == {"added": 1, "deleted": 1, "modified": 1}
    by_path = {c["path"]: c for c in out["changes"]}
    assert by_path["data/s0/new.bin"] == {
        "path": "data/s0/new.bin",
        "status": "added",
        "old": None,
        "new": b3(b"new"),
        "size": 3,
    }
    assert by_path["data/s1/f00001.bin"]["old"] == b3(tracked["s1/f00001.bin"])
    assert by_path["data/s1/f00001.bin"]["new"] == b3(b"modified")
    assert by_path["data/s2/f00002.bin"]["new"] is None
    assert by_path["data/s2/f00002.bin"]["size"] == len(tracked["s2/f00002.bin"])


def test_diff_between_two_revisions(repo, tracked):
    change_data(repo)
    repo.write({"model.bin": b"model v2"})
    repo.write({"labels.csv": b"a,b\n"})
    repo.cairn("add", "data", "model.bin", "labels.csv")
    repo.commit("v2")
    repo.write({"data/s0/later.bin": b"uncommitted"})

    out = repo.json("diff", "v1", "HEAD")

    assert [(c["status"], c["path"]) for c in out["changes"]] == [
        ("added", "data/s0/new.bin"),
        ("modified", "data/s1/f00001.bin"),
        ("deleted", "data/s2/f00002.bin"),
        ("added", "labels.csv"),
        ("modified", "model.bin"),
    ]
    assert out["counts"] == {"added": 2, "deleted": 1, "modified": 2}
    # reversed, and with the default B (the workspace, including uncommitted data)
    back = repo.json("diff", "HEAD", "v1")
    assert [(c["status"], c["path"]) for c in back["changes"]] == [
        ("deleted", "data/s0/new.bin"),
        ("modified", "data/s1/f00001.bin"),
        ("added", "data/s2/f00002.bin"),
        ("deleted", "labels.csv"),
        ("modified", "model.bin"),
    ]
    assert [c["path"] for c in repo.json("diff")["changes"]] == ["data/s0/later.bin"]
    assert repo.cairn("diff", "HEAD", "HEAD").stdout == "No changes.\n"


def test_diff_bad_revision(repo, tracked, assert_error):
    proc = repo.cairn("diff", "no-such-tag", expect=None)
    assert_error(proc, RevisionError, "unknown revision 'no-such-tag'", "git log --oneline")

    proc = repo.cairn("diff", "v1", "v1~5", expect=None)
    assert_error(proc, RevisionError, "unknown revision 'v1~5'")


def test_diff_before_the_first_commit(git_repo, run_cairn, assert_error):
    run_cairn("init", cwd=git_repo)

    proc = run_cairn("diff", cwd=git_repo, expect=None)

    assert_error(proc, RevisionError, "unknown revision 'HEAD'", "this repository has no commits yet")


def test_status_and_add_split_over_processes_match_the_walk_in_one_process(repo, make_dataset):
    """`core.walk_split_files` (forced to 1 here) splits the no-op walk of a big tree over
    processes; what status reports and what add records must not depend on it."""
    import os
    import shutil

    make_dataset(repo.root / "data", count=60, depth=1, fanout=6)
    repo.cairn("add", "data")
    repo.commit("v1")
    repo.cairn("status")  # seals every folder of files
    repo.cairn("config", "--local", "core.walk_split_files", "1")
    assert repo.json("status")["changed"] is False
    folders = sorted(p.name for p in (repo.root / "data").iterdir())
    grown = next((repo.root / "data" / folders[0]).iterdir())
    grown.write_bytes(grown.read_bytes() + b"more")
    same = sorted((repo.root / "data" / folders[1]).iterdir())[0]
    same.write_bytes(bytes(b ^ 0xFF for b in same.read_bytes()))  # same size, new mtime
    repo.write({f"data/{folders[2]}/new.bin": b"new"})
    sorted((repo.root / "data" / folders[3]).iterdir())[0].unlink()
    shutil.rmtree(repo.root / "data" / folders[4])  # a folder replaced
    repo.write({f"data/{folders[4]}/other.bin": b"other"})
    split = repo.json("status")
    repo.cairn("config", "--local", "core.walk_split_files", "0")
    serial = repo.json("status")
    assert split == serial and split["changed"] is True
    (entry,) = split["paths"]
    assert entry["counts"]["added"] == 2 and entry["counts"]["modified"] == 2
    assert entry["counts"]["deleted"] == 1 + 10  # a deleted file and the replaced folder's files
    assert os.path.relpath(grown, repo.root) in entry["modified"]
    repo.cairn("config", "--local", "core.walk_split_files", "1")
    (added,) = repo.json("add", "data")
    assert added["changed"] is True and added["files"] == 60 - 1 - 10 + 2
    assert repo.json("status")["changed"] is False


@pytest.mark.parametrize("how", ["header", "pages"])
def test_a_damaged_stat_cache_is_rebuilt_and_status_stays_right(repo, tracked, how):
    """The stat cache is written without fsync (docs/decisions.md, "W55"): after an OS crash
    it may be damaged. A damaged one is replaced, every file is hashed once more, and status,
    add and checkout report and do what they would have done."""
    db = repo.root / ".cairn" / "state" / "stat.db"

    def damage() -> None:
        assert not db.with_name("stat.db-wal").exists()  # the last command checkpointed it
        data = bytearray(db.read_bytes())
        if how == "header":
            data[:16] = b"not a database!!"
        else:  # every page after the first (the header and the schema)
            data[4096:] = b"\x5a" * (len(data) - 4096)
        db.write_bytes(data)

    assert db.stat().st_size > 4096
    damage()
    assert repo.json("status")["changed"] is False
    assert repo.cairn("status").stdout.endswith("Data is up to date.\n")

    repo.write({"data/s1/f00001.bin": b"changed after the damage"})
    damage()
    out = repo.json("status")
    assert out["changed"] is True
    assert out["paths"][0]["modified"] == ["data/s1/f00001.bin"]
    assert out["paths"][1]["state"] == "unchanged"

    repo.cairn("add", "data")
    damage()
    assert repo.json("status")["changed"] is False

    (repo.root / "model.bin").unlink()
    damage()
    repo.cairn("checkout")
    assert (repo.root / "model.bin").read_bytes() == b"model v1"
    assert repo.json("status")["changed"] is False
