"""Files changed differently on both sides: the merge stops, `cairn status` lists each
conflicting path with both versions, and `cairn merge resolve` settles them with --ours,
--theirs or --both while keeping what merged cleanly."""

from __future__ import annotations

import re
import subprocess

import pytest
from test_merge_folders import images, share

from cairn.errors import MergeError


def start_merge(alice) -> subprocess.CompletedProcess:
    """`git merge origin/main` in alice's clone, which must stop on a conflict."""
    proc = subprocess.run(
        ["git", "merge", "--no-edit", "origin/main"],
        cwd=alice.root,
        capture_output=True,
        text=True,
        env=_env(alice),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "CONFLICT" in proc.stdout and "data/images.cairn" in proc.stdout
    return proc


def _env(person):
    import os
    import sys

    return {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])}


@pytest.fixture
def conflicted(team):
    """alice and bob both changed b.png and c.png (differently) and each added a file."""
    alice, bob = team.alice, team.bob
    share(
        bob, "bob", ("data/images/b.png", b"b by bob"), ("data/images/c.png", b"c by bob"), ("data/images/e.png", b"e")
    )
    share(
        alice,
        "alice",
        ("data/images/b.png", b"b by alice!"),
        ("data/images/c.png", b"c by alice!"),
        ("data/images/d.png", b"d"),
        branch="alice",
    )
    alice.git("fetch", "-q", "origin")
    return alice


SETTLED = {
    "ours": {"b.png": b"b by alice!", "c.png": b"c by alice!"},
    "theirs": {"b.png": b"b by bob", "c.png": b"c by bob"},
    "both": {
        "b~ours.png": b"b by alice!",
        "b~theirs.png": b"b by bob",
        "c~ours.png": b"c by alice!",
        "c~theirs.png": b"c by bob",
    },
}


def test_resolving_a_folder_keeps_what_merged_cleanly(conflicted):
    """Each option in turn (the merge undone in between): the conflicting files take the side
    chosen, while both sides' additions (d by alice, e by bob) stay."""
    alice = conflicted
    for side, expect in SETTLED.items():
        start_merge(alice)
        out = alice.cairn("merge", "resolve", "data/images", f"--{side}").stdout
        assert "wrote and staged data/images.cairn" in out
        assert alice.git("diff", "--name-only", "--diff-filter=U") == ""  # nothing left unmerged for git
        alice.git("commit", "-q", "--no-edit")
        alice.cairn("pull")  # bob's versions come from the remote
        assert images(alice) == {"a.png": b"image a", "d.png": b"d", "e.png": b"e", **expect}, side
        assert alice.pointer("data/images")["oid"] == alice.expected("data/images")[0]
        status = alice.json("status")
        assert status["changed"] is False and status["conflicts"] == []
        alice.git("reset", "-q", "--hard", "HEAD^1")
        alice.cairn("checkout")


def check_status_lists_each_conflict_with_both_versions(alice, proc) -> None:
    assert "both-modified" in proc.stdout + proc.stderr  # the driver's own words reach the user
    # ... naming each path as `cairn merge resolve PATH` takes it (it said `b.png`, which resolve refuses)
    assert re.search(r"both-modified +data/images/b\.png\n", proc.stdout + proc.stderr)
    status = alice.json("status")
    assert status["changed"] is True
    rows = {c["path"]: c for c in status["conflicts"]}
    assert set(rows) == {"data/images/b.png", "data/images/c.png"}
    b = rows["data/images/b.png"]
    assert b["kind"] == "both-modified"
    assert (b["ours"]["size"], b["theirs"]["size"]) == (len(b"b by alice!"), len(b"b by bob"))
    assert b["ours"]["ref"] == "HEAD" and b["theirs"]["ref"] == "MERGE_HEAD"
    assert b["ours"]["commit"] == alice.git("rev-parse", "HEAD").strip()
    assert b["theirs"]["commit"] == alice.git("rev-parse", "MERGE_HEAD").strip()
    human = alice.cairn("status").stdout
    assert "data/images/b.png: both-modified" in human and "MERGE_HEAD" in human


