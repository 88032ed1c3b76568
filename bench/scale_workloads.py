"""S1: a million small files (issue 22, "Scale"): add, status, re-add, diff, push, checkout and pull.

The dataset is N files of 0.5-8 KiB in N/1,000 folders of 1,000 files (1,000,000 files, ~4.5 GB
at full size), made once per size under WORK/datasets/s1-N/ by one process per core. Each file is
a 16-byte header (its index, so no two files are equal and nothing dedupes) followed by a slice
of a seeded 4 MiB random pool: generation costs the file creation, not a random generator per
byte. run.py's `--s1` picks the sizes (a comma list of smoke, 2k, 20k, 200k, 1m; full scale runs
20k,200k,1m, quick 20k, smoke 200 files): each size runs the whole sequence, and the report's
growth table puts the sizes side by side.

The workloads form one sequence per size and tool: each continues from the repo the one before
it left (`Workload.after`, see runner.py), so the set is copied and added once, not once per
workload: add -> commit, status -> re-add after one change -> ten changed, added, committed,
diff -> local remote, push -> ten changed again, push -> S3 remote, push -> data/ moved aside,
checkout -> a `git clone` of the repo, pull from the local remote. A workload selected without
the one before it builds that state from scratch (its `setup`). One run each, no warm-up. cairn
alone at full size (pass `--tools cairn`); DVC runs where it finishes (`--s1 200k`). Standard
library only.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from datasets import SEED, _ensure
from workloads import (
    BASE,
    RunCtx,
    Step,
    Target,
    Workload,
    clone_for_pull,
    commit,
    fresh_repo,
    local_remote,
    local_remote_filled,
    pointer_changed,
    pointer_exists,
    s3_filled,
    s3_remote,
    then,
    tool_step,
)

MIN_SIZE, MAX_SIZE = 512, 8 * 1024
PER_FOLDER = 1_000
HEADER = 16
POOL = 4 * 1024 * 1024
DIFF_CHANGED = 10
GENERATOR_VERSION = 2  # 2: one seeded generator per folder (folders are made in parallel)

# "smoke" (200 files) and "2k" check the harness and the growth table in seconds
SIZES = {"smoke": 200, "2k": 2_000, "20k": 20_000, "200k": 200_000, "1m": 1_000_000}
DEFAULT = {"full": "20k,200k,1m", "quick": "20k", "smoke": "smoke"}
MILLION = SIZES["1m"]
# XOR keys of the rewrites, one per step, so no step gives a file back its earlier bytes
_KEY_READD, _KEY_DIFF, _KEY_PUSH_AGAIN = 0x11, 0x5A, 0xA5


@dataclass(frozen=True)
class Shape:
    files: int
    per_folder: int

    @property
    def folders(self) -> int:
        return -(-self.files // self.per_folder)


def shape_of(size: str) -> Shape:
    files = SIZES[size]
    return Shape(files, files // 2 if size == "smoke" else PER_FOLDER)


def sizes(arg: str | None, scale: str) -> list[str]:
    """run.py's --s1 (None: the scale's default) as sizes, smallest first."""
    wanted = [s.strip().lower() for s in (arg or DEFAULT[scale]).split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SIZES]
    if unknown or not wanted:
        raise SystemExit(f"--s1 takes a comma list of {', '.join(SIZES)} (got {arg})")
    return sorted(set(wanted), key=SIZES.__getitem__)


def describe(chosen: list[str]) -> str:
    parts = [f"{shape_of(s).files:,} files in {shape_of(s).folders:,} folders" for s in chosen]
    return "S1 " + ", then ".join(parts)


def rel_path(s: Shape, i: int) -> str:
    return f"data/d{i // s.per_folder:04d}/f{i:07d}.bin"


# -- the dataset ------------------------------------------------------------------------------

_pool: bytes = b""  # made before the workers fork, so they share it


def _write_folders(dest: str, s: Shape, folders: list[int]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    pool = _pool
    for d in folders:
        rng = random.Random(f"{SEED}:s1:{d}")
        folder = os.path.join(dest, "data", f"d{d:04d}")
        os.mkdir(folder)
        for i in range(d * s.per_folder, min((d + 1) * s.per_folder, s.files)):
            size = rng.randint(MIN_SIZE, MAX_SIZE)
            off = rng.randrange(POOL - size)
            fd = os.open(os.path.join(folder, f"f{i:07d}.bin"), flags, 0o644)
            try:
                os.write(fd, b"s1" + i.to_bytes(HEADER - 2, "big") + pool[off : off + size - HEADER])
            finally:
                os.close(fd)


def generate(dest: Path, s: Shape, jobs: int | None = None) -> None:
    """The S1 files under dest/data, from a fixed seed (identical on every machine): creating a
    million files is kernel work, so one process per core takes a share of the folders."""
    global _pool
    _pool = random.Random(f"{SEED}:s1:base").randbytes(POOL)
    (dest / "data").mkdir()
    jobs = max(1, min(jobs or os.cpu_count() or 1, s.folders))
    if jobs == 1:
        _write_folders(str(dest), s, list(range(s.folders)))
        return
    fork = multiprocessing.get_context("fork")
    workers = [
        fork.Process(target=_write_folders, args=(str(dest), s, list(range(k, s.folders, jobs)))) for k in range(jobs)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if failed:
        raise RuntimeError(f"generating the S1 set under {dest} failed (worker exit codes {failed})")


def dataset(ctx: RunCtx, s: Shape) -> Path:
    """The generated set of this size (made on first use; not timed)."""
    path = ctx.data.root.parent / f"s1-{s.files}"
    spec = {"generator": GENERATOR_VERSION, "seed": SEED, "files": s.files, "per_folder": s.per_folder}
    _ensure(path, spec, lambda d: generate(d, s))
    return path


def copy_set(src: Path, dest: Path, jobs: int | None = None) -> None:
    """Copy the set's real bytes (never links: a tool that chmods or links its inputs must not
    touch the generated set), its folders shared out over one `cp` per core.

    The generated set leaves the page cache before and after the copy, so that the copy is what
    stays cached, as the data a user adds would be. Otherwise the set's pages (written when it
    was made, read again by `cp`: twice used, so kept by the kernel over pages used once) crowd
    out the copy's (written once): at 1M files on a 24 GiB machine ~30% of the copy was evicted
    before the timed add began and more while it ran, and the add read 3.3-3.75 GB back from
    disk one small file at a time (docs/decisions.md, "S1 growth")."""
    (dest / "data").mkdir(parents=True)
    names = sorted(os.listdir(src / "data"))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(names)))
    drop_cached(src / "data")
    procs = [
        subprocess.Popen(["cp", "-r", "--reflink=never", *names[k::jobs], str(dest / "data")], cwd=src / "data")
        for k in range(jobs)
    ]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise subprocess.CalledProcessError(max(codes), ["cp", "-r", str(src / "data"), str(dest / "data")])
    drop_cached(src / "data")


def drop_cached(root: Path) -> None:
    """Ask the kernel to drop the page cache of every file under `root` (posix_fadvise DONTNEED:
    clean pages go, dirty ones stay; no privileges needed, unlike drop_caches). Not on macOS."""
    if not hasattr(os, "posix_fadvise"):
        return
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def changed_files(s: Shape, n: int) -> list[str]:
    """n files spread over the set (one per folder where there are enough folders)."""
    step = s.files // n
    return [rel_path(s, i * step + i % s.per_folder) for i in range(n)]


def rewrite(ctx: RunCtx, rels: list[str], key: int) -> None:
    """New bytes, same size: only content and the stat stamp tell the change."""
    rewritten = ctx.state.setdefault("rewritten", set())
    assert isinstance(rewritten, set)
    for rel in rels:
        path = ctx.repo / rel
        path.write_bytes(bytes(b ^ key for b in path.read_bytes()))
        rewritten.add(rel)


# -- the workloads ----------------------------------------------------------------------------

SCALES = frozenset({"full", "quick", "smoke"})
NOT_AT_SMOKE = frozenset({"smoke"})  # the smoke run checks the harness: cairn alone, in seconds
FULL = frozenset({"full"})
COMMON = dict(max_runs=1, warmup=False, dvc_skipped=NOT_AT_SMOKE, scales=SCALES)


def build(size: str) -> tuple[Workload, ...]:
    """The S1 sequence at one size (SIZES)."""
    s = shape_of(size)

    def target(limit: float, what: str) -> Target:
        # judged only when the run has the million files (`--s1 200k` at full scale is not)
        return Target(limit, f"{what}, 1,000,000 files", FULL, at_size=lambda: s.files == MILLION)

    def repo_with_set(ctx: RunCtx) -> None:
        fresh_repo(ctx)
        copy_set(dataset(ctx, s), ctx.repo)

    def change_one(ctx: RunCtx) -> None:
        ctx.state["pointer_before"] = (ctx.repo / f"data{ctx.tool.pointer_suffix}").read_bytes()
        rewrite(ctx, changed_files(s, 1), _KEY_READD)

    def change_ten_and_commit(key: int) -> Step:
        def step(ctx: RunCtx) -> None:
            rewrite(ctx, changed_files(s, DIFF_CHANGED), key)
            tool_step("add", "data")(ctx)
            commit("ten files changed")(ctx)

        return step

    def s3_remote_too(ctx: RunCtx) -> None:
        """An S3 remote next to the local one, made the default (the sequence's push to S3)."""
        assert ctx.s3_endpoint and ctx.s3_bucket
        url = f"s3://{ctx.s3_bucket}/{ctx.tool.name}"
        ctx.tool.add_remote(ctx.repo, ctx.env, ctx.log, url, ctx.s3_endpoint, name="bench-s3")

    def data_aside(ctx: RunCtx) -> None:
        """data/ moved out of the workspace (kept for the check; a rename frees no inode, so the
        checkout does not pay for the deletion of a million files just before it, see runner.py)."""
        (ctx.repo / "data").rename(ctx.run_dir / "data-before")

    def status_clean(ctx: RunCtx) -> str | None:
        if ctx.tool.name != "cairn":
            return None
        report = json.loads(ctx.tool_sh("status", "--json"))
        return "`cairn status --json` reports changes" if report.get("changed") else None

    def diff_lists_ten(ctx: RunCtx) -> str | None:
        if ctx.tool.name != "cairn":
            return None
        report = json.loads(ctx.stdout.read_text())
        got = sorted(c["path"] for c in report["changes"])
        want = sorted(changed_files(s, DIFF_CHANGED))
        return None if got == want else f"diff lists {len(got)} changes, expected the {DIFF_CHANGED} rewritten files"

    added = then(repo_with_set, tool_step("add", "data"), commit("data"))
    again = change_ten_and_commit(_KEY_PUSH_AGAIN)

    def w(step_name: str, wid: str, **kw: object) -> Workload:
        return Workload(wid, growth=(step_name, s.files), **kw, **COMMON)  # type: ignore[arg-type]

    return (
        w(
            "add",
            "S1-add",
            title="S1: add the files",
            setup=repo_with_set,
            command=lambda c: c.tool.argv("add", "data"),
            cairn_commands=(*BASE, "add"),
            verify=pointer_exists("data"),
            target=target(60.0, "`add data`"),
            notes="Fresh repo, the S1 set copied in (cache.type copy); the sequence's first step.",
        ),
        w(
            "status, nothing changed",
            "S1-status",
            title="S1: status, nothing changed",
            setup=added,
            after="S1-add",
            step=commit("data"),
            command=lambda c: c.tool.argv("status"),
            cairn_commands=(*BASE, "add", "status"),
            verify=status_clean,
            target=target(3.0, "`status`"),
        ),
        w(
            "re-add after one change",
            "S1-readd",
            title="S1: re-add after one file changed",
            setup=then(added, change_one),
            after="S1-status",
            step=change_one,
            command=lambda c: c.tool.argv("add", "data"),
            cairn_commands=(*BASE, "add"),
            verify=pointer_changed,
            target=target(3.0, "`add data` after one change"),
        ),
        w(
            "diff HEAD~1 HEAD, 10 files apart",
            "S1-diff",
            title="S1: diff of two versions, 10 files apart",
            setup=then(added, change_ten_and_commit(_KEY_DIFF)),
            after="S1-readd",
            step=change_ten_and_commit(_KEY_DIFF),
            command=lambda c: c.tool.argv("diff", "HEAD~1", "HEAD", "--json"),
            cairn_commands=(*BASE, "add", "diff"),
            verify=diff_lists_ten,
            target=target(1.0, "`diff HEAD~1 HEAD`"),
            notes="Ten files rewritten (one per folder), added and committed; checked: the ten are listed.",
        ),
        w(
            "push, local folder",
            "S1-push-local",
            title="S1: push to a local folder remote",
            setup=then(repo_with_set, tool_step("add", "data"), local_remote, commit("data")),
            after="S1-diff",
            step=then(local_remote, commit("remote")),
            command=lambda c: c.tool.argv("push"),
            cairn_commands=(*BASE, "add", "remote add", "push"),
            verify=local_remote_filled,
            target=target(60.0, "`push` to a local folder"),
        ),
        w(
            "push again, 10 files changed",
            "S1-push-again",
            title="S1: push after 10 files changed, to a local folder holding the rest",
            setup=then(repo_with_set, tool_step("add", "data"), local_remote, commit("data"), tool_step("push"), again),
            after="S1-push-local",
            step=again,
            command=lambda c: c.tool.argv("push"),
            cairn_commands=(*BASE, "add", "remote add", "push"),
            verify=local_remote_filled,
            notes="The remote's index already holds every object: the push walks all trees, sends the 10 "
            "files and their trees, and adds their rows to a large index.",
        ),
        w(
            "push, S3 (moto)",
            "S1-push-s3",
            title="S1: push to S3 (moto)",
            setup=then(repo_with_set, tool_step("add", "data"), s3_remote, commit("data")),
            after="S1-push-again",
            step=then(s3_remote_too, commit("s3 remote")),
            command=lambda c: c.tool.argv("push"),
            cairn_commands=(*BASE, "add", "remote add", "remote modify", "push"),
            verify=s3_filled,
            s3=True,
            target=target(120.0, "`push` to S3 (moto)"),
            notes="In the sequence the S3 remote is a second one, made the default; the bucket starts empty.",
        ),
        w(
            "checkout into an empty folder",
            "S1-checkout",
            title="S1: checkout into an empty folder",
            setup=then(added, data_aside),
            after="S1-push-s3",
            step=data_aside,
            command=lambda c: c.tool.argv("checkout"),
            cairn_commands=(*BASE, "add", "checkout"),
            verify=data_restored,
            target=target(90.0, "`checkout`"),
            notes="data/ moved aside; checked: every file back with its size, every 1,000th and every "
            "rewritten one byte for byte, against the moved-aside folder.",
        ),
        w(
            "pull into a fresh clone, local folder",
            "S1-pull",
            title="S1: pull into a fresh clone from the local folder remote",
            setup=then(
                repo_with_set, tool_step("add", "data"), local_remote, commit("data"), tool_step("push"), data_aside
            ),
            after="S1-checkout",
            step=clone_for_pull,
            command=lambda c: c.tool.argv("pull", "-r", "bench"),
            cairn_commands=(*BASE, "add", "remote add", "push", "pull"),
            verify=data_restored,
            notes="`git clone` of the repo (empty cache), then `pull` from the local folder remote, which holds "
            "the last version (the push after ten changes); checked as the checkout is. Its peak RSS is the "
            "issue's memory ceiling for a pull.",
        ),
    )


def data_restored(ctx: RunCtx) -> str | None:
    """Every file of the moved-aside data/ back, with its size; every 1,000th and every file the
    sequence rewrote compared byte for byte; no file more."""
    src, dest = ctx.run_dir / "data-before", ctx.cwd / "data"
    rewritten = {os.path.relpath(ctx.repo / rel, ctx.repo / "data") for rel in ctx.state.get("rewritten", ())}  # type: ignore[union-attr]
    count = 0
    for dirpath, _dirs, names in os.walk(src):
        for name in names:
            a = os.path.join(dirpath, name)
            rel = os.path.relpath(a, src)
            b = os.path.join(dest, rel)
            try:
                if os.stat(b).st_size != os.stat(a).st_size:
                    return f"data/{rel} has the wrong size"
            except FileNotFoundError:
                return f"data/{rel} was not restored"
            if (count % 1000 == 0 or rel in rewritten) and Path(a).read_bytes() != Path(b).read_bytes():
                return f"data/{rel} has the wrong bytes"
            count += 1
    have = sum(len(names) for _d, _s, names in os.walk(dest))
    return None if have == count else f"data/ has {have} files, expected {count}"


WORKLOADS: tuple[Workload, ...] = build("1m")  # the catalog's entries (ids, scales); run.py sizes them


def at_sizes(chosen: list[Workload], chosen_sizes: list[str]) -> list[Workload]:
    """CHOSEN with its S1 workloads replaced by the sequence at each size, smallest first (ids get
    "@size" when there are several, so each size is its own sequence and row)."""
    ids = [w.id for w in chosen if w.id in {s.id for s in WORKLOADS}]
    if not ids:
        return chosen
    sized: list[Workload] = []
    for size in chosen_sizes:
        for v in build(size):
            if v.id not in ids:
                continue
            if len(chosen_sizes) > 1:
                v = replace(v, id=f"{v.id}@{size}", after=f"{v.after}@{size}" if v.after else None)
            sized.append(v)
    first = next(i for i, w in enumerate(chosen) if w.id in ids)
    rest = [w for w in chosen if w.id not in ids]
    return rest[:first] + sized + rest[first:]
