"""Two writers at once: the repository lock serializes them, says whom a writer waits for, takes
over the record of a holder that died, and trusts a holder on another host. Two clones pushing to
one folder remote at once leave packs and index that a fresh clone pulls whole."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cairn.errors import LockedError

HOLD_LOCK = """\
import sys
from pathlib import Path

from cairn.repo import Repo

with Repo(Path(sys.argv[1])).lock():
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes stdin
"""


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def write_holder(repo, pid: int, host: str, command: str) -> None:
    tmp = repo.root / ".cairn" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host, "command": command, "argv": [command], "since": time.time() - 60}
    (tmp / "lock.holder").write_text(json.dumps(record))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- the lock says who holds it --------------------------------------------------------------


def test_waiting_writer_says_whom_it_waits_for_and_then_runs(repo, make_dataset, start_cairn, tmp_path):
    files = make_dataset(repo.root / "data", count=5)
    repo.cairn("config", "core.lock_wait", "60")
    script = tmp_path / "hold_lock.py"
    script.write_text(HOLD_LOCK)
    with subprocess.Popen(
        [sys.executable, str(script), str(repo.root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        adding = start_cairn("add", "data", cwd=repo.root)
        assert adding.stderr is not None
        line = adding.stderr.readline()  # blocks until cairn says it waits: behaviour, not timing
        assert holder.stdin is not None
        holder.stdin.close()  # let go: the waiting add goes on
        out, err = adding.communicate(timeout=60)
    assert line.startswith(f"waiting for the lock held by PID {holder.pid} (python {script} {repo.root}) since ")
    assert line.rstrip().endswith("(up to 60 s, core.lock_wait)")
    assert adding.returncode == 0, err
    assert "added data (5 files" in out
    assert files_under(repo.root / "data") == files
    assert not (repo.root / ".cairn" / "tmp" / "lock.holder").exists()


def test_record_of_a_dead_holder_is_taken_over_with_a_message(repo, make_dataset):
    make_dataset(repo.root / "data", count=3)
    pid = dead_pid()
    write_holder(repo, pid, socket.gethostname(), "cairn add")

    proc = repo.cairn("add", "data")

    assert f"taking over the lock of PID {pid} (cairn add), which is no longer running" in proc.stderr
    repo.cairn("fsck")


def test_holder_on_another_host_is_trusted_until_its_record_goes(repo, make_dataset, assert_error):
    make_dataset(repo.root / "data", count=3)
    repo.cairn("config", "core.lock_wait", "0.3")
    write_holder(repo, 4242, "build-server-7", "cairn gc")
    holder_file = repo.root / ".cairn" / "tmp" / "lock.holder"

    proc = repo.cairn("add", "data", expect=None)

    assert_error(
        proc,
        LockedError,
        "the repository is locked by PID 4242 on host build-server-7 (cairn gc), running since ",
        f"if that process is no longer running on build-server-7, delete {holder_file}",
    )
    assert "waiting for the lock held by PID 4242 (cairn gc) since " in proc.stderr
    assert "on host build-server-7" in proc.stderr
    assert not (repo.root / "data.cairn").exists()
    holder_file.unlink()  # the fix the hint names
    repo.cairn("add", "data")


def test_quiet_writer_waits_silently(repo, make_dataset, tmp_path):
    make_dataset(repo.root / "data", count=2)
    repo.cairn("config", "core.lock_wait", "0.2")
    write_holder(repo, 4242, "build-server-7", "cairn gc")

    proc = repo.cairn("-q", "add", "data", expect=LockedError.exit_code)

    assert "waiting" not in proc.stderr
    assert proc.stderr.startswith("error: the repository is locked by PID 4242")


# -- two writers at once ---------------------------------------------------------------------


def run_both(start_cairn, a: tuple[list[str], Path], b: tuple[list[str], Path]) -> list[tuple[int, str, str]]:
    procs = [start_cairn(*args, cwd=cwd) for args, cwd in (a, b)]
    outputs = [p.communicate(timeout=120) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


@pytest.fixture
def busy(repo, make_dataset):
    """A repo with data/ tracked and committed, core.lock_wait long enough for two writers."""
    files = make_dataset(repo.root / "data", count=400, size=2048)
    repo.cairn("add", "data")
    repo.cairn("config", "core.lock_wait", "120")
    repo.commit("data")
    repo.files = files
    return repo


def test_add_and_add_at_once(busy, make_dataset, start_cairn):
    more = make_dataset(busy.root / "more", count=400, size=2048, seed=3)
    (busy.root / "data" / "new.bin").write_bytes(b"new")

    results = run_both(start_cairn, (["add", "data"], busy.root), (["add", "more"], busy.root))

    assert [r[0] for r in results] == [0, 0], results
    assert busy.pointer("data")["oid"] == busy.expected("data")[0]
    assert busy.pointer("more")["oid"] == busy.expected("more")[0]
    assert files_under(busy.root / "more") == more
    busy.cairn("fsck")
    busy.cairn("status", "-q")


def test_add_and_gc_at_once_loses_nothing_the_add_recorded(busy, make_dataset, start_cairn):
    shutil.rmtree(busy.root / "data")
    v2 = make_dataset(busy.root / "data", count=400, size=2048, seed=9)  # v1 is garbage once v2 is added

    results = run_both(start_cairn, (["add", "data"], busy.root), (["gc", "--yes"], busy.root))

    assert [r[0] for r in results] == [0, 0], results
    busy.cairn("fsck")  # nothing the new pointer references is missing
    shutil.rmtree(busy.root / "data")
    busy.cairn("checkout")
    assert files_under(busy.root / "data") == v2


def test_checkout_and_add_at_once(busy, make_dataset, start_cairn):
    shutil.rmtree(busy.root / "data")
    other = make_dataset(busy.root / "other", count=300, size=2048, seed=4)

    results = run_both(start_cairn, (["checkout"], busy.root), (["add", "other"], busy.root))

    assert [r[0] for r in results] == [0, 0], results
    assert files_under(busy.root / "data") == busy.files
    assert busy.pointer("other")["oid"] == busy.expected("other")[0]
    assert files_under(busy.root / "other") == other
    busy.cairn("fsck")
    busy.cairn("status", "-q")


def test_two_queue_workers_run_each_experiment_once(repo, start_cairn):
    repo.write(
        {
            "params.yaml": b"train:\n  scale: 1\n",
            "train.py": (
                b"import json, yaml\n"
                b"s = yaml.safe_load(open('params.yaml'))['train']['scale']\n"
                b"open('model.bin', 'w').write(str(s) * 1000)\n"
                b"json.dump({'score': s}, open('metrics.json', 'w'))\n"
            ),
            "cairn.yaml": (
                f"stages:\n  train:\n    cmd: {sys.executable} train.py\n    deps: [train.py]\n"
                "    params: [train.scale]\n    outs: [model.bin]\n    metrics:\n"
                "      - metrics.json: {cache: false}\n"
            ).encode(),
        }
    )
    repo.cairn("repro")
    repo.commit("pipeline")
    for scale in (2, 3, 4, 5):
        repo.cairn("exp", "run", "--queue", "-n", f"s{scale}", "-S", f"train.scale={scale}")

    results = run_both(start_cairn, (["queue", "worker"], repo.root), (["queue", "worker"], repo.root))

    assert [r[0] for r in results] == [0, 0], results
    rows = json.loads(repo.cairn("queue", "status", "--json").stdout)
    assert {r["name"]: r["status"] for r in rows} == {f"s{s}": "success" for s in (2, 3, 4, 5)}
    shown = json.loads(repo.cairn("exp", "show", "--json").stdout)
    names = [r["name"] for r in shown if r.get("name", "").startswith("s")]
    assert sorted(names) == ["s2", "s3", "s4", "s5"]  # each ran once: no duplicate experiment
    repo.cairn("fsck")


# -- two clones pushing to one remote at once ------------------------------------------------


def test_two_clones_push_to_one_remote_at_once(repo, git, make_dataset, start_cairn, tmp_path, run_cairn):
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    repo.cairn("remote", "add", "-d", "store", str(tmp_path / "remote"))
    repo.commit("remote")
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    clones, data = [], {}
    for name, seed in (("alice", 1), ("bob", 2)):
        dest = tmp_path / name
        git("clone", "-q", str(origin), str(dest), cwd=tmp_path)
        git("config", "user.name", name, cwd=dest)
        git("config", "user.email", f"{name}@example.com", cwd=dest)
        git("checkout", "-q", "-b", name, cwd=dest)
        data[name] = make_dataset(dest / "data", count=600, size=1024, seed=seed)
        (dest / "data" / "big.bin").write_bytes(os.urandom(3 << 20))  # travels alone, not packed
        data[name]["big.bin"] = (dest / "data" / "big.bin").read_bytes()
        run_cairn("add", "data", cwd=dest)
        git("add", "-A", cwd=dest)
        git("commit", "-q", "-m", f"{name}'s data", cwd=dest)
        git("push", "-q", "origin", name, cwd=dest)
        clones.append(dest)

    results = run_both(start_cairn, (["push"], clones[0]), (["push"], clones[1]))

    assert [r[0] for r in results] == [0, 0], results
    fresh = tmp_path / "fresh"
    git("clone", "-q", str(origin), str(fresh), cwd=tmp_path)
    for name in ("alice", "bob"):
        git("checkout", "-q", name, cwd=fresh)
        run_cairn("pull", cwd=fresh)
        assert files_under(fresh / "data") == data[name], f"{name}'s data did not come back whole"
    run_cairn("fsck", cwd=fresh)
