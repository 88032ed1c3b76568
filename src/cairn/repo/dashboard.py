"""`cairn ui` wiring: the dashboard's pages (cairn.dashboard) read the repository through the
Source here, which opens the repository afresh for each request (requests run in threads) and
hands the pages what `exp show`, `plots diff`, `status`, `dag`, `lineage` and `metrics trend`
compute, so the pages and the commands never disagree."""

from __future__ import annotations

import hashlib
import os
import posixpath
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.dashboard.table import ExperimentTable
from cairn.errors import CairnError, PathError, UserInputError
from cairn.repo.repo import Repo

if TYPE_CHECKING:
    from cairn.experiments.record import ExpInfo

MAX_COMPARE = 20  # runs on one Compare page at most; more is not a comparison anyone can read
LOG_TAIL = 64 * 1024  # bytes of a run's log shown, however long it grew
COMMIT_ROWS = 50  # the current branch's commits in the table, newest first, when asked for


class RepoSource:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.name
        self._tables: dict[bool, ExperimentTable] = {}
        self._lock = threading.Lock()

    @contextmanager
    def _repo(self) -> Iterator[Repo]:
        repo = Repo(self.root)
        try:
            yield repo
        finally:
            repo.close()

    # -- experiments ----------------------------------------------------------------------------
    def experiments(self, with_commits: bool = False) -> ExperimentTable:
        """The table of every experiment (and, `with_commits`, of the current branch's last
        commits, status `commit`), read again only when the refs moved."""
        from cairn.experiments import manage
        from cairn.repo.experiments import Experiments

        with self._repo() as repo:
            if repo.git is None:
                return ExperimentTable([], token="no-git")
            token = _refs_token(Path(repo.git.repo.path))
            if with_commits:
                token += "+" + ("" if repo.git.repo.head_is_unborn else str(repo.git.repo.head.target))
            with self._lock:
                table = self._tables.get(with_commits)
                if table is not None and table.token == token:
                    return table
                infos = Experiments(repo).list(all_baselines=True)
                if with_commits:
                    infos = sorted(infos + _commit_infos(repo, COMMIT_ROWS), key=lambda i: i.created)
                table = ExperimentTable(manage.flat_rows(infos), token)  # one column per param
                self._tables[with_commits] = table
                return table

    def compare(self, names: list[str]) -> dict[str, Any]:
        """The runs' params and metrics side by side (rows whose values differ first marked), and
        the plots cairn.yaml declares overlaid for them, as `plots diff` draws them."""
        from cairn.experiments import manage
        from cairn.metrics.plots import plots
        from cairn.metrics.revisions import Rev
        from cairn.repo.experiments import Experiments

        names = list(dict.fromkeys(n for n in names if n))
        if len(names) < 2:
            raise UserInputError("Compare needs two experiments or more", "select rows on the Experiments page")
        if len(names) > MAX_COMPARE:
            raise UserInputError(f"{len(names)} experiments is too many to compare", f"select {MAX_COMPARE} or fewer")
        with self._repo() as repo:
            infos = Experiments(repo).list(all_baselines=True)
            known = {i.name for i in infos}
            # a branch commit's row is named by its short id: read it as the table did
            commits = {c.name: c for c in _commit_infos(repo, COMMIT_ROWS)} if set(names) - known else {}
            chosen = [commits[n] if n not in known and n in commits else manage.find(infos, n) for n in names]
            result = plots(repo, [Rev(i.name, i.commit) for i in chosen])
        rows = []
        for kind in ("params", "metrics"):
            keys: dict[tuple[str, str], None] = {}
            for info in chosen:
                for file, flat in getattr(info, kind).items():
                    keys.update(dict.fromkeys((file, k) for k in flat))
            for file, key in keys:
                values = [getattr(i, kind).get(file, {}).get(key) for i in chosen]
                differs = len(set(map(repr, values))) > 1
                rows.append({"kind": kind, "file": file, "key": key, "values": values, "differs": differs})
        return {
            "experiments": [r | {"commit": i.commit} for r, i in zip(manage.flat_rows(chosen), chosen, strict=True)],
            "rows": rows,
            "charts": [c.to_dict() for c in result.charts],
            "notes": list(result.notes) + [p.to_dict()["message"] for p in result.problems],
        }

    def queue(self, name: str | None = None) -> dict[str, Any]:
        """Queued, running and finished experiments (running ones with their live metrics), and
        the tail of `name`'s log. Read as they are: unlike `cairn queue status`, nothing is
        cleaned up here (a dead run stays `running` until a queue command notices)."""
        from cairn.repo.experiments import Experiments

        with self._repo() as repo:
            if repo.git is None:
                return {"entries": [], "name": None, "log": None}
            exps = Experiments(repo)
            q = exps.ctx.queue()
            try:
                entries = q.entries()
            finally:
                q.close()
            rows = [e.to_dict() | {"live": exps.live_metrics(e)} for e in entries]
            log = None
            if name is not None:
                if name not in {e.name for e in entries}:
                    raise PathError(f"there is no experiment {name!r} in the queue", "pick one on the Queue page")
                log = _tail(exps.log_path(name))
        return {"entries": rows, "name": name, "log": log}

    # -- pipeline and lineage -------------------------------------------------------------------
    def pipeline(self) -> dict[str, Any]:
        """The DAG as an SVG with each stage's state; the error itself when cairn.yaml is broken."""
        from cairn.dashboard.svg import dag_svg

        with self._repo() as repo:
            if not repo.has_pipeline():
                return {"stages": [], "svg": None, "error": None}
            try:
                graph = repo.pipeline_graph()
                stale = repo.pipeline_status()
            except CairnError as e:
                return {"stages": [], "svg": None, "error": e}
        order = list(graph.order())
        edges = {s: set(graph.edges[s]) for s in order}
        states = {s: "stale" if s in stale else "up to date" for s in order}
        stages = [{"name": s, "state": states[s], "why": stale.get(s, []), "after": sorted(edges[s])} for s in order]
        return {"stages": stages, "svg": dag_svg(order, edges, states), "error": None}

    def lineage(self, path: str) -> dict[str, Any]:
        """Where `path` (repo-relative) came from, as `cairn lineage` prints it."""
        from cairn.lineage import render
        from cairn.repo import lineage as lineage_mod

        full = os.path.normpath(os.path.join(self.root, path))
        if os.path.commonpath([full, str(self.root)]) != str(self.root) or full == str(self.root):
            raise PathError(f"{path} is outside the repository", f"give a path inside {self.name}/")
        with self._repo() as repo:
            doc = lineage_mod.lineage(repo, full)
        return {"doc": doc, "text": render.to_text(doc), "svg": _lineage_svg(doc)}

    # -- trends ---------------------------------------------------------------------------------
    def trend(self, key: str | None, last: int = 20) -> dict[str, Any]:
        """The metric keys of the branch's last commits, and `key` (default the first) over them."""
        from cairn.metrics import vega
        from cairn.metrics.revisions import branch_history
        from cairn.metrics.values import metrics_show, metrics_trend

        last = max(2, min(last, 500))
        with self._repo() as repo:
            if repo.git is None:
                return {"keys": [], "key": None, "points": [], "spec": None}
            shown = metrics_show(repo, branch_history(repo, last, "ui"))
            columns = sorted(set(shown.columns()))
            names = [k for _, k in columns]
            keys = [k if names.count(k) == 1 else f"{p}:{k}" for p, k in columns]
            if not keys:
                return {"keys": [], "key": None, "points": [], "spec": None}
            key = key or keys[0]
            t = metrics_trend(repo, key, last).to_dict()
        points = [
            {k: p[k] for k in ("short", "date", "subject", "value")} | {"commit": p["short"]}
            for p in reversed(t["points"])
        ]
        return {"keys": keys, "key": key, "path": t["path"], "points": points, "spec": vega.trend_chart(key, points)}

    # -- data and models --------------------------------------------------------------------------
    def data(self, path: str | None = None, a: str | None = None, b: str | None = None, last: int = 50) -> dict:
        """Tracked paths (pointers) at HEAD with their versions over the branch's last commits
        (a version listed where its id changed), and the file changes of `path` from commit `a`
        to `b`, as `cairn diff` has them."""
        from cairn.index import pointer as ptr
        from cairn.metrics.revisions import branch_history

        with self._repo() as repo:
            if repo.git is None:
                return {"paths": [], "path": None, "versions": [], "changes": None}
            revs = list(reversed(branch_history(repo, max(1, min(last, 500)), "ui")))  # oldest first
            history: dict[str, list[dict[str, Any]]] = {}
            for rev in revs:
                for rel, text in repo.git.files_with_suffix(rev.commit, ptr.SUFFIX):
                    try:
                        p = ptr.parse(text, f"{rel} at {rev.short}")
                    except CairnError:
                        continue  # a broken pointer in an old commit is that commit's business
                    data_path = posixpath.normpath(posixpath.join(posixpath.dirname(rel), p.path))
                    seen = history.setdefault(data_path, [])
                    if not seen or seen[-1]["oid"] != p.oid:
                        seen.append({"commit": rev.commit, "short": rev.short, "date": rev.date,
                                     "subject": rev.subject, "oid": p.oid, "kind": p.kind, "size": p.size,
                                     "files": p.files})  # fmt: skip
            now = {}
            for rel in repo.pointers():
                try:
                    p = ptr.load(repo.root / rel)
                except CairnError:
                    continue
                data_path = posixpath.normpath(posixpath.join(posixpath.dirname(rel), p.path))
                now[data_path] = {"path": data_path, "kind": p.kind, "size": p.size, "files": p.files}
            paths = [v | {"versions": len(history.get(k, []))} for k, v in sorted(now.items())]
            if path is not None and path not in history and path not in now:
                raise PathError(f"{path} is not tracked by cairn", "pick one of the tracked paths on the Data page")
            versions = list(reversed(history.get(path, []))) if path else []
            changes = None
            if path and a and b:
                inside = [c.to_dict() for c in repo.diff(a, b) if c.path == path or c.path.startswith(path + "/")]
                changes = {"a": a, "b": b, "files": inside}
        return {"paths": paths, "path": path, "versions": versions, "changes": changes}

    def stats(self, path: str, rev: str | None) -> dict[str, Any]:
        """`cairn data stats PATH --rev REV`: the stored record, else computed (and stored) from
        the data, else read from the remote."""
        from cairn.repo import datastats

        with self._repo() as repo:
            return datastats.stats(repo, path, rev)

    def drift(self, path: str, a: str, b: str) -> dict[str, Any]:
        """`cairn data diff PATH A B`: the two versions' statistics compared (drift per column of a
        table, files and bytes by extension of a folder), from the stored records when there."""
        from cairn.repo import datastats

        with self._repo() as repo:
            return datastats.diff(repo, path, a, b)

    def models(self) -> list[dict[str, Any]]:
        """The model registry: each artifact with its versions (highest first) and stages."""
        from cairn.repo import registry

        with self._repo() as repo:
            if repo.git is None:
                return []
            return [registry.show(repo, a["name"], metrics=False) for a in registry.listing(repo)]


