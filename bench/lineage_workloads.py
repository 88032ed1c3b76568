"""W24-W25: lineage over a long history (issue 15).

The history is written straight into git with `git fast-import` (running 1,000 real pipelines
would take the bench hours and time nothing lineage does): a 30-stage chain s01 -> ... -> s30,
each stage reading the previous stage's output and its own script src/sNN.py, s01 reading the
tracked file data/raw (a pointer) and params.yaml. Over 1,000 commits on main, every 50th brings
a new version of data/raw (every stage reruns), every third changes one stage's script (that
stage and the ones after it rerun) and the others touch only a README, as a real project's
history does. 500 experiments hang off commits of main, each with its own learning rate (every
stage reruns). cairn.lock is written in the exact layout cairn writes; object ids are made-up
64-hex ids (lineage reads git and locks, never data).

W24 times `cairn lineage` of s30's output at HEAD, W25 `cairn lineage --downstream data/raw` of
the version at HEAD. Both check the answer against what the generator knows. cairn only: DVC has
no lineage command (the closest are `dvc dag` for the graph at one commit and `git log` of
dvc.lock by hand). Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import fastimport
from workloads import BASE, RunCtx, Target, Workload, fresh_repo


@dataclass(frozen=True)
class Sizes:
    stages: int
    commits: int
    experiments: int


SIZES = {
    "full": Sizes(30, 1_000, 500),
    "quick": Sizes(30, 300, 100),
    "smoke": Sizes(5, 30, 6),
}
DATA_EVERY, CODE_EVERY = 50, 3
T0 = 1_700_000_000


def _oid(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


class _State:
    """What the generator knows at one commit: the versions of the data, the code and params."""

    def __init__(self, stages: int) -> None:
        self.stages = stages
        self.data = 0
        self.code = [0] * (stages + 1)
        self.lr = "0.1"

    def copy(self) -> _State:
        s = _State(self.stages)
        s.data, s.code, s.lr = self.data, list(self.code), self.lr
        return s

    def out(self, k: int) -> str:
        return _oid("out", k, self.data, self.lr, *self.code[1 : k + 1])

    def raw(self) -> str:
        return _oid("raw", self.data)

    def lock(self) -> str:
        lines = ["version: 2", "stages:"]
        env = _oid("env")
        for k in range(1, self.stages + 1):
            dep = "data/raw" if k == 1 else f"out/o{k - 1:02d}.bin"
            dep_oid = self.raw() if k == 1 else self.out(k - 1)
            lines += [
                f"  s{k:02d}:",
                f"    cmd: python src/s{k:02d}.py",
                "    deps:",
                f"    - path: {dep}",
                "      kind: file",
                f"      oid: {dep_oid}",
                "      size: 1000",
                "      files: 1",
                f"    - path: src/s{k:02d}.py",
                "      kind: file",
                f"      oid: {_oid('code', k, self.code[k])}",
                "      size: 40",
                "      files: 1",
            ]
            if k == 1:
                lines += ["    params:", "      params.yaml:", f"        lr: {self.lr}"]
            lines += [
                "    outs:",
                f"    - path: out/o{k:02d}.bin",
                "      kind: file",
                f"      oid: {self.out(k)}",
                "      size: 1000",
                "      files: 1",
                f"    env: {env}",
            ]
        return "\n".join(lines) + "\n"

    def pipeline(self) -> str:
        lines = ["stages:"]
        for k in range(1, self.stages + 1):
            dep = "data/raw" if k == 1 else f"out/o{k - 1:02d}.bin"
            lines += [f"  s{k:02d}:", f"    cmd: python src/s{k:02d}.py", f"    deps: [{dep}, src/s{k:02d}.py]"]
            if k == 1:
                lines.append("    params: [lr]")
            lines.append(f"    outs: [out/o{k:02d}.bin]")
        return "\n".join(lines) + "\n"

    def pointer(self) -> str:
        return f"version: 1\npath: raw\nkind: file\noid: {self.raw()}\nsize: 1000\nfiles: 1\n"


def write_history(repo: Path, z: Sizes) -> dict:
    """Writes main's commits and the experiments into `repo` (on top of its HEAD) and returns
    what the checks need: the data version at HEAD, and which commits and experiments used it."""
    branch_ref, head = fastimport.head(repo)
    state = _State(z.stages)
    stream: list[bytes] = []
    states: list[_State] = []
    for i in range(z.commits):
        files = []
        if i == 0:
            files += [
                fastimport.blob("cairn.yaml", state.pipeline()),
                fastimport.blob("params.yaml", f"lr: {state.lr}\n"),
            ]
            files += [fastimport.blob(f"src/s{k:02d}.py", f"# stage {k} v0\n") for k in range(1, z.stages + 1)]
            files += [fastimport.blob(".gitignore", "/data/raw\n/out\n")]
            message = "pipeline"
        elif i % DATA_EVERY == 0:
            state.data += 1
            message = f"data version {state.data}"
        elif i % CODE_EVERY == 0:
            k = 1 + (i * 7) % z.stages
            state.code[k] += 1
            files.append(fastimport.blob(f"src/s{k:02d}.py", f"# stage {k} v{state.code[k]}\n"))
            message = f"change stage {k}"
        else:
            files.append(fastimport.blob("README.md", f"notes {i}\n"))
            message = f"notes {i}"
        if i == 0 or i % DATA_EVERY == 0:
            files.append(fastimport.blob("data/raw.cairn", state.pointer()))
        if i == 0 or i % DATA_EVERY == 0 or i % CODE_EVERY == 0:
            files.append(fastimport.blob("cairn.lock", state.lock()))
        parent = head if i == 0 else f":{i}"
        stream.append(fastimport.commit(branch_ref, i + 1, T0 + 60 * i, message, parent, files))
        states.append(state.copy())
    used_commits = sum(1 for s in states if s.data == state.data)
    used_exps = 0
    step = max(1, z.commits // z.experiments)
    for j in range(z.experiments):
        base_i = (j * step) % z.commits
        s = states[base_i].copy()
        s.lr = f"0.{j + 2:04d}"
        used_exps += s.data == state.data
        name = f"exp-{j:04d}"
        meta = {"name": name, "baseline": f"<{base_i + 1}>", "status": "success", "created": T0 + 60 * base_i + 30}
        meta["version"] = 1
        files = [fastimport.blob("params.yaml", f"lr: {s.lr}\n"), fastimport.blob("cairn.lock", s.lock())]
        ref = f"refs/cairn/exps/b{base_i:04d}/{name}"
        msg = f"cairn experiment: {name}\n\n{json.dumps(meta, sort_keys=True)}\n"
        stream.append(fastimport.commit(ref, z.commits + j + 1, T0 + 60 * base_i + 30, msg, f":{base_i + 1}", files))
    fastimport.run(repo, stream, branch_ref)
    return {
        "last_out": f"out/o{z.stages:02d}.bin",
        "last_oid": state.out(z.stages),
        "data_oid": state.raw(),
        "used_commits": used_commits,
        "used_exps": used_exps,
        "stages": z.stages,
    }


# -- the workloads ----------------------------------------------------------------------------


def history(ctx: RunCtx) -> None:
    """The history, then one untimed `cairn lineage` that builds the lineage index (as the first
    lineage command in a clone does); its time is printed: that is the cold cost."""
    fresh_repo(ctx)
    ctx.state["history"] = write_history(ctx.repo, SIZES[ctx.data.scale.name])
    started = time.perf_counter()
    ctx.tool_sh("lineage", "--downstream", "data/raw", "--json")
    print(f"[bench]   the first lineage command (builds the index) took {time.perf_counter() - started:.2f} s")


def upstream_right(ctx: RunCtx) -> str | None:
    want = ctx.state["history"]
    doc = json.loads(ctx.stdout.read_text())
    stages = {s["name"] for s in doc["stages"]}
    if len(stages) != want["stages"]:
        return f"lineage names {len(stages)} stages, the chain has {want['stages']}"
    target = next((n for n in doc["nodes"] if n["path"] == want["last_out"]), None)
    if target is None or target["oid"] != want["last_oid"]:
        return f"lineage does not give {want['last_out']} the id the last commit's lock records"
    raw = next((n for n in doc["nodes"] if n["path"] == "data/raw"), None)
    if raw is None or raw["tracked"] != "pointer" or raw["oid"] != want["data_oid"]:
        return "lineage does not reach data/raw (the pointer) at its current version"
    return None


def downstream_right(ctx: RunCtx) -> str | None:
    want = ctx.state["history"]
    doc = json.loads(ctx.stdout.read_text())
    exps = sum(1 for c in doc["consumers"] if c["experiment"])
    commits = len(doc["consumers"]) - exps
    if (commits, exps) != (want["used_commits"], want["used_exps"]):
        return (
            f"--downstream lists {commits} commits and {exps} experiments; the history has "
            f"{want['used_commits']} commits and {want['used_exps']} experiments on that version"
        )
    return None


ALL_SCALES = frozenset({"full", "quick", "smoke"})
COMMANDS = (*BASE, "lineage")
NOT_DVC = "cairn only: DVC has no lineage command (the closest: `dvc dag` at one commit, `git log -p dvc.lock`)."
NOTES = (
    "A 30-stage chain over 1,000 commits of main and 500 experiments (quick: 300 and 100; smoke: "
    "5 stages, 30 commits, 6 experiments), written with `git fast-import`: a new data/raw every 50th "
    "commit, one stage's script changed every third, a README otherwise. The setup runs one "
    "untimed lineage command, which builds the lineage index as a clone's first one does (its time "
    "is printed: the cold cost); the timed command reads the index and indexes nothing new. "
)

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W24",
        "lineage of the last output of a 30-stage chain",
        history,
        lambda c: c.tool.argv("lineage", f"out/o{c.state['history']['stages']:02d}.bin", "--json"),
        COMMANDS,
        upstream_right,
        target=Target(0.3, "`cairn lineage` over 1,000 commits and 500 experiments", frozenset({"full"})),
        dvc_skipped=ALL_SCALES,
        notes=NOTES + "Timed: `cairn lineage out/o30.bin --json` at HEAD. Checked: 30 stages, the "
        "output's id and data/raw's pointer version as generated. " + NOT_DVC,
    ),
    Workload(
        "W25",
        "lineage --downstream of a dataset version",
        history,
        lambda c: c.tool.argv("lineage", "--downstream", "data/raw", "--json"),
        COMMANDS,
        downstream_right,
        target=Target(0.5, "`cairn lineage --downstream` over the same history", frozenset({"full"})),
        dvc_skipped=ALL_SCALES,
        notes=NOTES + "Timed: `cairn lineage --downstream data/raw --json` (the version at HEAD). "
        "Checked: exactly the commits and experiments whose lock consumed that version. " + NOT_DVC,
    ),
)


if __name__ == "__main__":  # a history to profile by hand: python bench/lineage_workloads.py DIR [scale]
    import sys

    target = Path(sys.argv[1])
    target.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["cairn", "-q", "init"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=target, check=True)
    print(json.dumps(write_history(target, SIZES[sys.argv[2] if len(sys.argv) > 2 else "full"]), indent=1))
