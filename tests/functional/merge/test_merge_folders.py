"""Tracked folders through real `git merge`, `git rebase` and `git cherry-pick` across clones of
a bare origin: changes that do not overlap merge file by file, the merged folder checks out, and
`cairn diff` of the merge commit shows what came from each parent."""

from __future__ import annotations

import subprocess

from blake3 import blake3


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def git(person, *args: str):
    """git with cairn on PATH (the merge driver runs it)."""
    return person.git(*args, venv_first=True, full=True)


def git_fails(person, *args: str):
    proc = subprocess.run(
        ["git", *args], cwd=person.root, capture_output=True, text=True, env=_env(person), stdin=subprocess.DEVNULL
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    return proc


def _env(person):
    import os
    import sys

    return {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])}


def share(person, message: str, *files: tuple[str, bytes], branch: str | None = None) -> str:
    """Write files into data/images on `branch` (new, from main), add, commit, push data and branch."""
    if branch:
        person.git("checkout", "-q", "-b", branch)
    person.write(dict(files))
    person.cairn("add", "data/images")
    sha = person.commit(message)
    person.cairn("push")
    person.git("push", "-q", "origin", "HEAD")
    return sha


def images(person) -> dict[str, bytes]:
    root = person.root / "data" / "images"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_teammates_add_different_images_and_the_merge_is_clean(team):
    alice, bob = team.alice, team.bob
    share(alice, "alice: d.png", ("data/images/d.png", b"alice's image"), branch="alice")
    share(bob, "bob: e.png, b changed", ("data/images/e.png", b"bob's image"), ("data/images/b.png", b"b v2"))
    alice.git("fetch", "-q", "origin")
    bobs_root = bob.pointer("data/images")["oid"]
    assert not alice.object_path(bobs_root).exists()

    proc = git(alice, "pull", "--no-rebase", "--no-edit", "origin", "main")  # git pull = fetch + merge
    assert "CONFLICT" not in proc.stdout
    assert alice.git("status", "--porcelain", "--untracked-files=no") == ""
    # the driver fetched bob's folder version (trees only) from the remote, not his files
    assert alice.object_path(bobs_root).exists()
    assert not alice.object_path(b3(b"bob's image")).exists()
    alice.cairn("pull")  # bob's files come from the remote; checkout writes only what changed
    assert images(alice) == {
        "a.png": b"image a",
        "b.png": b"b v2",
        "c.png": b"image c",
        "d.png": b"alice's image",
        "e.png": b"bob's image",
    }
    pointer = alice.pointer("data/images")
    assert (pointer["oid"], pointer["size"], pointer["files"]) == alice.expected("data/images")
    assert alice.json("status")["changed"] is False

    # what came from where: the merge commit against each parent
    from_alice = alice.json("diff", "HEAD^1", "HEAD")["changes"]
    from_bob = alice.json("diff", "HEAD^2", "HEAD")["changes"]
    assert {(c["path"], c["status"]) for c in from_alice} == {
        ("data/images/e.png", "added"),
        ("data/images/b.png", "modified"),
    }
    assert {(c["path"], c["status"]) for c in from_bob} == {("data/images/d.png", "added")}


def test_rebase_and_cherry_pick_merge_folders_too(team):
    alice, bob = team.alice, team.bob
    share(bob, "bob: e.png", ("data/images/e.png", b"bob's image"))
    share(alice, "alice: d.png", ("data/images/d.png", b"d"), branch="alice")
    share(alice, "alice: f.png", ("data/images/f.png", b"f"))
    alice.git("fetch", "-q", "origin")

    git(alice, "rebase", "origin/main")
    alice.cairn("pull")
    assert set(images(alice)) == {"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"}
    assert alice.pointer("data/images")["oid"] == alice.expected("data/images")[0]

    # cherry-pick only the f.png commit onto bob's main: d.png stays out
    bob.git("fetch", "-q", "origin", "alice:alice")
    git(bob, "cherry-pick", "alice")
    bob.cairn("pull")
    assert set(images(bob)) == {"a.png", "b.png", "c.png", "e.png", "f.png"}
    assert bob.pointer("data/images")["files"] == 5


def test_a_fresh_clone_needs_one_setup_command(team):
    """.gitattributes travels with the project, the git config does not: without `cairn merge
    setup` git falls back to a text merge of the pointer (a conflict); after it, the same merge
    is clean."""
    bob = team.bob
    share(bob, "bob: e.png", ("data/images/e.png", b"e"))
    fresh = team.clone("fresh", setup=False)
    fresh.git("reset", "-q", "--hard", "HEAD~1")  # as if cloned before bob's change
    fresh.cairn("pull")
    share(fresh, "fresh: f.png", ("data/images/f.png", b"f"), branch="fresh")
    assert "merge=cairn" in (fresh.root / ".gitattributes").read_text()

    proc = git_fails(fresh, "merge", "--no-edit", "origin/main")
    assert "CONFLICT" in proc.stdout and "data/images.cairn" in proc.stdout
    fresh.git("merge", "--abort")

    out = fresh.cairn("merge", "setup").stdout
    assert "Registered git merge drivers cairn, cairn-lock" in out
    assert fresh.git("config", "merge.cairn.driver").strip() == "cairn merge driver %O %A %B %P"
    assert (fresh.root / ".gitattributes").read_text().count("merge=cairn\n") == 1  # idempotent
    git(fresh, "merge", "--no-edit", "origin/main")
    fresh.cairn("pull")
    assert set(images(fresh)) == {"a.png", "b.png", "c.png", "e.png", "f.png"}
