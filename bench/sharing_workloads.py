"""W31: `get` of the small dataset (20,000 files at full scale) from another repository whose data
is on S3 (moto), as a consumer of a data registry does it (issue 18).

The setup is W9's (a repository with data/ added, an S3 remote committed with its endpoint,
pushed), plus an empty folder outside the repository to download into. The timed command is
`<tool> get REPO data -o data` in that folder, the same arguments for both tools: each reads the
repository at its HEAD (cairn: a partial fetch of one commit into its per-user cache; DVC: a git
clone into a temporary folder), then the data from the remote named in the committed config,
with moto's dummy credentials from the environment. The source's own cache and its data/ are deleted
after the push (DVC would copy from those of a source on the same disk rather than read S3), and
both tools' caches of source repositories start empty every run (XDG_CACHE_HOME is the run's own folder).
Standard library only.
"""

from __future__ import annotations

import shutil

from workloads import (
    BASE,
    SMALL,
    RunCtx,
    Workload,
    _small,
    commit,
    data_matches,
    repo_with,
    s3_remote,
    then,
    tool_step,
)


def _into_empty_folder(ctx: RunCtx) -> None:
    # a consumer reads a registry from its git host: no workspace data, no cache beside it, so
    # both tools read the data from S3 (DVC copies from a local source's cache or workspace)
    shutil.rmtree(ctx.repo / (".cairn/cache" if ctx.tool.name == "cairn" else ".dvc/cache"))
    shutil.rmtree(ctx.repo / "data")
    dest = ctx.run_dir / "consumer"
    dest.mkdir()
    ctx.cwd = dest
    ctx.env["XDG_CACHE_HOME"] = str(ctx.run_dir / "user-cache")


_W9_SETUP = then(repo_with(_small), tool_step("add", "data"), s3_remote, commit("data"))

WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W31",
        "get a folder from another repository (S3)",
        then(_W9_SETUP, tool_step("push"), _into_empty_folder),
        lambda c: c.tool.argv("get", str(c.repo), "data", "-o", "data"),
        (*BASE, "add", "remote add", "remote modify", "push", "get"),
        data_matches,
        datasets=SMALL,
        s3=True,
        notes="Outside any repository, empty caches; verified: every file of data/ with the same bytes.",
    ),
)