def _lineage_svg(doc: dict[str, Any]) -> str:
    """The lineage graph (data and code nodes, the stages between them) drawn as the pipeline is:
    inputs above, the output at the bottom."""
    from graphlib import CycleError, TopologicalSorter

    from cairn.dashboard.svg import dag_svg

    after: dict[str, set[str]] = {n["path"]: set() for n in doc["nodes"]}
    after.update({f"stage:{s['name']}": set() for s in doc["stages"]})
    for e in doc["edges"]:
        after.setdefault(e["to"], set()).add(e["from"])
        after.setdefault(e["from"], set())
    try:
        order = list(TopologicalSorter(after).static_order())
    except CycleError:
        order = list(after)  # a graph git and locks should never give; drawn as it comes
    states = {n["path"]: (n.get("tracked") or n.get("kind") or "").replace("_", " ") for n in doc["nodes"]}
    states.update({f"stage:{s['name']}": "stage" for s in doc["stages"]})
    labels = {f"stage:{s['name']}": s["name"] for s in doc["stages"]}
    return dag_svg(order, after, states, labels, kind="node")


def _commit_infos(repo: Repo, last: int) -> list[ExpInfo]:
    """The branch's last commits as experiment records (status `commit`, named by their short
    id), with the params and metrics files declared at each, as `params diff`/`metrics show` read
    them."""
    from cairn.experiments.record import ExpInfo
    from cairn.metrics.reader import Reader
    from cairn.metrics.revisions import branch_history
    from cairn.metrics.values import Problems, collect

    if repo.git is None or repo.git.repo.head_is_unborn:
        return []
    revs = branch_history(repo, last, "ui")
    reader, problems = Reader(repo), Problems()
    params, metrics = collect(reader, revs, "params", problems), collect(reader, revs, "metrics", problems)
    return [
        ExpInfo(
            name=rev.short,
            baseline=rev.commit or "",
            status="commit",
            created=float(rev.time or 0),
            params={f: v for f, v in params[rev.name].items() if v},
            metrics={f: v for f, v in metrics[rev.name].items() if v},
            commit=rev.commit or "",
        )
        for rev in revs
    ]


