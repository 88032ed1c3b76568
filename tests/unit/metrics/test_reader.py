"""Files at revisions without a checkout: git blobs, cached outputs through cairn.lock, pointers,
the default remote for missing objects, and parsing once per distinct content."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cairn.errors import ObjectMissingError, PipelineError
from cairn.metrics.reader import Reader
from cairn.metrics.revisions import resolve, workspace
from cairn.objects.tree import Entry, Tree

PIPE = """
metrics:
  - eval.json
stages:
  train:
    cmd: python train.py
    metrics:
      - metrics.json: {cache: true}
    plots:
      - plots: {cache: true}
"""


def test_git_blobs_at_revisions_and_the_workspace(repo, hist) -> None:
    hist.write("cairn.yaml", PIPE)
    hist.write("eval.json", {"f1": 0.5})
    hist.commit("one", tag="v1")
    hist.write("eval.json", {"f1": 0.6})
    hist.commit("two")
    hist.write("eval.json", {"f1": 0.7})
    reader = Reader(repo)
    v1, head, ws = (reader.snapshot(r) for r in (resolve(repo, "v1"), resolve(repo, "HEAD"), workspace()))
    assert v1.metrics_files() == ["eval.json", "metrics.json"]
    assert v1.read("eval.json").data == b'{"f1": 0.5}'
    assert v1.read("eval.json").key.startswith("git:")
    assert head.read("eval.json").data == b'{"f1": 0.6}'
    assert ws.read("eval.json").data == b'{"f1": 0.7}' and ws.read("eval.json").key is None
    missing = v1.read("metrics.json")
    assert missing.data is None and missing.error is None


def test_cached_outputs_come_through_the_lock_and_the_cache(repo, hist) -> None:
    hist.write("cairn.yaml", PIPE)
    hist.cache_out({"metrics.json": b'{"acc": 0.8}'})
    hist.commit("one", tag="v1")
    hist.cache_out({"metrics.json": b'{"acc": 0.9}'})
    hist.commit("two")
    assert "metrics.json" not in hist.git("ls-files")
    reader = Reader(repo)
    found = reader.snapshot(resolve(repo, "v1")).read("metrics.json")
    assert found.data == b'{"acc": 0.8}' and found.key.startswith("obj:")
    assert reader.snapshot(resolve(repo, "HEAD")).read("metrics.json").data == b'{"acc": 0.9}'


def test_a_file_inside_a_cached_folder_and_folder_listing(repo, hist) -> None:
    cm = repo.store.add_bytes(b"PNGDATA")
    loss = repo.store.add_bytes(b"step,loss\n0,1\n")
    inner_oid, inner = Tree([Entry("cm.png", "file", cm, 7)]).encode()
    repo.store.add_bytes(inner, inner_oid)
    top_oid, top = Tree([Entry("img", "tree", inner_oid, 7), Entry("loss.csv", "file", loss, 14)]).encode()
    repo.store.add_bytes(top, top_oid)
    hist.write("cairn.yaml", PIPE)
    from cairn.pipelines import lock as lock_mod
    from cairn.pipelines.lock import PathState, StageLock

    lock_mod.write(repo.root, {"train": StageLock(["x"], outs=[PathState("plots", "tree", top_oid, 21, 2)])}, ["train"])
    hist.commit("one")
    snap = Reader(repo).snapshot(resolve(repo, "HEAD"))
    assert snap.list_files("plots") == ["plots/img/cm.png", "plots/loss.csv"]
    assert snap.read("plots/img/cm.png").data == b"PNGDATA"
    assert snap.read("plots/nope.csv").data is None


def test_tracked_data_comes_through_its_pointer(repo, hist) -> None:
    hist.write("cairn.yaml", "metrics: [data/m.json]\n")
    hist.write("data/m.json", {"acc": 1})
    repo.add([str(repo.root / "data" / "m.json")])
    hist.commit("one")
    os.remove(repo.root / "data" / "m.json")
    found = Reader(repo).snapshot(resolve(repo, "HEAD")).read("data/m.json")
    assert found.data == b'{"acc": 1}'


def test_missing_objects_are_fetched_from_the_default_remote(repo, hist, reopen, tmp_path: Path) -> None:
    hist.write("cairn.yaml", PIPE)
    oids = hist.cache_out({"metrics.json": b'{"acc": 0.8}'})
    hist.commit("one")
    repo.remotes.add("store", str(tmp_path / "remote"), default=True)
    repo.push([("file", oids["metrics.json"])])
    fresh = reopen()
    fresh.store.remove(oids["metrics.json"])
    assert not fresh.store.exists(oids["metrics.json"])
    found = Reader(fresh).snapshot(resolve(fresh, "HEAD")).read("metrics.json")
    assert found.data == b'{"acc": 0.8}'
    assert fresh.store.exists(oids["metrics.json"])


def test_missing_objects_without_a_remote_are_an_error_for_that_file(repo, hist) -> None:
    hist.write("cairn.yaml", PIPE)
    oids = hist.cache_out({"metrics.json": b'{"acc": 0.8}'})
    hist.commit("one")
    repo.store.remove(oids["metrics.json"])
    found = Reader(repo).snapshot(resolve(repo, "HEAD")).read("metrics.json")
    assert isinstance(found.error, ObjectMissingError)
    assert found.error.message.startswith("metrics.json (at HEAD, commit ")
    assert "no default remote is set" in found.error.message
    assert "cairn remote default" in (found.error.hint or "")


def test_each_distinct_content_is_parsed_once(repo, hist) -> None:
    from cairn.metrics.values import metrics_show

    hist.write("cairn.yaml", PIPE)
    for i in range(6):
        hist.write("eval.json", {"f1": i // 3})  # two distinct contents over six commits
        hist.write("params.yaml", f"lr: {i}\n")
        hist.commit(f"c{i}")
    reader = Reader(repo)
    revs = [resolve(repo, f"HEAD~{i}") for i in range(6)]
    shown = metrics_show(repo, revs, reader)
    assert [shown.values[r.name]["eval.json"]["f1"] for r in revs] == [1, 1, 1, 0, 0, 0]
    assert reader.parses["metrics"] == 2
    assert reader.parses["yaml"] == 1 and reader.parses["pipeline"] == 1


def test_interpolated_paths_use_that_revisions_params(repo, hist) -> None:
    hist.write("cairn.yaml", "stages:\n  train:\n    cmd: x\n    metrics:\n      - ${out}/m.json\n")
    hist.write("params.yaml", "out: a\n")
    hist.commit("one", tag="v1")
    hist.write("params.yaml", "out: b\n")
    hist.commit("two", tag="v2")
    reader = Reader(repo)
    assert reader.snapshot(resolve(repo, "v1")).metrics_files() == ["a/m.json"]
    assert reader.snapshot(resolve(repo, "v2")).metrics_files() == ["b/m.json"]


def test_an_invalid_pipeline_names_the_revision(repo, hist) -> None:
    hist.write("cairn.yaml", "stages:\n  train:\n    cmd: [x\n")
    hist.commit("broken", tag="bad")
    with pytest.raises(PipelineError) as e:
        Reader(repo).snapshot(resolve(repo, "bad")).metrics_files()
    assert e.value.message.startswith("cairn.yaml:")
    assert "(at bad, commit " in e.value.message
