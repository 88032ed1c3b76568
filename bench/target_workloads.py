"""W15-W19: the performance targets stated in absolute terms ("under 1 s"), not as a ratio to DVC.

Each is timed for both tools like W1-W14 (DVC's numbers are there for comparison; where DVC cannot
do the same thing, the note says what it does instead) and RESULTS.md says whether cairn's median
meets the target. At quick scale they have their full size (they are cheap, except building 500
DVC experiments for W18, which only full scale does); smoke shrinks them and judges no target.
Standard library only.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import datasets
from workloads import BASE, RunCtx, Step, Target, Workload, commit, fresh_repo, then, tool_step


@dataclass(frozen=True)
class Sizes:
    stage_sleep: str  # W15: `sleep` of each of the four stages
    graph_stages: int  # W16
    queued: int  # W17: experiments queued
    queued_sleep: str  # W17: `sleep` of their one stage
    shown: int  # W18: experiments `exp show` lists
    commits: int  # W19: commits with metrics


FULL = Sizes(stage_sleep="1", graph_stages=500, queued=8, queued_sleep="2", shown=500, commits=50)
SIZES = {
    "full": FULL,
    "quick": FULL,
    "smoke": Sizes(stage_sleep="0.1", graph_stages=20, queued=2, queued_sleep="0.1", shown=3, commits=5),
}
PARALLEL = 4
EXP_PARAMS = "train:\n  p: 1\n"


def describe(scale: str) -> str:
    z = SIZES[scale]
    return (
        f"W15 {PARALLEL} stages of `sleep {z.stage_sleep}`, W16 {z.graph_stages} stages, "
        f"W17 {z.queued} experiments of `sleep {z.queued_sleep}`, W18 {z.shown} experiments, W19 {z.commits} commits"
    )


def sizes(ctx: RunCtx) -> Sizes:
    return SIZES[ctx.data.scale.name]


def lock_file(ctx: RunCtx) -> Path:
    return ctx.repo / ctx.tool.pipeline_file.replace(".yaml", ".lock")


# -- setup ------------------------------------------------------------------------------------


def parallel_pipeline(ctx: RunCtx) -> None:
    """Four stages that depend on nothing and on each other not at all."""
    lines = ["stages:"]
    for i in range(1, PARALLEL + 1):
        cmd = f"sleep {sizes(ctx).stage_sleep} && echo {i} > o{i}.txt"
        lines += [f"  w{i}:", f"    cmd: {cmd}", "    outs:", f"    - o{i}.txt"]
    (ctx.repo / ctx.tool.pipeline_file).write_text("\n".join(lines) + "\n")


def graph_repo(ctx: RunCtx) -> None:
    """The chain of W10 with graph_stages stages, committed and never run; every stage's file is in
    the workspace (untracked), since `dvc repro --dry` stops at the first missing intermediate dep."""
    n = sizes(ctx).graph_stages
    fresh_repo(ctx)
    (ctx.repo / "params.yaml").write_text(datasets.params_yaml(n))
    (ctx.repo / ctx.tool.pipeline_file).write_text(datasets.pipeline_yaml(n))
    first = ctx.repo / "s00.txt"
    first.write_text("the chain's input\n")
    commit("pipeline")(ctx)
    for i in range(1, n + 1):
        (ctx.repo / f"{datasets.stage_name(i)}.txt").write_bytes(first.read_bytes())


def exp_pipeline(sleep: bool) -> Step:
    """One stage (first sleeping `queued_sleep` s if SLEEP) whose metrics are its params, so every
    experiment's differ."""

    def step(ctx: RunCtx) -> None:
        cmd = (f"sleep {sizes(ctx).queued_sleep} && " if sleep else "") + "cp params.yaml metrics.yaml"
        text = (
            f"stages:\n  train:\n    cmd: {cmd}\n    params:\n    - train.p\n"
            "    metrics:\n    - metrics.yaml:\n        cache: false\n"
        )
        (ctx.repo / ctx.tool.pipeline_file).write_text(text)
        (ctx.repo / "params.yaml").write_text(EXP_PARAMS)

    return step


