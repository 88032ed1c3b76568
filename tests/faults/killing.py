"""kill -9 at a random moment of a real `cairn` command, then check what it left behind.

Used by tests/faults/test_killing.py (a few trials per operation in CI) and bench/faults.py (many).
Needs nothing of pytest: a Harness builds, once per operation, a template (a git project with
cairn, a folder remote, a bare git origin) and, per trial, copies it, starts the command, sends
SIGKILL to its process group after a random delay spread over the command's measured duration,
and checks:

- `cairn fsck`: no corrupt or unreadable object; no missing one except where the killed command
  was bringing them (fetch, pull);
- the command run again completes (a left lock would make it fail: core.lock_wait is short);
- the bytes are right: the workspace (or a fresh clone's pull) equals the source data;
- no stray file in the workspace (a temp or half-written file a user would take for data).
Temp files left in the cache or on the remote are counted, not failed: gc removes them later.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
CAIRN = str(VENV_BIN / "cairn")
GIT = shutil.which("git") or "git"
OLD_NS = 1_600_000_000 * 10**9
OPS = ("add", "checkout", "push", "fetch", "pull", "repro", "exp-run", "queue-worker", "gc", "gc-remote")

PREP = """\
import os, sys
for root, _, files in os.walk("data"):
    for name in sorted(files):
        src = os.path.join(root, name)
        dst = os.path.join("out", os.path.relpath(src, "data"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read()[::-1])
"""
TRAIN = """\
import json, os, yaml
scale = yaml.safe_load(open("params.yaml"))["train"]["scale"]
total = 0
for root, _, files in os.walk("out"):
    for name in files:
        total += sum(open(os.path.join(root, name), "rb").read()[:64])
with open("model.bin", "wb") as f:
    f.write((str(total * scale) + "\\n").encode() * 2000)
json.dump({"score": total * scale}, open("metrics.json", "w"))
"""


def pipeline() -> str:
    py = sys.executable
    return (
        "stages:\n"
        f"  prep:\n    cmd: {py} prep.py\n    deps: [prep.py, data]\n    outs: [out]\n"
        f"  train:\n    cmd: {py} train.py\n    deps: [train.py, out]\n    params: [train.scale]\n"
        "    outs: [model.bin]\n    metrics:\n      - metrics.json: {cache: false}\n"
    )


def dataset(count: int, seed: int, big: int = 1) -> dict[str, bytes]:
    """`count` small files in nested folders plus `big` files of 1 MiB (held as chunks)."""
    rng = random.Random(seed)
    files = {f"s{i % 4}/t{i % 3}/f{i:05d}.bin": rng.randbytes(512 + i % 2000) for i in range(count)}
    files.update({f"big{j}.bin": rng.randbytes(1 << 20) for j in range(big)})
    return files


_stamp = iter(range(1, 1 << 30))


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Old mtimes (never "racily clean"), a new one per call: a file rewritten with the same size
    on a reused inode must still look changed to the stat cache, as it would in real life."""
    ns = OLD_NS + next(_stamp) * 10**9
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, ns=(ns, ns))


