"""`notebook:` stages: a stage that executes a Jupyter notebook instead of running `cmd`.

The pipeline does not execute notebooks itself (cairn.notebooks sits above it): the stage
becomes an ordinary command, `cairn notebooks run NB -o OUT -p params.yaml:a,b`, with the
notebook as a dependency and the executed notebook as a cached output. The lock, the run-cache,
experiments and the queue then treat it like any other stage: it reruns when the notebook or its
params change. `notebook:` is a path, or {path, out, kernel}; OUT defaults to
`<name>.executed.ipynb` next to the notebook."""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

KEYS = {"path", "out", "kernel"}


def apply(stage: Any, body: dict, at: tuple, problems: Any) -> None:
    """Fill in `stage` (cmd, deps, outs) from `body["notebook"]`; problems go to `problems`."""
    from cairn.pipelines.spec import Out, _out_path, _rel

    value = body["notebook"]
    if "cmd" in body:
        problems.add(at, "a stage runs either `cmd` or `notebook`, not both")
    settings = {"path": value} if isinstance(value, str) else value
    if not isinstance(settings, dict) or not isinstance(settings.get("path"), str) or not settings["path"]:
        problems.add(at, "`notebook` is a path to an .ipynb file, or {path: ..., out: ..., kernel: ...}")
        return
    for key in settings:
        if key not in KEYS:
            problems.add((*at, key), f"unknown notebook setting {key!r} (expected one of: {', '.join(sorted(KEYS))})")
    nb = settings["path"]
    if not nb.endswith(".ipynb"):
        problems.add(at, f"{nb!r} is not a notebook: the path must end with .ipynb")
        return
    out = settings.get("out") or nb[: -len(".ipynb")] + ".executed.ipynb"
    kernel = settings.get("kernel")
    args = ["cairn", "notebooks", "run", nb, "-o", str(out)]
    for ref in stage.params:
        file = posixpath.relpath(ref.file, stage.wdir or ".")
        args += ["-p", file if ref.keys is None else f"{file}:{','.join(ref.keys)}"]
    if kernel:
        args += ["--kernel", str(kernel)]
    stage.cmd = [shlex.join(args)]
    dep = _rel(nb, stage.wdir, at, problems)
    if dep not in stage.deps:
        stage.deps.insert(0, dep)
    stage.outs.insert(0, Out(_out_path(str(out), stage.wdir, (*at, "out"), problems)))
