"""S1: a million small files (issue 22, "Scale"): add, status, re-add, diff, push and checkout.

The dataset is N files of 0.5-8 KiB in N/1,000 folders of 1,000 files (1,000,000 files, ~4.3 GB
at full size), made once per size under WORK/datasets/s1-N/. Its size is chosen with run.py's
`--s1` (20k, 200k or 1m; full scale defaults to 1m, quick to 20k, smoke is 200 files), so the
same workloads give the scaling table 20k -> 200k -> 1M. Each file is a 16-byte header (its
index, so no two files are equal and nothing dedupes) followed by a slice of a seeded 4 MiB
random pool: generation costs the file creation, not a random generator per byte.

Every workload builds its own repo (the setup adds the whole set, so each costs a full `add`)
and takes at most one run, no warm-up: at 1M a run's setup takes minutes. cairn alone at full
size (pass `--tools cairn`); DVC is run where it finishes (`--s1 200k`). Peak RSS is the bench's
usual one (ru_maxrss of the timed command, see measure.py). Standard library only.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from datasets import SEED, _ensure
from workloads import (
    BASE,
    RunCtx,
    Target,
    Workload,
    commit,
    copy_tree,
    delete_data,
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
GENERATOR_VERSION = 1

SIZES = {"20k": 20_000, "200k": 200_000, "1m": 1_000_000}
DEFAULT = {"full": "1m", "quick": "20k", "smoke": "smoke"}
_SMOKE_FILES = 200  # two folders of 100: the harness, in seconds
_chosen: dict[str, str | None] = {"size": None}


def choose(size: str | None) -> None:
    """run.py's --s1: the size every S1 workload uses in this run (None: the scale's default)."""
    if size is not None and size not in SIZES:
        raise SystemExit(f"--s1 takes one of {', '.join(SIZES)} (got {size})")
    _chosen["size"] = size


@dataclass(frozen=True)
class Shape:
    files: int
    per_folder: int

    @property
    def folders(self) -> int:
        return -(-self.files // self.per_folder)


def shape(scale: str) -> Shape:
    size = _chosen["size"] or DEFAULT[scale]
    if size == "smoke":
        return Shape(_SMOKE_FILES, _SMOKE_FILES // 2)
    return Shape(SIZES[size], PER_FOLDER)


def describe(scale: str) -> str:
    s = shape(scale)
    return f"S1 {s.files:,} files in {s.folders:,} folders"


def rel_path(s: Shape, i: int) -> str:
    return f"data/d{i // s.per_folder:04d}/f{i:07d}.bin"


def _pool(tag: str) -> bytes:
    return random.Random(f"{SEED}:s1:{tag}").randbytes(POOL)


def _content(rng: random.Random, pool: bytes, i: int, tag: bytes) -> bytes:
    size = rng.randint(MIN_SIZE, MAX_SIZE)
    off = rng.randrange(POOL - size)
    return tag + i.to_bytes(HEADER - len(tag), "big") + pool[off : off + size - HEADER]


def generate(dest: Path, s: Shape) -> None:
    """The S1 files under dest/data, from a fixed seed (identical on every machine)."""
    rng, pool = random.Random(f"{SEED}:s1"), _pool("base")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i in range(s.files):
        if i % s.per_folder == 0:
            os.makedirs(dest / f"data/d{i // s.per_folder:04d}")
        fd = os.open(dest / rel_path(s, i), flags, 0o644)
        try:
            os.write(fd, _content(rng, pool, i, b"s1"))
        finally:
            os.close(fd)


def dataset(ctx: RunCtx) -> Path:
    """The generated set for this run's size (made on first use; not timed)."""
    s = shape(ctx.data.scale.name)
    path = ctx.data.root.parent / f"s1-{s.files}"
    spec = {"generator": GENERATOR_VERSION, "seed": SEED, "files": s.files, "per_folder": s.per_folder}
    _ensure(path, spec, lambda d: generate(d, s))
    return path


def changed_files(s: Shape, n: int) -> list[str]:
    """n files spread over the set (one per folder where there are enough folders)."""
    step = s.files // n
    return [rel_path(s, i * step + i % s.per_folder) for i in range(n)]


def rewrite(ctx: RunCtx, rels: list[str]) -> None:
    """New bytes, same size: only content and the stat stamp tell the change."""
    for rel in rels:
        path = ctx.repo / rel
        path.write_bytes(bytes(b ^ 0x5A for b in path.read_bytes()))


# -- setup ------------------------------------------------------------------------------------


def repo_with_s1(ctx: RunCtx) -> None:
    fresh_repo(ctx)
    copy_tree(dataset(ctx), ctx.repo)


def change_one(ctx: RunCtx) -> None:
    ctx.state["pointer_before"] = (ctx.repo / f"data{ctx.tool.pointer_suffix}").read_bytes()
    rewrite(ctx, changed_files(shape(ctx.data.scale.name), 1))


def change_ten_and_commit(ctx: RunCtx) -> None:
    rewrite(ctx, changed_files(shape(ctx.data.scale.name), DIFF_CHANGED))
    tool_step("add", "data")(ctx)
    commit("ten files changed")(ctx)


