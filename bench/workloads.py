"""The workloads W1-W14 and W20, each a small declarative definition (W15-W19, the absolute targets,
are in target_workloads.py; catalog.py lists them all).

A workload is: an untimed `setup` that builds a fresh repo for one tool in `ctx.run_dir`
(fresh `git init` + tool init + data copied in, so no run benefits from an earlier one), the
timed `command` (same arguments for both tools, run in `ctx.cwd`), an untimed `verify` that checks
the tool really did the work, the cairn subcommands it needs (probed with `cairn <cmd> --help`)
and notes for RESULTS.md. An optional `floor` is a plain command timed in the same alternation
(W5: `cp`). Standard library only.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from datasets import Datasets
from tools import Tool, commit_all, run_checked


@dataclass
class RunCtx:
    """Everything one run (one tool, one repetition) of a workload sees."""

    tool: Tool
    data: Datasets
    run_dir: Path  # empty when setup starts; deleted after the run
    env: dict[str, str]
    log: Path
    stdout: Path  # the timed command's stdout
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    cwd: Path = Path()
    state: dict[str, object] = field(default_factory=dict)

    @property
    def repo(self) -> Path:
        return self.run_dir / "repo"

    def sh(self, argv: list[str], cwd: Path | None = None) -> str:
        return run_checked(argv, cwd=cwd or self.repo, env=self.env, log=self.log)

    def tool_sh(self, *args: str, cwd: Path | None = None) -> str:
        return self.sh(self.tool.argv(*args), cwd=cwd)


Step = Callable[[RunCtx], None]
Check = Callable[[RunCtx], str | None]  # None: fine; otherwise what is wrong


@dataclass(frozen=True)
class Target:
    """An absolute target for cairn's median wall time ("under 1.5 s"), judged only at the scales
    where the workload has the size the target is stated for."""

    limit_s: float
    what: str  # e.g. "four `sleep 1` stages with `-j 4`"
    scales: frozenset[str] = frozenset({"full", "quick"})
    # For sizes chosen at run time (S1's --s1): whether this run has the target's size.
    at_size: Callable[[], bool] | None = None

    def judged_at(self, scale: str) -> bool:
        return scale in self.scales and (self.at_size is None or self.at_size())


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    setup: Step
    command: Callable[[RunCtx], list[str]]
    cairn_commands: tuple[str, ...]
    verify: Check | None = None
    notes: str = ""
    datasets: frozenset[str] = frozenset()  # of small, big, chain, huge
    s3: bool = False
    scales: frozenset[str] = frozenset({"full", "quick", "smoke"})
    max_runs: int | None = None
    warmup: bool = True
    floor_setup: Step | None = None
    floor_command: Callable[[RunCtx], list[str]] | None = None
    floor_name: str = ""
    target: Target | None = None
    floor_target: float | None = None  # the most cairn's median may be, as a multiple of the floor's
    settle_s: float = 0.0  # idle time after the setup's sync, before the timed command (see README)
    dvc_skipped: frozenset[str] = frozenset()  # scales where DVC is not run (the notes say why)
    # Continuing a sequence (S1 at a million files, where a setup from scratch takes many minutes):
    # when the workload `after` ran just before in the same bench run, its run folder, left as its
    # timed command and check left it, is this workload's start and only `step` runs as the setup;
    # otherwise (not selected) the full `setup` does. One run, no warm-up (the state is used up).
    after: str | None = None
    step: Step | None = None
    # (step name, files): a row of the growth table of a workload run at several sizes (S1)
    growth: tuple[str, int] | None = None


# -- setup building blocks --------------------------------------------------------------------


def copy_tree(src: Path, dest: Path) -> None:
    """Copy real bytes (never links: a tool that chmods or links its inputs must not touch the
    generated dataset)."""
    subprocess.run(["cp", "-r", "--reflink=never", f"{src}/.", str(dest)], check=True)


def fresh_repo(ctx: RunCtx, cache_type: str = "copy") -> None:
    ctx.tool.init(ctx.repo, ctx.env, ctx.log, cache_type)
    ctx.cwd = ctx.repo


def repo_with(source: Callable[[Datasets], Path], cache_type: str = "copy") -> Step:
    def step(ctx: RunCtx) -> None:
        fresh_repo(ctx, cache_type)
        copy_tree(source(ctx.data), ctx.repo)

    return step


def then(*steps: Step) -> Step:
    def step(ctx: RunCtx) -> None:
        for s in steps:
            s(ctx)

    return step


def tool_step(*args: str) -> Step:
    def step(ctx: RunCtx) -> None:
        ctx.tool_sh(*args, cwd=ctx.cwd)

    return step


def commit(message: str) -> Step:
    def step(ctx: RunCtx) -> None:
        commit_all(ctx.cwd, ctx.env, ctx.log, message)

    return step


def local_remote(ctx: RunCtx) -> None:
    remote = ctx.run_dir / "remote"
    remote.mkdir()
    ctx.tool.add_remote(ctx.repo, ctx.env, ctx.log, str(remote))


def s3_remote(ctx: RunCtx) -> None:
    assert ctx.s3_endpoint and ctx.s3_bucket
    ctx.tool.add_remote(ctx.repo, ctx.env, ctx.log, f"s3://{ctx.s3_bucket}/{ctx.tool.name}", ctx.s3_endpoint)


def change_one_file(ctx: RunCtx) -> None:
    """Same size, new bytes (so only content and mtime tell the change)."""
    path = ctx.repo / ctx.data.changed_file
    ctx.state["pointer_before"] = (ctx.repo / f"data{ctx.tool.pointer_suffix}").read_bytes()
    path.write_bytes(bytes(b ^ 0xFF for b in path.read_bytes()))


def delete_data(ctx: RunCtx) -> None:
    shutil.rmtree(ctx.repo / "data")


def clone_for_pull(ctx: RunCtx) -> None:
    """A fresh `git clone` of the pushed repo (empty cache), with the uncommitted local config
    (if the tool wrote one) copied over as a user would set it up."""
    clone = ctx.run_dir / "clone"
    ctx.sh(["git", "clone", "-q", str(ctx.repo), str(clone)], cwd=ctx.run_dir)
    local = ctx.repo / ctx.tool.local_config
    if local.exists():
        shutil.copy2(local, clone / ctx.tool.local_config)
    ctx.cwd = clone


def write_pipeline(ctx: RunCtx) -> None:
    (ctx.repo / ctx.tool.pipeline_file).write_text(datasets.pipeline_yaml(ctx.data.scale.chain_stages))


def big_repo(cache_type: str) -> Step:
    return repo_with(lambda d: d.big, cache_type)


def floor_dir(ctx: RunCtx) -> None:
    ctx.repo.mkdir()
    ctx.cwd = ctx.repo


def floor_big(ctx: RunCtx) -> None:
    ctx.repo.mkdir()
    copy_tree(ctx.data.big, ctx.repo)
    ctx.cwd = ctx.repo


def floor_big_and_folder(ctx: RunCtx) -> None:
    floor_big(ctx)
    (ctx.run_dir / "remote").mkdir()


# -- checks -----------------------------------------------------------------------------------


def pointer_exists(name: str) -> Check:
    def check(ctx: RunCtx) -> str | None:
        pointer = ctx.cwd / f"{name}{ctx.tool.pointer_suffix}"
        return None if pointer.is_file() else f"{pointer.name} was not written"

    return check


def pointer_changed(ctx: RunCtx) -> str | None:
    pointer = ctx.repo / f"data{ctx.tool.pointer_suffix}"
    if pointer.read_bytes() == ctx.state["pointer_before"]:
        return f"{pointer.name} did not change after one file changed"
    return None


def data_matches(ctx: RunCtx) -> str | None:
    """Every generated file is back in ctx.cwd/data with the same bytes."""
    src, dest = ctx.data.small / "data", ctx.cwd / "data"
    if not dest.is_dir():
        return "data/ was not restored"
    want = sorted(p.relative_to(src) for p in src.rglob("*") if p.is_file())
    have = sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())
    if want != have:
        return f"data/ has {len(have)} files, expected {len(want)}"
    bad = [p for p in want[:: max(1, len(want) // 200)] if not filecmp.cmp(src / p, dest / p, shallow=False)]
    return f"{len(bad)} sampled files differ, e.g. {bad[0]}" if bad else None


def big_linked(nlink: int) -> Check:
    def check(ctx: RunCtx) -> str | None:
        missing = pointer_exists("big.bin")(ctx)
        if missing:
            return missing
        have = (ctx.repo / "big.bin").stat().st_nlink
        return None if have == nlink else f"big.bin has {have} links, expected {nlink} (cache.type)"

    return check


def local_remote_filled(ctx: RunCtx) -> str | None:
    remote = ctx.run_dir / "remote"
    return None if any(p.is_file() for p in remote.rglob("*")) else "the local remote is empty"


def s3_filled(ctx: RunCtx) -> str | None:
    url = f"{ctx.s3_endpoint}/{ctx.s3_bucket}?list-type=2&max-keys=1&prefix={ctx.tool.name}/"
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read().decode()
    return None if "<Key>" in body else "nothing was pushed to the S3 bucket"


def last_stage_done(ctx: RunCtx) -> str | None:
    stages = ctx.data.scale.chain_stages
    out = ctx.repo / f"{datasets.stage_name(stages)}.txt"
    if not out.is_file() or not filecmp.cmp(out, ctx.repo / "s00.txt", shallow=False):
        return f"{out.name} is missing or wrong"
    return None


def stale_stages(ctx: RunCtx) -> set[str]:
    """The stages the tool's `status --json` calls stale (cairn: under "stages"; DVC: the keys)."""
    report = json.loads(ctx.tool_sh("status", "--json"))
    return set(report["stages"] if ctx.tool.name == "cairn" else report)