def queue_experiments(ctx: RunCtx) -> None:
    for i in range(2, sizes(ctx).queued + 2):
        ctx.tool_sh("exp", "run", "--queue", "-S", f"train.p={i}")


def run_experiments(ctx: RunCtx) -> None:
    for i in range(2, sizes(ctx).shown + 2):
        ctx.tool_sh("exp", "run", "-S", f"train.p={i}")


def prebuilt(name: str, build: Step) -> Step:
    """BUILD once per tool per bench run (in the first run), then a copy (`cp -a`) for every run:
    for a read-only command on a repo that takes minutes to make. Kept under WORK/runs/prebuilt/,
    which the next bench run deletes."""

    def step(ctx: RunCtx) -> None:
        saved = ctx.run_dir.parent / "prebuilt" / f"{name}-{ctx.tool.name}"
        if saved.is_dir():
            subprocess.run(["cp", "-a", "--reflink=never", str(saved), str(ctx.repo)], check=True)
        else:
            build(ctx)
            saved.parent.mkdir(parents=True, exist_ok=True)
            tmp = saved.with_name(saved.name + ".tmp")  # no half copy is ever taken for a whole one
            subprocess.run(["cp", "-a", "--reflink=never", str(ctx.repo), str(tmp)], check=True)
            tmp.rename(saved)
        ctx.cwd = ctx.repo

    return step


def metrics_history(ctx: RunCtx) -> None:
    """`commits` commits, each changing metrics.json and tagged (cairn's -A reads every branch and
    tag, DVC's -A every commit: with a tag on each, both read the same commits)."""
    fresh_repo(ctx)
    (ctx.repo / ctx.tool.pipeline_file).write_text("metrics:\n- metrics.json\n")
    for i in range(1, sizes(ctx).commits + 1):
        (ctx.repo / "metrics.json").write_text(json.dumps({"step": i, "acc": round(0.5 + i / 1000, 3)}) + "\n")
        commit(f"metrics {i}")(ctx)
        ctx.sh(["git", "tag", f"v{i:03d}"])


# -- checks -----------------------------------------------------------------------------------


def outputs_written(ctx: RunCtx) -> str | None:
    missing = [f"o{i}.txt" for i in range(1, PARALLEL + 1) if not (ctx.repo / f"o{i}.txt").is_file()]
    return f"not written: {', '.join(missing)}" if missing else None


def planned_all(ctx: RunCtx) -> str | None:
    last = datasets.stage_name(sizes(ctx).graph_stages)
    if lock_file(ctx).exists():
        return f"{lock_file(ctx).name} was written by a dry run"
    if not re.search(rf"\b{last}\b", ctx.stdout.read_text(errors="replace")):
        return f"the dry run's output does not name the last stage {last}"
    return None


def experiment_count(ctx: RunCtx) -> int:
    """Successful experiments of HEAD, by the tool's own listing."""
    if ctx.tool.name == "dvc":
        return len(ctx.tool_sh("exp", "list", "--name-only").split())
    return sum(e["status"] == "success" for e in json.loads(ctx.tool_sh("exp", "list", "--json")))


def all_queued_ran(ctx: RunCtx) -> str | None:
    have, want = experiment_count(ctx), sizes(ctx).queued
    return None if have == want else f"{have} successful experiments, expected {want}"


def shown_all(ctx: RunCtx) -> str | None:
    try:
        rows = json.loads(ctx.stdout.read_text())
    except ValueError as exc:
        return f"stdout is not JSON ({exc})"
    # DVC: one entry per baseline, its experiments inside; cairn: one row per experiment.
    have = sum(len(r.get("experiments") or []) for r in rows) if ctx.tool.name == "dvc" else len(rows)
    return None if have == sizes(ctx).shown else f"{have} experiments shown, expected {sizes(ctx).shown}"


def _values(node: object, key: str) -> set[object]:
    if isinstance(node, dict):
        found = {node[key]} if key in node and not isinstance(node[key], dict | list) else set()
        return found.union(*(_values(v, key) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_values(v, key) for v in node))
    return set()