ADDED = then(repo_with_s1, tool_step("add", "data"), commit("data"))

# -- checks -----------------------------------------------------------------------------------


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
    want = sorted(changed_files(shape(ctx.data.scale.name), DIFF_CHANGED))
    return None if got == want else f"diff lists {len(got)} changes, expected the {DIFF_CHANGED} rewritten files"


def data_restored(ctx: RunCtx) -> str | None:
    """Every file back, with the right size; every 1,000th compared byte for byte."""
    src, dest = dataset(ctx) / "data", ctx.cwd / "data"
    count = 0
    for dirpath, _dirs, names in os.walk(src):
        for name in names:
            a = os.path.join(dirpath, name)
            b = os.path.join(dest, os.path.relpath(a, src))
            try:
                if os.stat(b).st_size != os.stat(a).st_size:
                    return f"{b} has the wrong size"
            except FileNotFoundError:
                return f"{os.path.relpath(b, ctx.cwd)} was not restored"
            if count % 1000 == 0 and Path(a).read_bytes() != Path(b).read_bytes():
                return f"{os.path.relpath(b, ctx.cwd)} has the wrong bytes"
            count += 1
    have = sum(len(names) for _d, _s, names in os.walk(dest))
    return None if have == count else f"data/ has {have} files, expected {count}"


# -- the workloads ----------------------------------------------------------------------------

SCALES = frozenset({"full", "quick", "smoke"})
NOT_AT_SMOKE = frozenset({"smoke"})  # the smoke run checks the harness: cairn alone, in seconds
FULL = frozenset({"full"})
COMMON = dict(max_runs=1, warmup=False, dvc_skipped=NOT_AT_SMOKE, scales=SCALES)


def _target(limit: float, what: str) -> Target:
    # judged only when the run has the million files (`--s1 200k` at full scale is not)
    return Target(limit, f"{what}, 1,000,000 files", FULL, at_size=lambda: shape("full").files == SIZES["1m"])


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "S1-add",
        "S1: add the files",
        repo_with_s1,
        lambda c: c.tool.argv("add", "data"),
        (*BASE, "add"),
        pointer_exists("data"),
        target=_target(60.0, "`add data`"),
        notes="Fresh repo, the S1 set copied in (cache.type copy).",
        **COMMON,
    ),
    Workload(
        "S1-status",
        "S1: status, nothing changed",
        ADDED,
        lambda c: c.tool.argv("status"),
        (*BASE, "add", "status"),
        status_clean,
        target=_target(3.0, "`status`"),
        **COMMON,
    ),
    Workload(
        "S1-readd",
        "S1: re-add after one file changed",
        then(ADDED, change_one),
        lambda c: c.tool.argv("add", "data"),
        (*BASE, "add"),
        pointer_changed,
        target=_target(3.0, "`add data` after one change"),
        **COMMON,
    ),
    Workload(
        "S1-diff",
        "S1: diff of two versions, 10 files apart",
        then(ADDED, change_ten_and_commit),
        lambda c: c.tool.argv("diff", "HEAD~1", "HEAD", "--json"),
        (*BASE, "add", "diff"),
        diff_lists_ten,
        target=_target(1.0, "`diff HEAD~1 HEAD`"),
        notes="Ten files rewritten (one per folder), added and committed; checked: the ten are listed.",
        **COMMON,
    ),
    Workload(
        "S1-push-local",
        "S1: push to a local folder remote",
        then(repo_with_s1, tool_step("add", "data"), local_remote, commit("data")),
        lambda c: c.tool.argv("push"),
        (*BASE, "add", "remote add", "push"),
        local_remote_filled,
        target=_target(60.0, "`push` to a local folder"),
        **COMMON,
    ),
    Workload(
        "S1-push-again",
        "S1: push after 10 files changed, to a local folder holding the rest",
        then(
            repo_with_s1,
            tool_step("add", "data"),
            local_remote,
            commit("data"),
            tool_step("push"),
            change_ten_and_commit,
        ),
        lambda c: c.tool.argv("push"),
        (*BASE, "add", "remote add", "push"),
        local_remote_filled,
        notes="The remote's index already holds every object: the push walks all trees, sends the 10 "
        "files and their trees, and adds their rows to a large index.",
        **COMMON,
    ),
    Workload(
        "S1-push-s3",
        "S1: push to S3 (moto)",
        then(repo_with_s1, tool_step("add", "data"), s3_remote, commit("data")),
        lambda c: c.tool.argv("push"),
        (*BASE, "add", "remote add", "remote modify", "push"),
        s3_filled,
        s3=True,
        target=_target(120.0, "`push` to S3 (moto)"),
        **COMMON,
    ),
    Workload(
        "S1-checkout",
        "S1: checkout into an empty folder",
        then(ADDED, delete_data),
        lambda c: c.tool.argv("checkout"),
        (*BASE, "add", "checkout"),
        data_restored,
        target=_target(90.0, "`checkout`"),
        **COMMON,
    ),
)
