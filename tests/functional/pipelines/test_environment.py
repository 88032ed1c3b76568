"""Environment records of stage runs: repro records one per stage (a cache object the lock
refers to), push, gc and fsck treat it as any object, locks from before still read, and a
changed environment is reported (stale only with `env: strict`)."""

from __future__ import annotations

import json

from blake3 import blake3

TRAIN = """
stages:
  train:
    cmd: cat data.csv > model.bin
    deps: [data.csv]
    outs: [model.bin]
"""


def _object(root, oid):
    return root / ".cairn" / "cache" / "objects" / oid[:2] / oid[2:]


def _stored(root, oid) -> bytes:
    """An object's bytes, loose or in a local pack (a pull packs small objects; docs/formats.md)."""
    if _object(root, oid).exists():
        return _object(root, oid).read_bytes()
    for idx in (root / ".cairn" / "cache" / "packs").glob("*.idx"):
        for row, off, size in json.loads(idx.read_bytes())["objects"]:
            if row == oid:
                with open(idx.with_suffix(".pack"), "rb") as f:
                    f.seek(off)
                    return f.read(size)
    raise FileNotFoundError(oid)


def test_repro_records_the_environment_and_the_lock_refers_to_it(pipe, tmp_path, git, run_cairn):
    pipe.cairn("config", "env.vars", "CAIRN_TEST_SEED")
    pipe.file("data.csv", "x\n1\n")
    pipe.yaml(TRAIN)
    pipe.repro(env={"CAIRN_TEST_SEED": "7"})
    lock = pipe.lock()
    assert lock["version"] == 2
    oid = lock["stages"]["train"]["env"]
    data = _object(pipe.root, oid).read_bytes()
    assert blake3(data).hexdigest() == oid  # content-addressed like any object
    record = json.loads(data)
    assert record["version"] == 1 and record["vars"] == {"CAIRN_TEST_SEED": "7"}
    assert any(p.startswith("blake3==") for p in record["packages"])
    # gc keeps it (the lock references it), fsck checks it; push sends it, pull brings it
    pipe.commit("trained")
    pipe.cairn("gc", "-y")
    assert _object(pipe.root, oid).exists()
    remote = tmp_path / "remote"
    pipe.cairn("remote", "add", "-d", "store", str(remote))
    pipe.commit("remote")
    pipe.cairn("push")
    clone = tmp_path / "clone"
    git("clone", "-q", str(pipe.root), str(clone), cwd=tmp_path)
    run_cairn("pull", cwd=clone)
    assert _stored(clone, oid) == data


STRICT = """
stages:
  train:
    cmd: cat data.csv > model.bin
    deps: [data.csv]
    outs: [model.bin]
    env: strict
"""


def test_env_strict_makes_a_changed_environment_stale(pipe):
    pipe.cairn("config", "env.vars", "CAIRN_TEST_SEED")
    pipe.file("data.csv", "x\n1\n")
    pipe.yaml(STRICT)
    pipe.repro(env={"CAIRN_TEST_SEED": "1"})
    status = pipe.project.cairn("status", "--json", env={"CAIRN_TEST_SEED": "1"})
    assert json.loads(status.stdout)["stages"] == {}
    status = pipe.project.cairn("status", "--json", env={"CAIRN_TEST_SEED": "2"})
    assert json.loads(status.stdout)["stages"] == {
        "train": ["environment changed: $CAIRN_TEST_SEED 1 -> 2 (env: strict)"]
    }
    proc = pipe.repro(env={"CAIRN_TEST_SEED": "2"})
    assert pipe.ran(proc) == ["train"]


def test_env_takes_warn_or_strict(pipe):
    pipe.yaml(STRICT.replace("env: strict", "env: always"))
    proc = pipe.repro(expect=2)
    assert "`env` is `warn` (the default: a changed environment is reported) or `strict`" in proc.stderr


def _seeded(pipe, seed: str):
    pipe.cairn("config", "env.vars", "CAIRN_TEST_SEED")
    pipe.file("data.csv", "x\n1\n")
    pipe.yaml(TRAIN)
    pipe.repro(env={"CAIRN_TEST_SEED": seed})


def test_status_and_repro_warn_naming_what_differs_without_making_it_stale(pipe):
    _seeded(pipe, "1")
    same = pipe.project.cairn("status", env={"CAIRN_TEST_SEED": "1"})
    assert "warning" not in same.stderr
    proc = pipe.project.cairn("status", env={"CAIRN_TEST_SEED": "2"})
    assert "warning: stage train ran in another environment: $CAIRN_TEST_SEED 1 -> 2" in proc.stderr
    assert "Pipeline is up to date." in proc.stdout
    doc = json.loads(pipe.project.cairn("status", "--json", env={"CAIRN_TEST_SEED": "2"}).stdout)
    assert doc["stages"] == {} and doc["environment"] == {"train": ["$CAIRN_TEST_SEED 1 -> 2"]}
    proc = pipe.repro(env={"CAIRN_TEST_SEED": "2"})
    assert pipe.ran(proc) == [] and "Everything is up to date." in proc.stdout
    assert "warning: stage train ran in another environment: $CAIRN_TEST_SEED 1 -> 2" in proc.stderr
    doc = json.loads(pipe.repro("--json", env={"CAIRN_TEST_SEED": "2"}).stdout)
    assert doc["environment"] == {"train": ["$CAIRN_TEST_SEED 1 -> 2"]}
    # a run records the environment anew: nothing left to warn about
    proc = pipe.repro("-f", env={"CAIRN_TEST_SEED": "2"})
    assert pipe.ran(proc) == ["train"] and "warning" not in proc.stderr


def test_a_record_missing_from_the_cache_is_named(pipe):
    _seeded(pipe, "1")
    oid = pipe.lock()["stages"]["train"]["env"]
    _object(pipe.root, oid).chmod(0o644)
    _object(pipe.root, oid).unlink()
    doc = json.loads(pipe.project.cairn("status", "--json", env={"CAIRN_TEST_SEED": "1"}).stdout)
    assert doc["environment"] == {"train": [f"its environment record {oid[:12]} is not in the cache (`cairn pull`)"]}


def test_a_lock_from_before_environment_records_still_reads_and_the_next_run_upgrades_it(pipe):
    _seeded(pipe, "1")
    lock = pipe.read("cairn.lock")
    oid = pipe.lock()["stages"]["train"]["env"]
    old = lock.replace("version: 2", "version: 1").replace(f"    env: {oid}\n", "")
    (pipe.root / "cairn.lock").write_text(old)
    proc = pipe.project.cairn("status", env={"CAIRN_TEST_SEED": "2"})
    assert "Pipeline is up to date." in proc.stdout and "warning" not in proc.stderr
    assert pipe.ran(pipe.repro()) == [] and pipe.read("cairn.lock") == old  # nothing ran: not rewritten
    pipe.repro("-f", env={"CAIRN_TEST_SEED": "1"})
    assert pipe.read("cairn.lock") == lock
