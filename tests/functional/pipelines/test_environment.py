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
    assert _object(clone, oid).read_bytes() == data


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
