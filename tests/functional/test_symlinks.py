"""Symbolic links in tracked data: links leading out of the repository are skipped and reported
(their bytes never reach the cache, and so never a remote) unless `cairn add --follow-symlinks`
says otherwise; links within the repository are followed; `status`, `checkout` and `pull` agree
with what `add` recorded."""

from __future__ import annotations

import os
from pathlib import Path

from blake3 import blake3

from cairn.errors import PathError

SECRET = b"[default]\naws_secret_access_key = do-not-push-me-0123456789\n"


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def cache_holds(repo, data: bytes) -> bool:
    """Whether any cache object holds `data` anywhere in its bytes (not just as a whole object)."""
    return any(data in repo.object_path(oid).read_bytes() for oid in repo.cache_oids())


def warnings(proc) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("warning: ")]


def outside(tmp_path: Path) -> Path:
    """A home folder outside the repository, holding a credentials file and a folder of data."""
    home = tmp_path / "elsewhere"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_bytes(SECRET)
    (home / "datasets" / "big").mkdir(parents=True)
    (home / "datasets" / "big" / "part-0").write_bytes(b"outside part 0")
    return home


def test_a_link_to_a_file_outside_is_skipped_named_and_never_cached(repo, tmp_path):
    home = outside(tmp_path)
    repo.write({"data/a.txt": b"alpha", "data/b.txt": b"beta"})
    os.symlink(home / ".aws" / "credentials", repo.root / "data" / "credentials")

    proc = repo.cairn("add", "data")

    assert "added data (2 files, 9 B)" in proc.stdout
    creds = home / ".aws" / "credentials"
    assert warnings(proc) == [
        f"warning: skipped symbolic link data/credentials -> {creds}: it leads outside the repository"
    ]
    assert "  hint: to store what they point to as well: cairn add --follow-symlinks data" in proc.stderr
    assert b3(SECRET) not in repo.cache_oids()
    assert not cache_holds(repo, b"do-not-push-me")
    assert repo.pointer("data") == {
        "version": 1, "path": "data", "kind": "tree", "oid": repo.pointer("data")["oid"], "size": 9, "files": 2
    }  # fmt: skip

    # status agrees with add: the skipped link is not a change, now or later
    assert repo.json("status")["changed"] is False
    assert "data: unchanged" in repo.cairn("status").stdout
    again = repo.json("add", "data")[0]
    assert (again["changed"], again["hashed"], again["follow_symlinks"]) == (False, 0, False)
    assert again["skipped"] == [{"path": "data/credentials", "reason": "outside", "target": str(creds)}]

    # --follow-symlinks stores it, the pointer remembers, and status and a plain re-add agree
    followed = repo.cairn("add", "--follow-symlinks", "data")
    assert "added data (3 files" in followed.stdout and warnings(followed) == []
    assert b3(SECRET) in repo.cache_oids()
    assert repo.pointer("data")["follow_symlinks"] is True
    assert repo.json("status")["changed"] is False
    sticky = repo.json("add", "data")[0]
    assert (sticky["changed"], sticky["files"], sticky["follow_symlinks"], sticky["skipped"]) == (False, 3, True, [])

    # --no-follow-symlinks goes back: the link is skipped again and the pointer says so
    back = repo.json("add", "--no-follow-symlinks", "data")[0]
    assert (back["changed"], back["files"], back["follow_symlinks"]) == (True, 2, False)
    assert "follow_symlinks" not in repo.pointer("data")


