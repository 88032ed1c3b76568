"""W22-W23: merging two branches of a 100,000-file folder with cairn's git merge driver (issue 26).

Both branches start from one commit of `data/` (100,000 files in 100 folders) and each rewrites
1,000 different files (every 100th file on ours, the ones half-way between on theirs), so every
folder differs on both sides and the merge has to descend into each of them. W22 times `git merge`
of the other branch (the driver merges data.cairn; its own time is taken from git's trace2 events
and printed); W23 times the `cairn checkout` after that merge and checks that it rewrote the 1,000
files that came from the other branch and no other file (inode and mtime of every file).

cairn only: DVC has no merge driver that merges a folder's versions file by file (its
`dvc git-hook merge-driver` only unions folders where both sides added files, and it cannot be
timed on the same changes), so its side is reported as not run. Standard library only.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from datasets import SEED
from workloads import BASE, RunCtx, Target, Workload, commit, fresh_repo, then

BRANCH = "theirs"
MIN_SIZE, MAX_SIZE = 64, 1024  # the merge is about the listing, not the bytes


@dataclass(frozen=True)
class Sizes:
    files: int
    folders: int
    changed: int  # files rewritten on each side

    @property
    def step(self) -> int:
        return self.files // self.changed


SIZES = {
    "full": Sizes(100_000, 100, 1_000),
    "quick": Sizes(10_000, 10, 100),
    "smoke": Sizes(500, 5, 10),
}


def describe(scale: str) -> str:
    z = SIZES[scale]
    return f"W22-W23 {z.files:,} files, {z.changed:,} changed on each side"


def sizes(ctx: RunCtx) -> Sizes:
    return SIZES[ctx.data.scale.name]


def _path(z: Sizes, i: int) -> Path:
    per_folder = -(-z.files // z.folders)
    return Path("data") / f"d{i // per_folder:02d}" / f"f{i:06d}.bin"


def _ours(z: Sizes) -> range:
    return range(0, z.files, z.step)


def _theirs(z: Sizes) -> range:
    return range(z.step // 2, z.files, z.step)


def _write(repo: Path, z: Sizes, indexes: range, version: str) -> None:
    rng = random.Random(f"{SEED}:merge:{version}")
    for i in indexes:
        path = repo / _path(z, i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(MIN_SIZE, MAX_SIZE)))


# -- setup ------------------------------------------------------------------------------------


def two_branches(ctx: RunCtx) -> None:
    """A base commit of data/ (with the merge driver set up), branch `theirs` rewriting its
    files, then main rewriting its own; the workspace ends on main, checked out."""
    z = sizes(ctx)
    fresh_repo(ctx)
    ctx.tool_sh("merge", "setup")
    _write(ctx.repo, z, range(z.files), "base")
    ctx.tool_sh("add", "data")
    commit("base")(ctx)
    ctx.sh(["git", "checkout", "-q", "-b", BRANCH])
    _write(ctx.repo, z, _theirs(z), BRANCH)
    ctx.tool_sh("add", "data")
    commit(f"{BRANCH}: {z.changed} files")(ctx)
    ctx.sh(["git", "checkout", "-q", "main"])
    ctx.tool_sh("checkout")
    _write(ctx.repo, z, _ours(z), "ours")
    ctx.tool_sh("add", "data")
    commit(f"ours: {z.changed} files")(ctx)


def trace_driver(ctx: RunCtx) -> None:
    """git writes its trace2 events (each child process with its run time) for the timed merge."""
    trace = ctx.log.with_suffix(".trace2.json")
    trace.unlink(missing_ok=True)
    ctx.env = {**ctx.env, "GIT_TRACE2_EVENT": str(trace)}
    ctx.state["trace"] = trace


def merged(ctx: RunCtx) -> None:
    ctx.sh(MERGE)
    ctx.state["before"] = _stats(ctx.repo)


def _stats(repo: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every file under data/: a rewrite changes one or both."""
    out = {}
    for dirpath, _dirs, names in os.walk(repo / "data"):
        for name in names:
            st = os.stat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), repo)] = (st.st_ino, st.st_mtime_ns)
    return out


MERGE = ["git", "merge", "--no-edit", "-q", BRANCH]

# -- checks -----------------------------------------------------------------------------------