def pipeline_status_right(ctx: RunCtx) -> str | None:
    """Nothing stale after the repro; then, with the last stage's param changed, that stage and
    only it is stale (so the timed `status` did look at the pipeline, as DVC's does)."""
    stages = ctx.data.scale.chain_stages
    stale = stale_stages(ctx)
    if stale:
        return f"status calls {', '.join(sorted(stale))} stale right after repro"
    last = datasets.stage_name(stages)
    (ctx.repo / "params.yaml").write_text(datasets.params_yaml(stages, {datasets.param_name(stages): 2}))
    stale = stale_stages(ctx)
    if stale != {last}:
        return f"with chain.{datasets.param_name(stages)} changed, status calls {sorted(stale)} stale, not [{last!r}]"
    return None


def json_output(ctx: RunCtx) -> str | None:
    try:
        json.loads(ctx.stdout.read_text())
    except ValueError as exc:
        return f"stdout is not JSON ({exc})"
    return None


# -- the workloads ----------------------------------------------------------------------------


def _small(d: Datasets) -> Path:
    return d.small


def _huge(d: Datasets) -> Path:
    return d.huge


def _chain(d: Datasets) -> Path:
    return d.chain


SMALL = frozenset({"small"})
CHAIN = frozenset({"chain"})
BASE = ("init", "config")
PIPE = then(repo_with(_chain), write_pipeline, commit("pipeline"))
EXP_ARG = ("exp", "run", "-S", f"chain.{datasets.param_name(1)}=2")

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W1",
        "add the small files",
        repo_with(_small),
        lambda c: c.tool.argv("add", "data"),
        (*BASE, "add"),
        pointer_exists("data"),
        datasets=SMALL,
    ),
    Workload(
        "W2",
        "status, nothing changed",
        then(repo_with(_small), tool_step("add", "data"), commit("data")),
        lambda c: c.tool.argv("status"),
        (*BASE, "add", "status"),
        datasets=SMALL,
        notes="`cairn status` vs `dvc status`, right after `add` + `git commit`.",
    ),
    Workload(
        "W3",
        "re-add after one file changed",
        then(repo_with(_small), tool_step("add", "data"), commit("data"), change_one_file),
        lambda c: c.tool.argv("add", "data"),
        (*BASE, "add"),
        pointer_changed,
        datasets=SMALL,
        notes="One file rewritten with new bytes of the same size.",
    ),
    Workload(
        "W4",
        "checkout into an empty folder",
        then(repo_with(_small), tool_step("add", "data"), commit("data"), delete_data),
        lambda c: c.tool.argv("checkout"),
        (*BASE, "add", "checkout"),
        data_matches,
        datasets=SMALL,
        floor_setup=floor_dir,
        floor_command=lambda c: ["cp", "-r", "--reflink=never", str(c.data.small / "data"), "data"],
        floor_name="`cp -r data` (floor)",
        notes="data/ deleted after `add`; cache.type copy for both. Floor: `cp -r` of the same files.",
    ),
    Workload(
        "W5-copy",
        "add the big file, cache.type copy",
        big_repo("copy"),
        lambda c: c.tool.argv("add", "big.bin"),
        (*BASE, "add"),
        big_linked(1),
        datasets=frozenset({"big"}),
        floor_setup=floor_big,
        floor_command=lambda c: ["cp", "--reflink=never", "big.bin", "big.copy"],
        floor_name="`cp big.bin` (floor)",
        floor_target=1.15,
        settle_s=15.0,
        notes="Floor: a plain `cp` of the same file on the same file system (target: cairn <= 1.15x). "
        "Every side idles 15 s after the setup's sync (see bench/README.md, Method).",
    ),
    Workload(
        "W5-hardlink",
        "add the big file, cache.type hardlink",
        big_repo("hardlink"),
        lambda c: c.tool.argv("add", "big.bin"),
        (*BASE, "add"),
        big_linked(2),
        datasets=frozenset({"big"}),
        notes="Verified: big.bin ends with 2 links (workspace + cache) for both tools.",
    ),
    Workload(
        "W6",
        "push to a local folder remote",
        then(repo_with(_small), tool_step("add", "data"), local_remote, commit("data")),
        lambda c: c.tool.argv("push"),
        (*BASE, "add", "remote add", "push"),
        local_remote_filled,
        datasets=SMALL,
    ),
    Workload(
        "W7",
        "push to S3 (moto)",
        then(repo_with(_small), tool_step("add", "data"), s3_remote, commit("data")),
        lambda c: c.tool.argv("push"),
        (*BASE, "add", "remote add", "remote modify", "push"),
        s3_filled,
        datasets=SMALL,
        s3=True,
        notes="moto server on 127.0.0.1, emptied before every run.",
    ),
    Workload(
        "W8",
        "pull from S3 into a fresh clone",
        then(repo_with(_small), tool_step("add", "data"), s3_remote, commit("data"), tool_step("push"), clone_for_pull),
        lambda c: c.tool.argv("pull"),
        (*BASE, "add", "remote add", "remote modify", "push", "pull"),
        data_matches,
        datasets=SMALL,
        s3=True,
        notes="`git clone` of the pushed repo, empty cache.",
    ),
    Workload(
        "W9",
        "push with nothing to do (S3)",
        then(repo_with(_small), tool_step("add", "data"), s3_remote, commit("data"), tool_step("push")),
        lambda c: c.tool.argv("push"),
        (*BASE, "add", "remote add", "remote modify", "push"),
        datasets=SMALL,
        s3=True,
    ),
    Workload(
        "W10",
        "first repro of the chain",
        PIPE,
        lambda c: c.tool.argv("repro"),
        (*BASE, "repro"),
        last_stage_done,
        datasets=CHAIN,
        notes="A chain of `cp` stages, each with one param from params.yaml.",
    ),
    Workload(
        "W11",
        "repro with nothing to do",
        then(PIPE, tool_step("repro"), commit("lock")),
        lambda c: c.tool.argv("repro"),
        (*BASE, "repro"),
        last_stage_done,
        datasets=CHAIN,
    ),
    Workload(
        "W12",
        "exp run, one param changed",
        then(PIPE, tool_step("repro"), commit("lock")),
        lambda c: c.tool.argv(*EXP_ARG),
        (*BASE, "repro", "exp run"),
        datasets=CHAIN,
        notes="`exp run -S chain.p01=2`: stage s01 reruns; its output is unchanged, so later "
        "stages may be skipped. Each tool's default exp mode (DVC: in the workspace).",
    ),
    Workload(
        "W13",
        "exp show (2 experiments)",
        then(
            PIPE,
            tool_step("repro"),
            commit("lock"),
            tool_step(*EXP_ARG),
            tool_step(*EXP_ARG[:3], f"chain.{datasets.param_name(1)}=3"),
        ),
        lambda c: c.tool.argv("exp", "show", "--json"),
        (*BASE, "repro", "exp run", "exp show"),
        json_output,
        datasets=CHAIN,
        notes="`exp show --json`, output checked to be JSON.",
    ),
    Workload(
        "W14",
        "add the huge set (scaling)",
        repo_with(_huge),
        lambda c: c.tool.argv("add", "data"),
        (*BASE, "add"),
        pointer_exists("data"),
        datasets=frozenset({"huge"}),
        scales=frozenset({"full"}),
        max_runs=3,
        warmup=False,
        notes="Full scale only; at most 3 runs, no warm-up. Scaling = time(W14)/time(W1).",
    ),
    Workload(
        "W21",
        "push the big file to a local folder remote",
        then(big_repo("copy"), tool_step("add", "big.bin"), local_remote, commit("data")),
        lambda c: c.tool.argv("push"),
        (*BASE, "add", "remote add", "push"),
        local_remote_filled,
        datasets=frozenset({"big"}),
        floor_setup=floor_big_and_folder,
        floor_command=lambda c: ["cp", "--reflink=never", "big.bin", str(c.run_dir / "remote" / "big.bin")],
        floor_name="`cp big.bin` into another folder (floor)",
        floor_target=1.25,
        settle_s=15.0,
        notes="Issue 5: a 2 GiB file pushed to a local folder at no less than 80% of `cp` speed, i.e. "
        "cairn <= 1.25x the floor. Every side idles 15 s after the setup's sync.",
    ),
    Workload(
        "W20",
        "status of the chain, nothing to do",
        then(PIPE, tool_step("repro"), commit("lock")),
        lambda c: c.tool.argv("status"),
        (*BASE, "repro", "status"),
        pipeline_status_right,
        datasets=CHAIN,
        notes="`status` after `repro` + commit of W10's chain (target: DVC/cairn >= 5x). cairn's `status` "
        "checks the pipeline's stages as well as the tracked data, as `dvc status` does; both have no "
        "tracked data outside the pipeline here. Checked after the timing: `status --json` calls no "
        "stage stale, and only the last stage once its param is changed.",
    ),
    Workload(
        "W43",
        "pull from a local folder remote into a fresh clone",
        then(
            repo_with(_small), tool_step("add", "data"), local_remote, commit("data"), tool_step("push"), clone_for_pull
        ),
        lambda c: c.tool.argv("pull"),
        (*BASE, "add", "remote add", "push", "pull"),
        data_matches,
        datasets=SMALL,
        scales=frozenset({"full", "quick"}),
        notes="W8 from W6's local folder remote, so the peers without S3 can run it. Not at smoke scale.",
    ),
)