def test_links_to_folders_files_nowhere_and_loops(repo, tmp_path):
    home = outside(tmp_path)
    repo.write({"data/own.txt": b"own", "shared/labels.csv": b"id,label\n1,cat\n", "shared/more/m.txt": b"m"})
    data = repo.root / "data"
    (data / "sub").mkdir()
    os.symlink("../shared/labels.csv", data / "labels.csv")  # a file inside the repository
    os.symlink("../shared", data / "shared")  # a folder inside the repository
    os.symlink(home / "datasets" / "big", data / "big")  # a folder outside
    os.symlink("missing.bin", data / "dangling")  # nothing
    os.symlink("../..", data / "sub" / "up")  # the repository root: holds the link itself
    os.symlink("../.git/config", data / "gitconfig")  # git's own state

    proc = repo.cairn("add", "data")

    assert "Traceback" not in proc.stderr
    # followed: the file link and the folder link inside the repository, as plain entries
    assert "added data (4 files" in proc.stdout
    assert b3(b"id,label\n1,cat\n") in repo.cache_oids() and b3(b"m") in repo.cache_oids()
    assert not cache_holds(repo, b"outside part 0")
    assert sorted(warnings(proc)) == [
        f"warning: skipped symbolic link data/big -> {home / 'datasets' / 'big'}: it leads outside the repository",
        "warning: skipped symbolic link data/dangling -> missing.bin: it leads nowhere",
        "warning: skipped symbolic link data/gitconfig -> ../.git/config: it leads into .git/ or .cairn/",
        "warning: skipped symbolic link data/sub/up -> ../..: it leads to a folder that holds it (a loop)",
    ]
    out = repo.json("add", "data")[0]
    assert [(s["path"], s["reason"]) for s in out["skipped"]] == [
        ("data/big", "outside"),
        ("data/dangling", "dangling"),
        ("data/gitconfig", "private"),
        ("data/sub/up", "loop"),
    ]
    assert repo.json("status")["changed"] is False

    # --follow-symlinks takes the outside folder too; the loop, the dangling link and .git stay out
    out = repo.json("add", "--follow-symlinks", "data")[0]
    assert out["files"] == 5 and b3(b"outside part 0") in repo.cache_oids()
    assert [s["reason"] for s in out["skipped"]] == ["dangling", "private", "loop"]
    assert repo.json("status")["changed"] is False


def test_many_skipped_links_are_summed_up(repo):
    repo.write({"data/keep.txt": b"k"})
    for i in range(12):
        os.symlink(f"gone-{i:02}", repo.root / "data" / f"dead-{i:02}")

    proc = repo.cairn("add", "data")

    lines = warnings(proc)
    assert len(lines) == 11 and lines[0].startswith("warning: skipped symbolic link data/dead-00 -> gone-00")
    assert lines[-1] == "warning: ... and 2 more skipped links (cairn -v add lists all)"
    assert len(warnings(repo.cairn("-v", "add", "data"))) == 12
    assert len(repo.json("add", "data")[0]["skipped"]) == 12


def test_adding_a_link_itself_must_stay_in_the_repository(repo, tmp_path, assert_error):
    home = outside(tmp_path)
    os.symlink(home / ".aws" / "credentials", repo.root / "creds")
    os.symlink(home / "datasets", repo.root / "datasets")
    os.symlink("nothing-here", repo.root / "broken")
    os.symlink(".git", repo.root / "gitdir")
    repo.write({"real/r.txt": b"r"})
    os.symlink("real", repo.root / "alias")

    for name, target in (("creds", home / ".aws" / "credentials"), ("datasets", home / "datasets")):
        assert_error(
            repo.cairn("add", name, expect=None),
            PathError,
            f"{name} is a symbolic link to {target}, outside the repository; cairn does not copy data from "
            "outside the repository unless told to",
            f"to store what it points to in the cache (and push it to remotes): cairn add --follow-symlinks {name}",
        )
    assert_error(
        repo.cairn("add", "datasets/big", expect=None),  # a folder on the way is the link
        PathError,
        "datasets/big is a symbolic link to",
        "cairn add --follow-symlinks datasets/big",
    )
    assert_error(
        repo.cairn("add", "broken", expect=None),
        PathError,
        "broken is a symbolic link to nothing-here, which does not exist",
        "point the link at the data, or remove it",
    )
    assert_error(
        repo.cairn("add", "gitdir", expect=None),
        PathError,
        "gitdir leads into .git/ or .cairn/",
        "track data outside .cairn/ and .git/",
    )
    assert repo.cache_oids() == set()  # every refusal came before anything was stored

    assert "added alias (1 files" in repo.cairn("add", "alias").stdout  # a link inside the repository
    assert "added creds" in repo.cairn("add", "--follow-symlinks", "creds").stdout
    assert b3(SECRET) in repo.cache_oids()
    assert repo.pointer("creds")["follow_symlinks"] is True
    assert "added datasets" in repo.cairn("add", "creds", "--follow-symlinks", "datasets").stdout
    assert repo.json("status")["changed"] is False