def read_tree(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@dataclass
class Trial:
    op: str
    delay: float
    finished_first: bool = False  # the command ended before the kill
    problems: list[str] = field(default_factory=list)
    leftovers: int = 0  # temp files left in the cache or on the remote (gc sweeps them)


@dataclass
class Op:
    """How to prepare, run and check one operation; `root` is a trial's copy of the template."""

    name: str
    argv: list[str]
    missing_ok: bool = False  # fsck may find objects missing after the kill
    cwd: str = "proj"


class Harness:
    def __init__(self, base: Path, count: int = 300, seed: int = 0) -> None:
        self.base = base
        self.home = base / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.v1 = dataset(count // 10, seed, big=0)
        self.v2 = dataset(count, seed + 1)
        self.rng = random.Random(seed)
        self.templates: dict[str, Path] = {}
        self.durations: dict[str, float] = {}
        self.expected: dict[str, dict[str, bytes]] = {}
        self.origin_of: dict[Path, Path] = {}  # a trial's copy -> its template

    # -- processes ---------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.pathsep.join(dict.fromkeys([str(VENV_BIN), os.path.dirname(GIT), "/usr/bin", "/bin"])),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "NO_COLOR": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Fault Tester",
            "GIT_AUTHOR_EMAIL": "faults@example.com",
            "GIT_COMMITTER_NAME": "Fault Tester",
            "GIT_COMMITTER_EMAIL": "faults@example.com",
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        }

    def run(self, argv: list[str], cwd: Path, check: bool = True, timeout: float = 180):
        proc = subprocess.run(
            argv, cwd=cwd, env=self.env(), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"`{' '.join(argv)}` in {cwd} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        return proc

    def cairn(self, cwd: Path, *args: str, check: bool = True):
        return self.run([CAIRN, *args], cwd, check)

    def git(self, cwd: Path, *args: str, check: bool = True):
        return self.run([GIT, *args], cwd, check)

    # -- templates ---------------------------------------------------------------------------
    def _project(self, where: Path) -> Path:
        """origin.git (bare), remote/ (folder remote), proj/ with v1 then v2 of data/ committed,
        tagged and pushed to both; the pipeline files are committed too (not run). Built once,
        copied for each operation's template."""
        first = self.base / "templates" / "_base"
        if not first.exists():
            self._make_project(first)
        shutil.copytree(first, where, symlinks=True)
        _retarget(where, str(first), str(where))
        return where / "proj"

    def _make_project(self, where: Path) -> Path:
        where.mkdir(parents=True)
        self.git(where, "init", "-q", "--bare", "-b", "main", "origin.git")
        proj = where / "proj"
        proj.mkdir()
        self.git(proj, "init", "-q", "-b", "main")
        self.git(proj, "remote", "add", "origin", str(where / "origin.git"))
        self.cairn(proj, "init")
        self.cairn(proj, "remote", "add", "-d", "store", str(where / "remote"))
        self.cairn(proj, "config", "core.lock_wait", "2")
        # the 1 MiB files are held as chunks, so every kill also lands in chunked add/checkout/push/pull
        self.cairn(proj, "config", "cache.chunking.enabled", "true")
        self.cairn(proj, "config", "cache.chunking.min_size", str(512 * 1024))
        write_tree(proj / "data", self.v1)
        (proj / "prep.py").write_text(PREP)
        (proj / "train.py").write_text(TRAIN)
        (proj / "params.yaml").write_text("train:\n  scale: 1\n")
        self.cairn(proj, "add", "data")
        self.git(proj, "add", "-A")
        self.git(proj, "commit", "-q", "-m", "v1")
        self.git(proj, "tag", "v1")
        shutil.rmtree(proj / "data")
        write_tree(proj / "data", self.v2)
        self.cairn(proj, "add", "data")
        self.git(proj, "commit", "-q", "-am", "v2")
        self.cairn(proj, "push", "--all-tags")
        self.cairn(proj, "push")
        self.git(proj, "push", "-q", "origin", "main", "v1")
        return proj

    def _clone(self, where: Path, name: str) -> Path:
        dest = where / name
        self.git(where, "clone", "-q", str(where / "origin.git"), name)
        return dest

    def build(self, op: str) -> Op:
        """Make the template of `op` (once) and return how to run it."""
        where = self.base / "templates" / op
        fresh = not where.exists()
        self.templates[op] = where
        return _SPECS[op](self, where if fresh else None)

    # -- a trial -----------------------------------------------------------------------------
    def copy(self, op: str, name: str) -> Path:
        src = self.templates[op]
        dest = self.base / "trials" / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest, symlinks=True)
        _retarget(dest, str(src), str(dest))
        self.origin_of[dest] = src
        return dest

    def measure(self, op: str, spec: Op) -> float:
        """Run the command to its end on a copy: its duration, and the reference result."""
        root = self.copy(op, f"{op}-reference")
        start = time.monotonic()
        self.run(spec.argv, root / spec.cwd)
        self.durations[op] = time.monotonic() - start
        _SETTLE.get(op, lambda h, r: None)(self, root)
        self.expected[op] = _RESULT[op](self, root)
        return self.durations[op]

    def trial(self, op: str, spec: Op, index: int, after_kill: Callable[[Path], list[str]] | None = None) -> Trial:
        """One kill; `after_kill(trial root)` may report problems with what the kill left, before
        the checks and the rerun."""
        root = self.copy(op, f"{op}-{index}")
        t = Trial(op, self.rng.uniform(0, self.durations[op]))
        proc = subprocess.Popen(
            spec.argv,
            cwd=root / spec.cwd,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its stages die with it, as at a closed terminal
        )
        time.sleep(t.delay)
        t.finished_first = proc.poll() is not None
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        try:
            _SETTLE.get(op, lambda h, r: None)(self, root)
            if after_kill is not None:
                t.problems.extend(after_kill(root))
            self._check(op, spec, root, t)
        except Exception as e:  # a check that cannot even run is a problem found, not a crash of the bench
            t.problems.append(f"check failed: {e}")
        return t

    def _check(self, op: str, spec: Op, root: Path, t: Trial) -> None:
        proj = root / "proj"
        fsck = self.cairn(proj, "fsck", "--json", check=False)
        try:
            report = json.loads(fsck.stdout)
        except ValueError:
            t.problems.append(f"fsck did not answer: {fsck.stderr.strip()[-300:]}")
            report = {}
        for kind in ("corrupt", "unreadable"):
            if report.get(kind):
                t.problems.append(f"fsck after the kill: {len(report[kind])} {kind} object(s)")
        if report.get("missing") and not spec.missing_ok:
            t.problems.append(f"fsck after the kill: {len(report['missing'])} missing object(s)")
        again = self.run(spec.argv, root / spec.cwd, check=False)
        if again.returncode != 0:
            why = "the lock blocked it" if again.returncode == 6 else f"exit {again.returncode}"
            t.problems.append(f"rerun failed ({why}): {again.stderr.strip()[-400:]}")
            return
        _SETTLE.get(op, lambda h, r: None)(self, root)
        got = _RESULT[op](self, root)
        if got != self.expected[op]:
            wrong = sorted(k for k in set(got) | set(self.expected[op]) if got.get(k) != self.expected[op].get(k))
            t.problems.append(f"wrong result after the rerun: {', '.join(wrong[:5])}")
            if "pull failed" in got:  # what the teammate's pull said, to diagnose it
                t.problems.append(f"the pull said: {got['pull failed'].decode(errors='replace').strip()[-600:]}")
        after = json.loads(self.cairn(proj, "fsck", "--json", check=False).stdout or "{}")
        if not after.get("ok", False):
            t.problems.append(f"fsck after the rerun: {after}")
        strays = [p for p in _workspace_files(proj) if ".cairn-" in p.name or p.name.startswith("co.")]
        if strays:
            t.problems.append(f"stray files in the workspace: {[str(p.relative_to(root)) for p in strays[:3]]}")
        t.leftovers = _count(proj / ".cairn" / "cache" / "tmp") + _count(root / "remote" / ".tmp")


def _count(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder)) if folder.exists() else 0


