"""W32: `cairn import-dvc` of the bench's 20,000-file DVC project (issue 18; target < 5 s).

The setup is made by DVC 3.67.1 itself (the bench's own DVC venv): `git init`, `dvc init`, the
small dataset's data/ added with `dvc add`, a params file and one stage over data/ (an output
and a metrics file) run with `dvc repro`, everything committed. The timed command converts it
(cairn initializes itself, hashes the 20,000 files once while checking DVC's md5 of them, and
writes cairn.yaml, cairn.lock, data.cairn and the remotes). Verified: `cairn status` reports
the data unchanged and no stale stage, so nothing would rerun.

cairn only: DVC has no command that converts a project to another tool, so its side is
reported as not run. Standard library only.
"""

from __future__ import annotations

import json

import envs
from workloads import RunCtx, Target, Workload, _small, commit, copy_tree, then

ALL_SCALES = frozenset({"full", "quick", "smoke"})
DVC_YAML = """stages:
  count:
    cmd: find data -type f | wc -l > count.txt && echo '{"files":'$(cat count.txt)'}' > metrics.json
    deps:
      - data
    params:
      - threshold
    outs:
      - count.txt
    metrics:
      - metrics.json:
          cache: false
"""


def dvc_project(ctx: RunCtx) -> None:
    dvc = str(envs.ensure_venv("dvc", envs.DVC_REQUIREMENTS, ctx.log.parent).bin / "dvc")
    ctx.repo.mkdir(parents=True, exist_ok=True)
    ctx.cwd = ctx.repo
    ctx.sh(["git", "init", "-q"])
    ctx.sh([dvc, "init", "-q"])
    copy_tree(_small(ctx.data), ctx.repo)
    ctx.sh([dvc, "add", "-q", "data"])
    (ctx.repo / "params.yaml").write_text("threshold: 3\n")
    (ctx.repo / "dvc.yaml").write_text(DVC_YAML)
    ctx.sh([dvc, "repro", "-q"])


def converted(ctx: RunCtx) -> str | None:
    status = json.loads(ctx.tool_sh("status", "--json"))
    if status["stages"]:
        return f"`cairn status` reports stale stages after the import: {status['stages']}"
    if [p["state"] for p in status["paths"]] != ["unchanged"]:
        return f"`cairn status` reports {[(p['path'], p['state']) for p in status['paths']]}, expected data unchanged"
    report = json.loads(ctx.stdout.read_text())
    if report["locked"] != ["count"] or report["pointers"] != ["data.cairn"]:
        return f"import-dvc converted {report['pointers']} and locked {report['locked']}"
    return None


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W32",
        "import-dvc of the 20k-file DVC project",
        then(dvc_project, commit("DVC project")),
        lambda c: c.tool.argv("import-dvc", "--json"),
        ("import-dvc", "status"),
        converted,
        datasets=frozenset({"small"}),
        scales=ALL_SCALES,
        target=Target(5.0, "`cairn import-dvc` of the 20,000-file DVC project", frozenset({"full"})),
        dvc_skipped=ALL_SCALES,
        notes="cairn only: DVC converts to no other tool. Verified: status up to date, the stage locked.",
    ),
)