def merge_right(ctx: RunCtx) -> str | None:
    """A merge commit whose data.cairn holds both sides' files; prints the driver's own time."""
    z = sizes(ctx)
    ctx.env.pop("GIT_TRACE2_EVENT", None)  # the checks' own git runs are not the merge's
    parents = ctx.sh(["git", "rev-list", "--parents", "-n", "1", "HEAD"]).split()
    if len(parents) != 3:
        return "HEAD is not a merge commit"
    for rev, side in (("HEAD^1", _theirs(z)), ("HEAD^2", _ours(z))):
        report = json.loads(ctx.tool_sh("diff", rev, "HEAD", "--json"))
        got = sorted(c["path"] for c in report["changes"])
        want = sorted(_path(z, i).as_posix() for i in side)
        if got != want or report["counts"]["modified"] != z.changed:
            return f"`cairn diff {rev} HEAD` lists {len(got)} changes, expected the {z.changed} of the other side"
    driver = _driver_seconds(ctx.state["trace"])
    if driver:
        print(f"[bench]   the merge driver ran {len(driver)} time(s): {', '.join(f'{s:.3f} s' for s in driver)}")
        ctx.state["driver_s"] = driver
    return None


def _driver_seconds(trace: object) -> list[float]:
    """Run time of each merge driver git started (trace2 child_exit t_rel of a `cairn` child)."""
    if not isinstance(trace, Path) or not trace.exists():
        return []
    started: set[tuple[str, int]] = set()  # (process, child): each git numbers its children
    seconds = []
    for line in trace.read_text().splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "child_start" and "cairn" in " ".join(ev.get("argv") or []):
            started.add((ev.get("sid"), ev["child_id"]))
        elif ev.get("event") == "child_exit" and (ev.get("sid"), ev.get("child_id")) in started:
            seconds.append(float(ev["t_rel"]))
    return seconds


def checkout_touched_only_theirs(ctx: RunCtx) -> str | None:
    z = sizes(ctx)
    want = {_path(z, i).as_posix() for i in _theirs(z)}
    report = json.loads(ctx.stdout.read_text())
    written = sum(len(r["written"]) for r in report)
    before, after = ctx.state["before"], _stats(ctx.repo)
    if set(after) != set(before):
        return f"checkout changed the file list of data/ ({len(after)} files, {len(before)} before)"
    touched = {p for p, s in after.items() if s != before[p]}
    if touched != want:
        extra, missing = len(touched - want), len(want - touched)
        return f"checkout rewrote {len(touched)} files: {extra} not from the other side, {missing} of it left alone"
    if written != z.changed:
        return f"checkout --json reports {written} files written, expected {z.changed}"
    status = json.loads(ctx.tool_sh("status", "--json"))
    if status["changed"]:
        return "`cairn status` reports changes after the checkout"
    return None


# -- the workloads ----------------------------------------------------------------------------

ALL_SCALES = frozenset({"full", "quick", "smoke"})
COMMANDS = (*BASE, "add", "checkout", "diff", "status", "merge setup", "merge driver")
NOT_DVC = (
    "cairn only: DVC has no merge driver that merges a folder's versions file by file "
    "(`dvc git-hook merge-driver` only unions folders where both sides added files)."
)

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W22",
        "git merge of two branches of a 100k-file folder",
        then(two_branches, trace_driver),
        lambda c: MERGE,
        COMMANDS,
        merge_right,
        target=Target(1.0, "`git merge` with the driver, 1,000 changed files a side in 100,000", frozenset({"full"})),
        dvc_skipped=ALL_SCALES,
        max_runs=3,
        notes="100,000 files in 100 folders (quick: 10,000; smoke: 500), 1,000 rewritten on each "
        "branch (quick: 100; smoke: 10), every 100th file on one side and those half-way between on "
        "the other, so every folder differs on both sides. Timed: the whole `git merge` (git, the "
        "driver's process start and the tree merge); the driver's own time (git trace2) is printed. "
        "Checked: a merge commit whose data.cairn differs from each parent by the other side's "
        "files (`cairn diff --json`). " + NOT_DVC,
    ),
    Workload(
        "W23",
        "checkout after that merge",
        then(two_branches, merged),
        lambda c: c.tool.argv("checkout", "--json"),
        COMMANDS,
        checkout_touched_only_theirs,
        dvc_skipped=ALL_SCALES,
        max_runs=3,
        notes="W22's repo after its `git merge`; timed: `cairn checkout`. Checked: exactly the "
        "1,000 files that came from the other branch have a new inode or mtime (every file of "
        "data/ is stat-ed before and after), `checkout --json` reports 1,000 written, and "
        "`cairn status` is clean afterwards. " + NOT_DVC,
    ),
)
