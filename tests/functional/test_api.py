"""The Python API (`cairn.api`): read/open at the workspace and at older revisions, status, add."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from blake3 import blake3

import cairn.api
from cairn.errors import CorruptObjectError, NotARepoError, ObjectMissingError, PathError, RevisionError


@pytest.fixture
def versions(repo, make_dataset):
    """data/ and model.bin committed at v1 (tag) and changed at v2 (HEAD)."""
    files = make_dataset(repo.root / "data", count=6, depth=1)
    repo.write({"data/labels.csv": b"id,label\n1,cat\n", "model.bin": b"model v1"})
    repo.cairn("add", "data", "model.bin")
    repo.commit("v1")
    repo.git("tag", "v1")
    repo.write({"data/labels.csv": b"id,label\n1,dog\n", "model.bin": b"model v2"})
    repo.cairn("add", "data", "model.bin")
    repo.commit("v2")
    return files


def test_public_names():
    assert cairn.api.__all__ == ["add", "open", "read", "status"]
    assert all(callable(getattr(cairn.api, name)) for name in cairn.api.__all__)


def test_read_at_the_workspace_and_older_revisions(repo, versions, monkeypatch):
    monkeypatch.chdir(repo.root)

    assert cairn.api.read("data/labels.csv") == b"id,label\n1,dog\n"
    assert cairn.api.read("data/labels.csv", rev="v1") == b"id,label\n1,cat\n"
    assert cairn.api.read("data/labels.csv", rev="HEAD~1") == b"id,label\n1,cat\n"
    assert cairn.api.read("model.bin") == b"model v2"
    assert cairn.api.read("model.bin", rev="v1") == b"model v1"
    assert cairn.api.read(Path("data") / "s1" / "f00001.bin") == versions["s1/f00001.bin"]


def test_read_from_elsewhere(repo, versions, monkeypatch, tmp_path):
    monkeypatch.chdir(repo.root / "data" / "s0")
    assert cairn.api.read("f00000.bin") == versions["s0/f00000.bin"]  # relative to the current folder

    monkeypatch.chdir(tmp_path)
    assert cairn.api.read("data/labels.csv", rev="v1", repo=repo.root) == b"id,label\n1,cat\n"
    assert cairn.api.read(repo.root / "model.bin", repo=repo.root) == b"model v2"


def test_read_returns_the_recorded_version_not_unsaved_edits(repo, versions, monkeypatch):
    monkeypatch.chdir(repo.root)
    (repo.root / "data" / "labels.csv").write_bytes(b"edited, not added")

    assert cairn.api.read("data/labels.csv") == b"id,label\n1,dog\n"


def test_open_text_and_binary(repo, versions, monkeypatch):
    monkeypatch.chdir(repo.root)

    with cairn.api.open("data/labels.csv") as f:
        assert f.read() == "id,label\n1,dog\n"
    with cairn.api.open("data/labels.csv", rev="v1", mode="rb") as f:
        assert f.read() == b"id,label\n1,cat\n"
    with cairn.api.open("data/labels.csv", mode="rt", encoding="ascii") as f:
        assert f.readline() == "id,label\n"
    with pytest.raises(PathError, match=re.escape("mode 'w' is not supported")) as e:
        cairn.api.open("data/labels.csv", mode="w")
    assert e.value.hint == 'use mode="r" or mode="rb"'


def test_read_errors_name_the_problem(repo, versions, monkeypatch):
    monkeypatch.chdir(repo.root)

    with pytest.raises(PathError, match=re.escape("notes.txt is not tracked by cairn")) as e:
        cairn.api.read("notes.txt")
    assert "cairn add" in (e.value.hint or "")
    with pytest.raises(PathError, match=re.escape("data/nope.bin is not in the tracked folder data at v1")):
        cairn.api.read("data/nope.bin", rev="v1")
    with pytest.raises(PathError, match=re.escape("data/s0 is a folder")):
        cairn.api.read("data/s0")
    with pytest.raises(PathError, match=re.escape("data is a folder")):
        cairn.api.read("data")
    with pytest.raises(PathError, match=re.escape("not in the tracked folder data")):
        cairn.api.read("data/labels.csv/inside")
    with pytest.raises(RevisionError, match=re.escape("unknown revision 'v9'")):
        cairn.api.read("data/labels.csv", rev="v9")


def test_read_verifies_the_cache(repo, versions, monkeypatch):
    monkeypatch.chdir(repo.root)
    labels = blake3(b"id,label\n1,dog\n").hexdigest()
    repo.corrupt_object(labels)

    with pytest.raises(CorruptObjectError, match=re.escape(f"cache object {labels} is corrupt")):
        cairn.api.read("data/labels.csv")

    repo.object_path(blake3(b"model v1").hexdigest()).unlink()
    with pytest.raises(ObjectMissingError, match=re.escape("is not in the cache")) as e:
        cairn.api.read("model.bin", rev="v1")
    assert "cairn pull" in (e.value.hint or "")


def test_status(repo, versions, monkeypatch):
    monkeypatch.chdir(repo.root)
    assert [(s.path, s.state) for s in cairn.api.status()] == [("data", "unchanged"), ("model.bin", "unchanged")]

    (repo.root / "data" / "labels.csv").write_bytes(b"changed")
    (repo.root / "data" / "s0" / "f00000.bin").unlink()

    result = cairn.api.status(["data"])
    assert len(result) == 1
    assert result[0].state == "modified"
    assert result[0].changed is True
    assert (result[0].added, result[0].modified, result[0].deleted) == ([], ["data/labels.csv"], ["data/s0/f00000.bin"])


def test_add(repo, monkeypatch, tmp_path):
    repo.write({"features/a.parquet": b"a", "features/b.parquet": b"b"})
    monkeypatch.chdir(tmp_path)

    (result,) = cairn.api.add([repo.root / "features"], repo=repo.root)

    assert (result.path, result.kind, result.files, result.changed) == ("features", "tree", 2, True)
    assert result.oid == repo.expected("features")[0]
    assert repo.pointer("features")["oid"] == result.oid
    assert "/features" in (repo.root / ".gitignore").read_text().splitlines()
    repo.cairn("status", "-q")  # the CLI agrees
    assert cairn.api.add([repo.root / "features"], repo=repo.root)[0].changed is False


def test_api_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotARepoError, match=re.escape("not a cairn repository")):
        cairn.api.status()
    with pytest.raises(NotARepoError):
        cairn.api.read("x")