def _workspace_files(proj: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, files in os.walk(proj):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".cairn")]
        out.extend(Path(dirpath) / f for f in files)
    return out


def _retarget(root: Path, old: str, new: str) -> None:
    """Point copied configs (git remotes, cairn remotes) at the copy's origin and remote."""
    for cfg in root.glob("*/.git/config"):
        cfg.write_text(cfg.read_text().replace(old, new))
    for cfg in [*root.glob("*/.cairn/config.toml"), *root.glob("*/.cairn/config.local.toml")]:
        cfg.write_text(cfg.read_text().replace(old, new))


# -- the operations ------------------------------------------------------------------------
# Each builder makes the template when given a folder, and always returns the Op. Each result
# function returns what must be equal to the reference after the rerun.


def _add(h: Harness, where: Path | None) -> Op:
    if where is not None:
        proj = h._project(where)
        shutil.rmtree(proj / "data")
        write_tree(proj / "data", {**h.v2, **dataset(len(h.v2) // 2, 99, big=2)})  # data v3 on disk
    return Op("add", [CAIRN, "add", "data"])


def _pointer_and_data(h: Harness, root: Path) -> dict[str, bytes]:
    proj = root / "proj"
    status = h.cairn(proj, "status", "--json").stdout.encode()
    return {"data.cairn": (proj / "data.cairn").read_bytes(), "status": status, **read_tree(proj / "data")}


def _checkout(h: Harness, where: Path | None) -> Op:
    if where is not None:
        proj = h._project(where)
        h.git(proj, "checkout", "-q", "v1")
        h.cairn(proj, "checkout")
        h.git(proj, "checkout", "-q", "main")  # pointers at v2, workspace at v1
    return Op("checkout", [CAIRN, "checkout"])


def _data(h: Harness, root: Path) -> dict[str, bytes]:
    return read_tree(root / "proj" / "data")


def _push(h: Harness, where: Path | None) -> Op:
    if where is not None:
        proj = h._project(where)
        write_tree(proj / "data", dataset(len(h.v2) // 2, 7, big=2))
        h.cairn(proj, "add", "data")
        h.git(proj, "commit", "-q", "-am", "v3")
        h.git(proj, "push", "-q", "origin", "main")
    return Op("push", [CAIRN, "push"])


def _fresh_clone_pull(h: Harness, root: Path) -> dict[str, bytes]:
    """What a teammate gets: a fresh clone of origin and `cairn pull`."""
    clone = root / "fresh"
    if clone.exists():
        shutil.rmtree(clone)
    h.git(root, "clone", "-q", str(root / "origin.git"), "fresh")
    # the committed config names the remote of the project the templates were copied from
    _retarget(root, str(h.base / "templates" / "_base"), str(root))
    pulled = h.cairn(clone, "pull", check=False)
    if pulled.returncode != 0:
        return {"pull failed": pulled.stderr.encode()}
    return read_tree(clone / "data")


def _fetch(h: Harness, where: Path | None) -> Op:
    if where is not None:
        h._project(where)
        h._clone(where, "proj2")
        shutil.rmtree(where / "proj")
        os.rename(where / "proj2", where / "proj")
        # small local packs: a kill lands between seals, not only before the one seal at the end
        h.cairn(where / "proj", "config", "cache.pack_size", "16384")
    return Op("fetch", [CAIRN, "fetch"], missing_ok=True)


def _fetched(h: Harness, root: Path) -> dict[str, bytes]:
    proj = root / "proj"
    h.cairn(proj, "checkout", check=False)
    return read_tree(proj / "data")


def _pull(h: Harness, where: Path | None) -> Op:
    if where is not None:
        _fetch(h, where)
    return Op("pull", [CAIRN, "pull"], missing_ok=True)


def _repro(h: Harness, where: Path | None) -> Op:
    if where is not None:
        proj = h._project(where)
        (proj / "cairn.yaml").write_text(pipeline())
        h.git(proj, "add", "cairn.yaml")
        h.git(proj, "commit", "-q", "-m", "pipeline")
    return Op("repro", [CAIRN, "repro"])


def _outputs(h: Harness, root: Path) -> dict[str, bytes]:
    proj = root / "proj"
    files = {f"out/{k}": v for k, v in read_tree(proj / "out").items()}
    for name in ("model.bin", "metrics.json", "cairn.lock"):
        p = proj / name
        files[name] = p.read_bytes() if p.exists() else b""
    return files


def _ran_pipeline(h: Harness, where: Path) -> Path:
    """The project with the pipeline committed, run once, and its results committed."""
    proj = h._project(where)
    (proj / "cairn.yaml").write_text(pipeline())
    h.git(proj, "add", "cairn.yaml")
    h.git(proj, "commit", "-q", "-m", "pipeline")
    h.cairn(proj, "repro")
    h.git(proj, "add", "-A")
    h.git(proj, "commit", "-q", "-m", "ran")
    return proj


def _exp_run(h: Harness, where: Path | None) -> Op:
    if where is not None:
        _ran_pipeline(h, where)
    return Op("exp-run", [CAIRN, "exp", "run", "-S", "train.scale=3"])


def _exp_outputs(h: Harness, root: Path) -> dict[str, bytes]:
    files = _outputs(h, root)
    rows = json.loads(h.cairn(root / "proj", "exp", "show", "--json").stdout)
    succeeded = {str(r.get("metrics")) for r in rows if r.get("status") == "success"}
    files["exp show"] = json.dumps(sorted(succeeded)).encode()
    return files


def _queue(h: Harness, where: Path | None) -> Op:
    if where is not None:
        proj = _ran_pipeline(h, where)
        for scale in (2, 3):
            h.cairn(proj, "exp", "run", "--queue", "-n", f"scale{scale}", "-S", f"train.scale={scale}")
    return Op("queue-worker", [CAIRN, "queue", "worker"])


def _settle_queue(h: Harness, root: Path) -> None:
    """Experiments run in their own sessions and outlive a killed worker: wait for them."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = json.loads(h.cairn(root / "proj", "queue", "status", "--json").stdout)
        if not any(r["status"] == "running" for r in rows):
            return
        time.sleep(0.1)


def _queue_result(h: Harness, root: Path) -> dict[str, bytes]:
    """Each queued experiment either succeeded with the right metrics or is recorded as died
    (the kill took it); none is left queued or running; a died one can be run again."""
    proj = root / "proj"
    rows = json.loads(h.cairn(proj, "queue", "status", "--json").stdout)
    shown = {r["name"]: r for r in json.loads(h.cairn(proj, "exp", "show", "-A", "--json").stdout)}
    out = {}
    for r in rows:
        if r["status"] == "success":
            out[r["name"]] = str(_score(shown.get(r["name"]))).encode()
        elif r["status"] == "failed" and "died" in (r.get("error") or ""):
            scale = r["name"].removeprefix("scale")
            again = h.cairn(proj, "exp", "run", "-S", f"train.scale={scale}", check=False)
            ok = again.returncode == 0
            out[r["name"]] = str(_score(json.loads((proj / "metrics.json").read_text()))).encode() if ok else b"failed"
        else:
            out[r["name"]] = f"left {r['status']}: {r.get('error')}".encode()
    return out


def _score(doc: object) -> object:
    """The `score` metric wherever a document holds it."""
    if isinstance(doc, dict):
        if "score" in doc:
            return doc["score"]
        for v in doc.values():
            found = _score(v)
            if found is not None:
                return found
    return None


def _gc(h: Harness, where: Path | None) -> Op:
    if where is not None:
        proj = h._project(where)
        write_tree(proj / "junk", dataset(len(h.v2), 5, big=2))
        h.cairn(proj, "add", "junk")
        (proj / "junk.cairn").unlink()
    return Op("gc", [CAIRN, "gc", "--yes"])


def _gc_result(h: Harness, root: Path) -> dict[str, bytes]:
    proj = root / "proj"
    shutil.rmtree(proj / "data")
    h.cairn(proj, "checkout", check=False)
    files = read_tree(proj / "data")
    h.git(proj, "checkout", "-q", "v1")
    shutil.rmtree(proj / "data", ignore_errors=True)
    h.cairn(proj, "checkout", check=False)
    files.update({f"v1/{k}": v for k, v in read_tree(proj / "data").items()})
    h.git(proj, "checkout", "-q", "main")
    h.cairn(proj, "checkout", "--force", check=False)
    return files


def _gc_remote(h: Harness, where: Path | None) -> Op:
    extra: list[str] = []
    if where is not None:
        proj = h._project(where)
        h.git(proj, "checkout", "-q", "-b", "junk")
        write_tree(proj / "data", dataset(len(h.v2), 5, big=2))
        h.cairn(proj, "add", "data")
        h.git(proj, "commit", "-q", "-am", "junk")
        h.cairn(proj, "push")
        h.git(proj, "checkout", "-q", "main")
        h.git(proj, "branch", "-q", "-D", "junk")
        h.cairn(proj, "checkout")
        (where / "gc-options").write_text("")
        helptext = h.cairn(proj, "gc", "--help").stdout
        if "--grace" in helptext:  # the shared-remote design: let this gc delete something
            (where / "gc-options").write_text("--grace 0d\n--forget-ref junk\n")
    options = h.templates["gc-remote"] / "gc-options"
    if options.exists():
        extra = [w for line in options.read_text().splitlines() for w in line.split()]
    return Op("gc-remote", [CAIRN, "gc", "--remote", "store", "--yes", *extra])


def _remote_result(h: Harness, root: Path) -> dict[str, bytes]:
    return _fresh_clone_pull(h, root)


_SPECS: dict[str, Callable[[Harness, Path | None], Op]] = {
    "add": _add,
    "checkout": _checkout,
    "push": _push,
    "fetch": _fetch,
    "pull": _pull,
    "repro": _repro,
    "exp-run": _exp_run,
    "queue-worker": _queue,
    "gc": _gc,
    "gc-remote": _gc_remote,
}
_RESULT: dict[str, Callable[[Harness, Path], dict[str, bytes]]] = {
    "add": _pointer_and_data,
    "checkout": _data,
    "push": _fresh_clone_pull,
    "fetch": _fetched,
    "pull": _data,
    "repro": _outputs,
    "exp-run": _exp_outputs,
    "queue-worker": _queue_result,
    "gc": _gc_result,
    "gc-remote": _remote_result,
}
_SETTLE: dict[str, Callable[[Harness, Path], None]] = {"queue-worker": _settle_queue}


def run_op(
    h: Harness,
    op: str,
    trials: int,
    on_trial: Callable[[Trial], None] | None = None,
    after_kill: Callable[[Path], list[str]] | None = None,
) -> list[Trial]:
    """Build, measure, then `trials` kill trials of one operation."""
    spec = h.build(op)
    h.measure(op, spec)
    out = []
    for i in range(trials):
        t = h.trial(op, spec, i, after_kill)
        out.append(t)
        if on_trial is not None:
            on_trial(t)
        shutil.rmtree(h.base / "trials" / f"{op}-{i}", ignore_errors=True)
    return out


def cache_promises(proj: Path) -> list[str]:
    """What a cache may only hold whole, read without cairn code (docs/formats.md): every pack
    index describes a pack that holds all its rows, and every tree in the cache has each of its
    entries in the cache (loose, packed or as a chunk list), since a tree vouches for its files
    (`add` trusts it)."""
    cache = proj / ".cairn" / "cache"
    problems: list[str] = []
    present: set[str] = set()
    for idx in sorted((cache / "packs").glob("*.idx")):
        rows = json.loads(idx.read_bytes())["objects"]
        pack = idx.with_suffix(".pack")
        end = max((off + size for _, off, size in rows), default=0)
        if not pack.exists() or pack.stat().st_size < end:
            problems.append(f"index {idx.name} names bytes its pack does not hold")
        present.update(oid for oid, _, _ in rows)
    loose: dict[str, Path] = {}
    for kind in ("objects", "chunks"):
        for p in (cache / kind).glob("??/*"):
            present.add(p.parent.name + p.name)
            if kind == "objects":
                loose[p.parent.name + p.name] = p
    for oid, p in loose.items():
        try:
            doc = json.loads(p.read_bytes())
        except ValueError:
            continue  # a file's bytes, not a tree
        if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(doc.get("entries"), list):
            continue
        lacking = [e["oid"] for e in doc["entries"] if isinstance(e, dict) and e.get("oid") not in present]
        if lacking:
            problems.append(f"tree {oid} is in the cache without {len(lacking)} of its entries ({lacking[0]})")
    return problems