def test_checkout_and_pull_restore_what_was_recorded(repo, tmp_path, git):
    home = outside(tmp_path)
    repo.write({"data/a.txt": b"alpha", "shared/s.txt": b"shared", "picked/p.txt": b"picked"})
    os.symlink("../shared/s.txt", repo.root / "data" / "s.txt")
    os.symlink(home / ".aws" / "credentials", repo.root / "data" / "credentials")
    os.symlink(home / "datasets" / "big", repo.root / "picked" / "big")
    repo.cairn("add", "data")
    repo.cairn("add", "--follow-symlinks", "picked")
    store = tmp_path / "store"
    repo.cairn("remote", "add", "-d", "store", str(store))
    repo.commit("data with links")
    repo.cairn("push")
    pushed = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    assert b"do-not-push-me" not in pushed and b"outside part 0" in pushed

    # the workspace: a deleted file comes back; the links, followed or not, are left as they are
    (repo.root / "data" / "a.txt").unlink()
    repo.cairn("checkout")
    assert (repo.root / "data" / "a.txt").read_bytes() == b"alpha"
    for link in ("data/s.txt", "data/credentials", "picked/big"):
        assert (repo.root / link).is_symlink()
    assert (home / ".aws" / "credentials").read_bytes() == SECRET
    assert repo.json("status")["changed"] is False

    # a clone gets the recorded content as plain files, and nothing that was skipped
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo.root), str(clone), cwd=tmp_path)
    other = type(repo)(clone, repo._run_cairn, repo._git)
    other.cairn("pull")
    files = {str(p.relative_to(clone)) for p in (clone / "data").rglob("*")}
    assert files == {"data/a.txt", "data/s.txt"}
    assert not (clone / "data" / "s.txt").is_symlink()
    assert (clone / "data" / "s.txt").read_bytes() == b"shared"
    assert (clone / "picked" / "big" / "part-0").read_bytes() == b"outside part 0"
    assert other.json("status")["changed"] is False


def test_checkout_replaces_a_skipped_link_instead_of_writing_through_it(repo, tmp_path):
    home = outside(tmp_path)
    repo.write({"data/ext/x.txt": b"recorded x", "data/y.txt": b"y"})
    repo.cairn("add", "data")
    # someone swaps the folder for a link out of the repository, and another file for one too
    for p in (repo.root / "data" / "ext" / "x.txt", repo.root / "data" / "y.txt"):
        p.unlink()
    (repo.root / "data" / "ext").rmdir()
    os.symlink(home / "datasets", repo.root / "data" / "ext")
    os.symlink(home / ".aws" / "credentials", repo.root / "data" / "y.txt")
    status = repo.json("status")["paths"][0]
    assert sorted(status["deleted"]) == ["data/ext/x.txt", "data/y.txt"]

    repo.cairn("checkout")

    assert sorted(os.listdir(home / "datasets")) == ["big"]  # nothing written through the link
    assert (home / ".aws" / "credentials").read_bytes() == SECRET
    assert not (repo.root / "data" / "ext").is_symlink() and not (repo.root / "data" / "y.txt").is_symlink()
    assert (repo.root / "data" / "ext" / "x.txt").read_bytes() == b"recorded x"
    assert (repo.root / "data" / "y.txt").read_bytes() == b"y"
    assert repo.json("status")["changed"] is False


def test_linked_cache_types_leave_the_users_links_alone(repo):
    repo.cairn("config", "cache.type", "hardlink")
    repo.write({"data/a.txt": b"alpha", "shared/s.txt": b"shared"})
    os.symlink("../shared/s.txt", repo.root / "data" / "s.txt")

    out = repo.json("add", "data")[0]

    assert (out["link"], out["files"]) == ("hardlink", 2)
    assert os.readlink(repo.root / "data" / "s.txt") == "../shared/s.txt"
    assert (repo.root / "shared" / "s.txt").stat().st_nlink == 1  # not turned into the cache's inode
    assert (repo.root / "data" / "a.txt").stat().st_nlink == 2
    assert repo.json("status")["changed"] is False

    os.symlink("shared/s.txt", repo.root / "alias.txt")  # the tracked path itself is the link
    assert repo.json("add", "alias.txt")[0]["files"] == 1
    assert os.readlink(repo.root / "alias.txt") == "shared/s.txt"
    assert not repo.object_path(b3(b"shared")).is_symlink()
    assert repo.object_path(b3(b"shared")).read_bytes() == b"shared"


def test_the_python_api_passes_the_choice_through(repo, tmp_path):
    from cairn import api

    home = outside(tmp_path)
    repo.write({"data/a.txt": b"alpha"})
    os.symlink(home / ".aws" / "credentials", repo.root / "data" / "credentials")

    plain = api.add([repo.root / "data"], repo=repo.root)[0]
    assert [(s["path"], s["reason"]) for s in plain.skipped] == [("data/credentials", "outside")]
    assert b3(SECRET) not in repo.cache_oids()
    followed = api.add([repo.root / "data"], repo=repo.root, follow_symlinks=True)[0]
    assert (followed.files, followed.skipped, followed.follow_symlinks) == (2, [], True)
    assert b3(SECRET) in repo.cache_oids()