def every_commit_shown(ctx: RunCtx) -> str | None:
    try:
        steps = _values(json.loads(ctx.stdout.read_text()), "step")
    except ValueError as exc:
        return f"stdout is not JSON ({exc})"
    missing = set(range(1, sizes(ctx).commits + 1)) - steps
    return f"{len(missing)} commits' metrics not shown" if missing else None


# -- the workloads ----------------------------------------------------------------------------

NONE: frozenset[str] = frozenset()

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W15",
        "repro -j 4, four parallel stages",
        then(fresh_repo, parallel_pipeline, commit("pipeline")),
        lambda c: c.tool.argv("repro", *(["-j", str(PARALLEL)] if c.tool.name == "cairn" else [])),
        (*BASE, "repro"),
        outputs_written,
        datasets=NONE,
        target=Target(1.5, "four independent `sleep 1` stages with `-j 4`"),
        notes="Four stages that depend on nothing. cairn `repro -j 4`; DVC has no parallel repro, "
        "so `dvc repro` runs them one after the other: its time is for information. Smoke: `sleep 0.1`.",
    ),
    Workload(
        "W16",
        "repro --dry, a large graph",
        graph_repo,
        lambda c: c.tool.argv("repro", "--dry"),
        (*BASE, "repro"),
        planned_all,
        datasets=NONE,
        target=Target(1.0, "a graph of 500 stages validates and plans"),
        notes="The chain of W10 with 500 stages (smoke: 20), committed, never run: nothing is in the "
        "lock, so every stage would run. The stages' files are in the workspace, untracked, because "
        "`dvc repro --dry` stops at the first missing intermediate dep.",
    ),
    Workload(
        "W17",
        "exp run --run-all -j 2, queued experiments",
        then(fresh_repo, exp_pipeline(sleep=True), commit("pipeline"), queue_experiments),
        lambda c: c.tool.argv("exp", "run", "--run-all", "-j", "2"),
        (*BASE, "exp run"),
        all_queued_ran,
        datasets=NONE,
        target=Target(10.0, "eight queued experiments of a 2-s stage with `-j 2`"),
        dvc_skipped=frozenset({"smoke"}),
        notes="8 x `exp run --queue -S train.p=N` (untimed), then `exp run --run-all -j 2` timed "
        "(DVC: its celery queue workers; any still alive when it returns are killed after the timing). "
        "DVC is not run at smoke scale: starting its workers alone takes ~6 s. "
        "Smoke: 2 experiments of `sleep 0.1`.",
    ),
    Workload(
        "W18",
        "exp show, many experiments",
        prebuilt(
            "W18",
            then(
                fresh_repo,
                exp_pipeline(sleep=False),
                commit("pipeline"),
                tool_step("repro"),
                commit("lock"),
                run_experiments,
            ),
        ),
        lambda c: c.tool.argv("exp", "show", "--json"),
        (*BASE, "repro", "exp run", "exp show"),
        shown_all,
        datasets=NONE,
        target=Target(1.0, "`exp show` with 500 experiments"),
        dvc_skipped=frozenset({"quick", "smoke"}),
        notes="500 x `exp run -S train.p=N` of a one-stage pipeline (smoke: 3), made once per tool and "
        "copied (`cp -a`) for every run; the output is checked to list them all. DVC runs at full scale "
        "only: making its 500 experiments (about 1.2 s each) takes ~10 min (smoke: its 15 s would "
        "take the smoke run past a minute).",
    ),
    Workload(
        "W19",
        "metrics show -A, many commits",
        metrics_history,
        lambda c: c.tool.argv("metrics", "show", "-A", "--json"),
        (*BASE, "metrics show"),
        every_commit_shown,
        datasets=NONE,
        target=Target(1.0, "`metrics show -A` over 50 commits"),
        notes="50 commits (smoke: 5), each changing metrics.json (top-level `metrics:` of the pipeline "
        "file, tracked by git) and tagged: cairn's `-A` is every branch and tag, DVC's `-A` "
        "(--all-commits) every commit, so both read the same 50 commits.",
    ),
)
