"""Reading another repository at one revision through the per-user cache (scm/foreign.py)."""

from __future__ import annotations

import subprocess

import pytest

from cairn.errors import RemoteUnreachableError, RevisionError
from cairn.scm import foreign


def _git(cwd, *args) -> str:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    _git(src, "init", "-q")
    (src / ".cairn").mkdir()
    (src / ".cairn" / "config.toml").write_text("version = 1\n")
    (src / "big.py").write_text("code\n" * 1000)
    (src / "data.cairn").write_text("pointer v1\n")
    _git(src, "add", "-A")
    _git(src, "commit", "-qm", "one")
    _git(src, "tag", "v1")
    (src / "data.cairn").write_text("pointer v2\n")
    _git(src, "commit", "-qam", "two")
    return src


def test_reads_pointers_at_a_revision_and_follows_the_source(source, tmp_path):
    head = foreign.open_commit(str(source))
    assert head.commit == _git(source, "rev-parse", "HEAD").strip()
    assert head.read("data.cairn") == b"pointer v2\n"
    assert head.read(".cairn/config.toml") == b"version = 1\n"
    assert ("big.py", False) in set(head.files())
    old = foreign.open_commit(str(source), "v1")
    assert old.read("data.cairn") == b"pointer v1\n"
    assert foreign.latest_commit(str(source), "v1") == _git(source, "rev-parse", "v1^{commit}").strip()
    assert foreign.latest_commit(str(source), None) == head.commit
    # one cached repository per source, under the user's cache folder
    assert len(list((tmp_path / "cache" / "cairn" / "repos").glob("*.git"))) == 1


def test_a_filtering_server_sends_only_the_blobs_cairn_reads(source, tmp_path):
    _git(source, "config", "uploadpack.allowFilter", "true")
    head = foreign.open_commit(f"file://{source}")
    assert head.read("data.cairn") == b"pointer v2\n"
    assert head.read("big.py") is None  # never fetched: code and data stay at the source
    # unless asked for: `get` of a path git tracks fetches its blobs then, in one request
    assert head.export("big.py", tmp_path / "big.py") == 1
    assert (tmp_path / "big.py").read_text() == "code\n" * 1000
    assert head.export("no/such", tmp_path / "x") is None


def test_errors(source, tmp_path):
    with pytest.raises(RevisionError, match="has no revision 'nope'"):
        foreign.open_commit(str(source), "nope")
    with pytest.raises(RevisionError, match="has no revision 'nope'"):
        foreign.latest_commit(str(source), "nope")
    with pytest.raises(RemoteUnreachableError, match="cannot read the source repository"):
        foreign.open_commit(str(tmp_path / "absent"))


def test_source_repo_tracks_pointers_and_pipeline_outputs(tmp_path, monkeypatch):
    from cairn.errors import ConfigError, PathError
    from cairn.sharing.source import SourceRepo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "reg"
    (src / "data").mkdir(parents=True)
    _git(src, "init", "-q")
    oid = "ab" * 32
    (src / "data" / "images.cairn").write_text(f"version: 1\npath: images\nkind: tree\noid: {oid}\nsize: 9\nfiles: 3\n")
    (src / "cairn.lock").write_text(
        f"version: 2\nstages:\n  train:\n    cmd: python train.py\n    outs:\n"
        f"    - path: model/model.pkl\n      kind: file\n      oid: {'cd' * 32}\n      size: 5\n      files: 1\n"
    )
    (src / ".cairn").mkdir()
    (src / ".cairn" / "config.toml").write_text(
        'version = 1\n[core]\nremote = "store"\n[remote.store]\nurl = "s3://b/reg"\nendpoint_url = "http://h"\n'
        '[remote.other]\nurl = "/srv/other"\n'
    )
    _git(src, "add", "-A")
    _git(src, "commit", "-qm", "one")
    source = SourceRepo(foreign.open_commit(str(src)))
    assert [(t.path, t.origin, t.files) for t in source.tracked()] == [
        ("data/images", "pointer", 3),
        ("model/model.pkl", "pipeline", 1),
    ]
    assert source.locate("data/images.cairn")[0].path == "data/images"
    assert source.locate("data/images/a/b.png")[1] == "a/b.png"
    with pytest.raises(PathError, match=r"it tracks: data/images, model/model\.pkl"):
        source.locate("model/model.pkl/x")  # a file holds nothing
    assert source.data_remote() == ("store", {"url": "s3://b/reg", "endpoint_url": "http://h"})
    assert source.data_remote("other")[1]["url"] == "/srv/other"
    with pytest.raises(ConfigError, match=r"no remote 'nope'; its remotes: other, store"):
        source.data_remote("nope")