def test_status_then_one_path_at_a_time(conflicted, run_cairn, assert_error):
    alice = conflicted
    check_status_lists_each_conflict_with_both_versions(alice, start_merge(alice))
    out = alice.cairn("merge", "resolve", "data/images/b.png", "--theirs").stdout
    assert "1 conflict(s) left" in out
    assert [c["path"] for c in alice.json("status")["conflicts"]] == ["data/images/c.png"]
    assert alice.git("diff", "--name-only", "--diff-filter=U").strip() == "data/images.cairn"  # still unmerged

    proc = alice.cairn("merge", "resolve", "data/images/a.png", "--ours", expect=None)
    assert_error(proc, MergeError, "there is no merge conflict at data/images/a.png", "`cairn status` lists")
    proc = alice.cairn("merge", "resolve", "data/images/c.png", expect=None)
    assert proc.returncode == 2 and "choose how to settle: --ours, --theirs or --both" in proc.stderr
    # two sides at once is refused, not settled by whichever came last
    proc = alice.cairn("merge", "resolve", "data/images/c.png", "--ours", "--theirs", expect=None)
    assert proc.returncode == 2 and "choose one way to settle, not --ours and --theirs" in proc.stderr
    assert [c["path"] for c in alice.json("status")["conflicts"]] == ["data/images/c.png"]

    out = alice.cairn("merge", "resolve", "data/images/c.png", "--ours").stdout
    # bob's files are not in alice's cache: the next step is pull, not checkout (which fails)
    assert "then `cairn pull` to bring the merged data" in out
    assert alice.cairn("checkout", expect=None).returncode == 4
    alice.git("commit", "-q", "--no-edit")
    alice.cairn("pull")  # bob's versions come from the remote
    assert images(alice)["b.png"] == b"b by bob" and images(alice)["c.png"] == b"c by alice!"


def test_a_rebase_conflict_says_rebase_continue(conflicted):
    alice = conflicted
    proc = subprocess.run(
        ["git", "rebase", "origin/main"], cwd=alice.root, capture_output=True, text=True, env=_env(alice)
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # `git commit` in the middle of a rebase is not what concludes it
    assert "then `git rebase --continue`." in alice.cairn("status").stdout
    alice.cairn("merge", "resolve", "data/images", "--theirs")
    done = subprocess.run(
        ["git", "-c", "core.editor=true", "rebase", "--continue"],
        cwd=alice.root,
        capture_output=True,
        text=True,
        env=_env(alice),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    alice.cairn("pull")
    assert images(alice)["b.png"] == b"b by alice!"  # in a rebase, theirs is the commit replayed


def _import_version(person, rev: str, *files: tuple[str, bytes]) -> None:
    """Change data/images, and mark its pointer an import of REV as `cairn import` writes it."""
    person.write(dict(files))
    person.cairn("add", "data/images")
    pointer = person.root / "data" / "images.cairn"
    commit = person.git("rev-parse", "HEAD").strip()
    source = f"source:\n  version: 1\n  type: repo\n  url: {person.root}\n  rev: {rev}\n  commit: {commit}\n"
    pointer.write_text(pointer.read_text() + source + "  path: data/images\n")
    person.commit(f"import {rev}")
    person.cairn("push")
    person.git("push", "-q", "origin", "HEAD")


def test_an_import_changed_on_both_sides_is_kept_whole(team, assert_error):
    """Changes that would merge file by file in plain data do not in an import: the merged folder
    would match no revision of its source, and the pointer's `source:` must survive the merge."""
    alice, bob = team.alice, team.bob
    _import_version(bob, "v3", ("data/images/e.png", b"e"))
    alice.git("checkout", "-q", "-b", "alice")
    _import_version(alice, "v2", ("data/images/d.png", b"d"))
    alice.git("fetch", "-q", "origin")
    start_merge(alice)

    (row,) = alice.json("status")["conflicts"]
    assert (row["path"], row["kind"]) == ("data/images", "both-modified")
    proc = alice.cairn("merge", "resolve", "data/images", "--both", expect=None)
    assert_error(proc, MergeError, "data/images cannot be kept both ways", "cairn merge resolve data/images --ours")
    alice.cairn("merge", "resolve", "data/images", "--theirs")
    alice.git("commit", "-q", "--no-edit")
    pointer = (alice.root / "data" / "images.cairn").read_text()
    assert "rev: v3" in pointer and "type: repo" in pointer, pointer
    alice.cairn("pull")
    assert set(images(alice)) == {"a.png", "b.png", "c.png", "e.png"}