def _tail(path: Path, limit: int = LOG_TAIL) -> str:
    """The end of a log, at most `limit` bytes, from a line start when it was cut."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - limit))
            data = f.read(limit)
    except FileNotFoundError:
        return ""
    if size > limit:
        data = data.split(b"\n", 1)[-1]
    return data.decode("utf-8", errors="replace")


def _refs_token(gitdir: Path) -> str:
    """What changes whenever an experiment ref is added, moved or removed, in a few stat calls
    rather than a walk over every ref (100,000 runs are 100,000 refs): packed-refs, and the
    folders of loose refs/cairn/exps/<baseline>/<name> files (writing or deleting a loose ref
    renames or unlinks a file in its baseline's folder, which changes that folder's mtime)."""
    try:  # a linked worktree: the refs live in the shared git dir
        gitdir = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
    except FileNotFoundError:
        pass
    h = hashlib.blake2b(digest_size=16)
    exps = gitdir / "refs" / "cairn" / "exps"
    for path in [gitdir / "packed-refs", exps, *(_subdirs(exps))]:
        try:
            st = path.stat()
        except FileNotFoundError:
            h.update(f"{path.name} -\n".encode())
            continue
        h.update(f"{path} {st.st_mtime_ns} {st.st_size} {st.st_ino}\n".encode())
    return h.hexdigest()


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve the dashboard of the repository at `root` until interrupted; `on_ready(host, port)`
    once it answers (port 0 picks a free port, which is what on_ready is told)."""
    from cairn.dashboard import server
    from cairn.dashboard.app import create_app, need_web

    need_web()
    sock = server.bind(host, port)
    bound = sock.getsockname()[1]
    app = create_app(RepoSource(root), host)
    server.serve(app, sock, (lambda: on_ready(host, bound)) if on_ready else None)
