"""Lineage wiring: resolves the path, the revision or experiment, and the pipeline at that
commit, then hands them to cairn.lineage (which reads git and locks only, never data)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import CairnError, PathError, UserInputError
from cairn.index import pointer as ptr
from cairn.lineage.downstream import downstream
from cairn.lineage.index import open_index
from cairn.lineage.upstream import Context, upstream
from cairn.lineage.view import Shared

if TYPE_CHECKING:
    from cairn.repo.repo import Repo


def repo_path(repo: Repo, path: str, cwd: Path | None = None) -> str:
    """`path` (relative to `cwd`) as a repo-relative POSIX path; a pointer file names its data."""
    full = os.path.normpath(os.path.join(cwd or Path.cwd(), path))
    rel = os.path.relpath(full, repo.root)
    if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
        raise PathError(f"{path} is outside the repository", f"give a path inside {repo.root.name}/")
    rel = Path(rel).as_posix()
    return rel[: -len(ptr.SUFFIX)] if rel.endswith(ptr.SUFFIX) else rel


def context(repo: Repo, rev: str | None, exp: str | None) -> Context:
    if rev is not None and exp is not None:
        raise UserInputError("--rev and --exp name two different runs", "give one of them")
    git = repo._need_git("lineage")
    if exp is not None:
        from cairn.repo.experiments import Experiments

        info = Experiments(repo).get(exp)
        ctx = Context(
            exp, info.commit, {"name": info.name, "created": info.created, "baseline": info.baseline, "ref": info.ref}
        )
    else:
        name = rev or "HEAD"
        ctx = Context(name, str(git.resolve(name).id))
    ctx.pipeline = _pipeline(repo, ctx)
    return ctx


def _pipeline(repo: Repo, ctx: Context):
    """cairn.yaml at the commit (for each stage's wdir); None when absent or unreadable, since
    the lock alone answers everything else."""
    from cairn.metrics.reader import Reader
    from cairn.metrics.revisions import Rev

    try:
        return Reader(repo).snapshot(Rev(ctx.rev, ctx.commit)).pipeline()
    except CairnError:
        return None


def lineage(repo: Repo, path: str, rev: str | None = None, exp: str | None = None) -> dict[str, Any]:
    """The upstream lineage document of `path` at `rev` (default HEAD) or experiment `exp`."""
    rel = repo_path(repo, path)
    ctx = context(repo, rev, exp)
    return upstream(shared(repo, sync=False), ctx, rel)  # the walks index what they need


def consumers(repo: Repo, spec: str, rev: str | None = None, exp: str | None = None) -> dict[str, Any]:
    """The downstream document of `PATH[@REV]`: which commits and experiments consumed that
    version and what they produced. `--rev`/`--exp` name the version's revision too."""
    path, at = spec, rev
    if rev is None and exp is None and "@" in spec:
        path, _, named = spec.rpartition("@")
        at = named or None
    rel = repo_path(repo, path)
    ctx = context(repo, at, exp)
    return downstream(shared(repo), ctx, rel)


def shared(repo: Repo, sync: bool = True) -> Shared:
    """What the lineage walks share, with the lineage index (up to date with every ref when
    `sync`: --downstream looks at all of history)."""
    return Shared(repo.git, repo.store, open_index(repo.dot / "state", repo.git.repo, sync))


def openlineage(repo: Repo, doc: dict[str, Any], downstream: bool = False) -> list[dict[str, Any]]:
    """The lineage document as OpenLineage run events, in this repository's namespace."""
    from cairn.lineage import openlineage as ol

    namespace, source = _identity(repo)
    return (ol.downstream_events if downstream else ol.upstream_events)(doc, namespace, source)


def _identity(repo: Repo) -> tuple[str, str]:
    """(`cairn://` namespace, source URL) of the repository: its `origin` remote when it has one,
    so clones of one project share a namespace; otherwise its folder."""
    url = None
    try:
        url = repo.git.repo.remotes["origin"].url
    except (KeyError, ValueError, AttributeError):
        pass
    if not url:
        return f"cairn://{repo.root.name}", repo.root.as_uri()
    scp = re.match(r"^([\w.-]+@)?([\w.-]+):(?!//)(.+)$", url)
    if scp:  # git@host:org/repo.git is not a URI; ssh://git@host/org/repo.git is
        url = f"ssh://{scp.group(1) or ''}{scp.group(2)}/{scp.group(3)}"
    if "://" not in url:  # a path
        url = Path(os.path.abspath(url)).as_uri()
    where = re.sub(r"^[a-z+]+://([^@/]*@)?", "", url).removesuffix(".git").strip("/")
    return f"cairn://{where}", url
