"""cairn.api: reading tracked data from scripts, at the workspace or at a git revision."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import cairn.api
from cairn.errors import CorruptObjectError, PathError, RevisionError
from cairn.repo import Repo


@pytest.fixture
def project(repo: Repo, make_files, commit) -> Path:
    make_files(repo.root, {"data/labels.csv": "id,label\n1,cat\n", "data/img/1.png": b"\x89PNG1", "m.bin": "v1"})
    repo.add([str(repo.root / "data"), str(repo.root / "m.bin")])
    commit("v1")
    make_files(repo.root, {"data/labels.csv": "id,label\n1,dog\n", "m.bin": "v2"})
    repo.add([str(repo.root / "data"), str(repo.root / "m.bin")])
    return repo.root


def test_read_at_the_workspace_pointers(project: Path) -> None:
    assert cairn.api.read("data/labels.csv", repo=project) == b"id,label\n1,dog\n"
    assert cairn.api.read("data/img/1.png", repo=project) == b"\x89PNG1"
    assert cairn.api.read("m.bin", repo=project) == b"v2"


def test_read_at_a_revision(project: Path) -> None:
    assert cairn.api.read("data/labels.csv", rev="HEAD", repo=project) == b"id,label\n1,cat\n"
    assert cairn.api.read("m.bin", rev="HEAD", repo=project) == b"v1"


def test_read_relative_to_the_current_directory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "data")
    assert cairn.api.read("labels.csv") == b"id,label\n1,dog\n"


def test_open(project: Path) -> None:
    with cairn.api.open("data/labels.csv", repo=project) as f:
        assert f.read() == "id,label\n1,dog\n"
    with cairn.api.open("data/img/1.png", mode="rb", repo=project) as f:
        assert f.read() == b"\x89PNG1"
    with pytest.raises(PathError, match="reads only"):
        cairn.api.open("m.bin", mode="w", repo=project)


def test_reading_a_tracked_folder_is_refused(project: Path) -> None:
    for folder in ("data", "data/img"):
        with pytest.raises(PathError) as e:
            cairn.api.read(folder, repo=project)
        assert e.value.message == f"{folder} is a folder; read() takes a file"


def test_a_path_below_a_file_is_not_in_the_folder(project: Path) -> None:
    with pytest.raises(PathError) as e:
        cairn.api.read("data/labels.csv/x", repo=project)
    assert e.value.message == "data/labels.csv/x is not in the tracked folder data"


def test_untracked_and_missing_paths(project: Path) -> None:
    with pytest.raises(PathError, match=re.escape("data/nope.csv is not in the tracked folder data")):
        cairn.api.read("data/nope.csv", repo=project)
    with pytest.raises(PathError, match=re.escape("other.txt is not tracked by cairn")):
        cairn.api.read("other.txt", repo=project)
    with pytest.raises(PathError, match=re.escape("m.bin/x is not tracked by cairn")):
        cairn.api.read("m.bin/x", repo=project)
    with pytest.raises(PathError, match="at revision HEAD"):
        cairn.api.read("other.txt", rev="HEAD", repo=project)
    with pytest.raises(RevisionError):
        cairn.api.read("m.bin", rev="nope", repo=project)


def test_read_verifies_the_content(project: Path) -> None:
    repo = Repo(project)
    [res] = repo.add([str(project / "m.bin")])
    pid, off, _ = repo.store.packs.locate(res.oid)  # small files are packed
    path = repo.store.packs.pack_path(pid)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(b"v3")
    repo.close()
    with pytest.raises(CorruptObjectError):
        cairn.api.read("m.bin", repo=project)
    with pytest.raises(CorruptObjectError, match="is corrupt"):
        cairn.api.open("m.bin", repo=project)


def test_open_gives_the_cache_file_itself(project: Path) -> None:
    """Not a copy in memory: a large model (2 MiB and more: small files are packed, and read
    whole) is read as it is needed."""
    big = os.urandom(2 * 1024 * 1024)
    (project / "big.bin").write_bytes(big)
    repo = Repo(project)
    repo.add([str(project / "big.bin")])
    objects = str(repo.store.objects)
    repo.close()
    with cairn.api.open("big.bin", mode="rb", repo=project) as f:
        assert os.path.dirname(os.path.dirname(f.name)) == objects
        assert f.read() == big
    with cairn.api.open("m.bin", mode="rb", repo=project) as f:
        assert f.read() == b"v2"
