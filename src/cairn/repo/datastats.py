"""Data statistics wiring: finds the version of a path (the workspace, or a pointer or lock entry
at a git revision), its stats record in the cache, on a remote or computed from the data, and
compares, checks and monitors with them (cairn.datastats does the work, with no repo knowledge)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import CairnError, PathError
from cairn.index import pointer as ptr
from cairn.objects.tree import FILE, TREE, walk_files

# the readers and describers (csv, columns, ...) are imported where used: every `repro` loads
# this module for check_stage_inputs, and a cairn.yaml without `schema:` needs none of them
if TYPE_CHECKING:
    from cairn.datastats.describe import FileRef
    from cairn.datastats.record import StatsStore
    from cairn.remotes.remote import Remote
    from cairn.repo.repo import Repo


@dataclass
class Version:
    rel: str  # repo path
    rev: str | None  # None: the workspace
    kind: str
    oid: str
    trees: dict[str, bytes]  # trees not in the cache (a workspace folder's)
    here: bool = True  # with rev None: the bytes are in the workspace (else only its pointer is)

    @property
    def name(self) -> str:
        return self.rel if self.rev is None else f"{self.rel} at {self.rev}"


def store(repo: Repo) -> StatsStore:
    from cairn.datastats.record import StatsStore

    return StatsStore(repo.store.root)


def repo_path(repo: Repo, path: str) -> str:
    """`path` (relative to the current folder) as a repo-relative POSIX path; a pointer file names
    its data. (repo/lineage.py has the same; importing it would load git for a cached read.)"""
    full = os.path.normpath(os.path.join(os.getcwd(), path))
    rel = os.path.relpath(full, repo.root)
    if rel == ".":  # an empty path (a bare `?path=` of the dashboard) lands here too
        raise PathError(f"{path!r} names the repository root, not a dataset", "name a table file or a folder inside it")
    if rel == ".." or rel.startswith(".." + os.sep):
        raise PathError(f"{path} is outside the repository", f"give a path inside {repo.root.name}/")
    rel = Path(rel).as_posix()
    return rel[: -len(ptr.SUFFIX)] if rel.endswith(ptr.SUFFIX) else rel


def locate(repo: Repo, path: str, rev: str | None) -> Version:
    """The version of `path` in the workspace (rev None) or at git revision `rev`."""
    rel = repo_path(repo, path)
    if rev is None:
        return _in_workspace(repo, rel, path)
    git = repo._need_git("data stats --rev")
    commit = str(git.resolve(rev).id)
    found = _tracked_at(repo, git, commit, rel, rev)
    if found is None:
        raise PathError(
            f"{rel} is not tracked at {rev}: no pointer ({rel}{ptr.SUFFIX}) and no pipeline output there",
            "name a path `cairn add` or a stage tracked at that revision (see `git show REV --stat`)",
        )
    kind, oid = found
    return Version(rel, rev, kind, oid, {})


def _in_workspace(repo: Repo, rel: str, given: str) -> Version:
    from cairn.index.snapshot import snapshot

    ws = repo.ws
    snap = snapshot(ws.abs(rel), rel, ws.stats, ws.ignore, progress=ws.progress, links=ws.links())
    if snap is None:
        pointer = repo.root / f"{rel}{ptr.SUFFIX}"
        if pointer.is_file():  # tracked, not checked out (a clone that has not pulled): its version
            p = ws.load_pointer(f"{rel}{ptr.SUFFIX}")
            return Version(rel, None, p.kind, p.oid, {}, here=False)
        raise PathError(f"{given} does not exist", "give a file or folder in the workspace, or --rev REV")
    ws.stats.update(snap.records, snap.keep)
    return Version(rel, None, snap.kind, snap.oid, dict(snap.trees))


def _tracked_at(repo: Repo, git, commit: str, rel: str, rev: str) -> tuple[str, str] | None:
    """(kind, oid) of `rel` at the commit: from its pointer or a stage output, or inside a
    tracked folder (the path below it looked up in the folder's trees)."""
    from cairn.pipelines import lock as lock_mod

    outs: dict[str, tuple[str, str]] = {}
    text = git.read_file(commit, lock_mod.LOCK_FILE)
    if text is not None:
        try:
            for entry in lock_mod.parse(text.decode(), f"{lock_mod.LOCK_FILE} at {rev}").values():
                outs.update({o.path: (o.kind, o.oid) for o in entry.outs})
        except (CairnError, UnicodeDecodeError):
            pass
    parts = rel.split("/")
    for i in range(len(parts), 0, -1):
        top = "/".join(parts[:i])
        data = git.read_file(commit, top + ptr.SUFFIX)
        if data is not None:
            p = ptr.parse(data, f"{top}{ptr.SUFFIX} at {rev}")
            found: tuple[str, str] | None = (p.kind, p.oid)
        else:
            found = outs.get(top)
        if found is None:
            continue
        if i == len(parts):
            return found
        return _below(repo, found, "/".join(parts[i:]))
    return None


def _below(repo: Repo, top: tuple[str, str], sub: str) -> tuple[str, str] | None:
    kind, oid = top
    load = repo.ws.tree_loader()
    for name in sub.split("/"):
        if kind != TREE:
            return None
        e = load(oid).get(name)
        if e is None:
            return None
        kind, oid = e.kind, e.oid
    return kind, oid


def stats(repo: Repo, path: str, rev: str | None = None, remote: str | None = None) -> dict[str, Any]:
    """The stats document of `path` at `rev`: the record, from the cache when it was computed
    before, else computed from the data, else read from the remote (the data need not be here)."""
    _known(repo, remote)
    v = locate(repo, path, rev)
    rec, source = record_of(repo, v, remote)
    return {"path": v.rel, "rev": v.rev, "oid": v.oid, "from": source, "stats": rec}


def record_of(repo: Repo, v: Version, remote: str | None = None) -> tuple[dict[str, Any], str]:
    from cairn.datastats.describe import describe
    from cairn.datastats.record import build

    st = store(repo)
    rec = st.get(v.oid)
    if rec is not None:
        return rec, "cache"
    with _rebuilt(repo, _files(repo, v)) as files:
        if files is None or (any(f.path is None for f in files) and _wants_data(v, files)):
            got = _from_remote(repo, v, remote)
            if got is not None:
                return got, "remote"
        if files is None:
            from cairn.errors import ObjectMissingError

            raise ObjectMissingError(
                f"the folder {v.name} is not in the cache and no remote holds its stats",
                "get it with `cairn pull` (or `cairn fetch`) at that revision",
                [v.oid],
            )
        kind, body = describe(v.name, v.kind, files, repo.progress)
    rec = build(v.oid, kind, body)
    st.put(rec)
    return rec, "computed"


@contextmanager
def _rebuilt(repo: Repo, files: list[FileRef] | None) -> Iterator[list[FileRef] | None]:
    """`files` with the tables held only as chunks (a large file added with chunking on) rebuilt,
    verified, into temporary files for the reading, removed after: the cache keeps no second,
    whole copy of them. Other files are left as they are (a file that is not a table is never read)."""
    from cairn.datastats.describe import FileRef
    from cairn.datastats.read import format_of

    temps: list[str] = []
    out = files
    try:
        if files is not None:
            out = []
            for f in files:
                cl = repo.store.chunk_list(f.oid) if f.path is None and f.oid and format_of(f.rel) else None
                if cl is not None:
                    tmp = repo.store.tmp_path("stats")
                    temps.append(tmp)
                    with open(tmp, "wb") as fh:
                        repo.store.assemble_to(cl, fh.fileno(), f.rel)
                    f = FileRef(f.rel, tmp, os.path.getsize(tmp), f.oid)
                out.append(f)
        yield out
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _wants_data(v: Version, files: list[FileRef]) -> bool:
    from cairn.datastats.describe import is_table

    return is_table(v.name, v.kind, files)


def _files(repo: Repo, v: Version) -> list[FileRef] | None:
    """The files of the version and where their bytes are; None when its trees are missing."""
    from cairn.datastats.describe import FileRef

    in_ws = v.rev is None and v.here
    if v.kind == FILE:
        path = str(repo.ws.abs(v.rel)) if in_ws else repo.store.file_of(v.oid)
        size = os.path.getsize(path) if path else 0
        return [FileRef(v.rel.rpartition("/")[2], path, size, v.oid)]
    load = repo.ws.tree_loader(v.trees)
    out = []
    try:
        for rel, e in walk_files(v.oid, load):
            if in_ws:
                path: str | None = str(repo.ws.abs(v.rel) / rel)
            else:
                path = repo.store.file_of(e.oid)  # a packed object is copied out loose
            out.append(FileRef(rel, path, e.size, e.oid))
    except CairnError:
        return None
    return out


def _known(repo: Repo, remote: str | None) -> None:
    """A remote named with -r must exist even when the data is here and it is never read (a typo
    was silently ignored)."""
    if remote is not None:
        repo.remotes.need(remote)


def _from_remote(repo: Repo, v: Version, remote: str | None) -> dict[str, Any] | None:
    from cairn.datastats import transfer

    if remote is None and repo.remotes.default() is None:
        return None
    r = repo.remotes.open(remote)
    try:
        return transfer.read(store(repo), r, v.oid, f"of {v.name} on remote {r.name!r}")
    finally:
        r.close()


# -- travelling with push and pull (datastats/transfer.py) ----------------------------------


def push_stats(repo: Repo, r: Remote) -> int:
    from cairn.datastats import transfer

    return transfer.push(store(repo), r, repo.dot / "state")


def fetch_stats(repo: Repo, r: Remote, roots: list[tuple[str, str]]) -> int:
    from cairn.datastats import transfer

    return transfer.fetch(store(repo), r, roots)


# -- comparing versions -----------------------------------------------------------------------


def diff(
    repo: Repo, path: str, a: str | None = None, b: str | None = None, opts=None, remote: str | None = None
) -> dict[str, Any]:
    """Compare the stats of `path` at revision `a` (default HEAD) with `b` (default: the
    workspace); computed from the stored records, so neither version's data is read when both
    have stats."""
    from cairn.datastats.drift import compare, compare_files
    from cairn.errors import UserInputError

    if opts is not None:
        opts.check()  # a bad option is told before any data is read
    _known(repo, remote)
    va, vb = locate(repo, path, a or "HEAD"), locate(repo, path, b)
    ra, _ = record_of(repo, va, remote)
    rb, _ = record_of(repo, vb, remote)
    if ra["kind"] != rb["kind"]:
        raise UserInputError(
            f"{va.name} is a {_what(ra)} but {vb.name} is a {_what(rb)}: their statistics do not compare",
            "compare two versions of the same kind of data",
        )
    doc = compare(ra, rb, opts) if ra["kind"] == "table" else compare_files(ra, rb)
    return {"path": va.rel, "a": {"rev": va.rev, "oid": va.oid}, "b": {"rev": vb.rev, "oid": vb.oid}, **doc}


def _what(rec: dict[str, Any]) -> str:
    return "table" if rec["kind"] == "table" else "folder of other files"


# -- schema checks ----------------------------------------------------------------------------


def pipeline_section(repo: Repo, key: str, rev: str | None = None) -> Any:
    """One top-level section of cairn.yaml in the workspace or at `rev` (None when absent)."""
    if rev is None:
        path = repo.root / "cairn.yaml"
        text = path.read_bytes() if path.exists() else None
    else:
        text = repo._need_git("--rev").read_file(str(repo.git.resolve(rev).id), "cairn.yaml")
    if not text or key.encode() + b":" not in text:
        return None  # the common case costs no YAML parser (repro checks this every run)
    import yaml

    from cairn.errors import PipelineError

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise PipelineError(f"cairn.yaml is not valid YAML: {e}", "fix the file") from None
    return doc.get(key) if isinstance(doc, dict) else None


def check(repo: Repo, paths: list[str] | None = None, rev: str | None = None, remote: str | None = None) -> dict:
    """Check datasets against the `schema:` of cairn.yaml: {"ok", "datasets": [{path, rev, oid,
    ok, problems}]}."""
    from cairn.datastats.schema import check as check_one
    from cairn.datastats.schema import parse
    from cairn.errors import UserInputError

    _known(repo, remote)
    schemas = parse(pipeline_section(repo, "schema"))  # today's rules, also for a past version
    if not schemas:
        raise UserInputError(
            "cairn.yaml declares no schema:",
            "add one for a dataset: see docs/datastats.md",
        )
    picked = list(schemas)
    if paths:
        picked = [repo_path(repo, p) for p in paths]
        for p in picked:
            if p not in schemas:
                raise UserInputError(f"cairn.yaml has no schema for {p}", f"schemas: {', '.join(sorted(schemas))}")
    results = []
    for p in picked:
        v = locate(repo, p, rev)
        rec, _ = record_of(repo, v, remote)
        problems = check_one(schemas[p], rec)
        results.append({"path": p, "rev": rev, "oid": v.oid, "ok": not problems, "problems": problems})
    return {"ok": all(r["ok"] for r in results), "datasets": results}


def check_stage_inputs(repo: Repo, graph, stages: list[str] | None = None) -> None:
    """Before repro runs anything: every dataset with a schema that a stage reads (and no stage
    writes) must pass it, so a broken input stops the run naming the column, before any stage
    spends time. No `schema:` in cairn.yaml: nothing is read."""
    section = pipeline_section(repo, "schema")
    if section is None:
        return  # the common case: no schema, nothing to import or read
    from cairn.datastats.schema import check as check_one
    from cairn.datastats.schema import parse
    from cairn.errors import SchemaViolationError

    schemas = parse(section)
    if not schemas:
        return
    written = {o.path for s in graph.pipeline.stages.values() for o in s.outs}
    readers: dict[str, list[str]] = {}
    for name, s in graph.pipeline.stages.items():
        if stages and name not in stages:
            continue
        for d in s.deps:
            if d in schemas and d not in written:
                readers.setdefault(d, []).append(name)
    problems = []
    for path, names in readers.items():
        if not (repo.root / path).exists():
            continue  # the stage reports its missing input itself
        rec, _ = record_of(repo, locate(repo, str(repo.root / path), None))
        problems += [f"{path}: {p} (read by {', '.join(names)})" for p in check_one(schemas[path], rec)]
    if problems:
        raise SchemaViolationError(
            f"input data breaks its schema: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            "fix the data or the schema: in cairn.yaml; `cairn data check` lists every problem",
            problems,
        )


# -- monitors ---------------------------------------------------------------------------------


def monitor_run(repo: Repo, name: str, batches: list[str], remote: str | None = None) -> dict[str, Any]:
    """Compare a production batch (files or folders of them) with the monitor's reference, append
    a row to its history, and on alert run its `on_alert` command with the summary on stdin."""
    import datetime

    from cairn.datastats import monitor as mon
    from cairn.datastats.describe import describe
    from cairn.datastats.drift import compare

    _known(repo, remote)
    m = mon.parse(pipeline_section(repo, "monitors"), name)
    ref, _ = record_of(repo, locate(repo, str(repo.root / m.reference), _reference_rev(repo, m.rev)), remote)
    label = ", ".join(batches)
    with _local_batches(repo, batches, remote) as local:
        kind, body = describe(label, TREE, mon.batch_files(local), repo.progress, own_names=True)
        if kind != "table":
            from cairn.errors import DataStatsError

            raise DataStatsError(f"the batch {label} holds no table", "give CSV/TSV, Parquet or JSON Lines files")
        features = mon.check_columns(m, ref, body, label)
        m.opts.columns = features
        drift = compare(ref, body, m.opts)
        when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        s = mon.summary(m, label, when, body["rows"], drift)
        s["warnings"] = body.get("warnings", [])
        ev = m.evaluate
        if ev is not None and (ev.labels is None or any(c["name"] == ev.labels for c in body["columns"])):
            from cairn.datastats import evaluate

            s["metrics"] = evaluate.run(ev, name, local, repo.root)
            s["metric_failures"] = evaluate.judge(ev, s["metrics"])
            s["alert"] = s["alert"] or bool(s["metric_failures"])
    mon.append_history(repo.root / m.history, features, s)
    s["history"] = m.history
    if s["alert"] and m.on_alert:
        s["on_alert"] = mon.run_on_alert(m.on_alert, s, repo.root)
    s["drift"] = drift
    return s


def _reference_rev(repo: Repo, rev: str | None) -> str | None:
    """A git revision, or a registered model (`NAME@STAGE`, `NAME@vX.Y.Z`): the commit it was
    registered at, so the reference is the dataset the model was trained on."""
    from cairn.errors import RevisionError

    if rev is None:
        return None
    git = repo._need_git("a monitor reference at a revision")
    try:
        git.resolve(rev)
        return rev
    except RevisionError:
        pass
    from cairn.repo.registry import resolve_ref

    try:
        return resolve_ref(repo, rev)
    except CairnError as e:
        raise RevisionError(
            f"the monitor's reference revision {rev!r} is neither a git revision nor a registered model: {e.message}",
            "write reference: PATH@REV with a branch, tag or commit, or PATH@MODEL@STAGE (see `cairn model list`)",
        ) from None


@contextmanager
def _local_batches(repo: Repo, batches: list[str], remote: str | None) -> Iterator[list[str]]:
    """The batches as local paths: a URL (an S3 prefix that `model serve --log-requests` or a
    service writes to) is downloaded to a temporary folder first, with the settings (endpoint,
    credentials) of remote `remote`, else of the default remote."""
    import shutil
    import tempfile

    urls = [b for b in batches if "://" in b]
    if not urls:
        yield batches
        return
    from cairn.datastats.read import format_of
    from cairn.storage import open_storage

    name = remote or repo.remotes.default()
    options = {
        k: v for k, v in (repo.config.remotes().get(name) or {}).items() if k not in ("url", "jobs", "pack_size")
    }
    (repo.dot / "tmp").mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="batch-", dir=repo.dot / "tmp")
    try:
        local = []
        for i, b in enumerate(batches):
            if "://" not in b:
                local.append(b)
                continue
            storage = open_storage(b.rstrip("/"), options)
            dest = os.path.join(tmp, str(i))
            keys = sorted(k for k, _ in storage.list("") if format_of(k))
            if not keys:
                raise PathError(f"{b} holds no CSV/TSV, Parquet or JSON Lines file", "check the prefix")
            for k in keys:
                os.makedirs(os.path.dirname(os.path.join(dest, k)), exist_ok=True)
                storage.get_file(k, os.path.join(dest, k))
            storage.close()
            local.append(dest)
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def monitor_show(repo: Repo, name: str, html_dir: str | None = None) -> dict[str, Any]:
    """The monitor's history rows; with `html_dir`, an offline trend page written there."""
    from cairn.datastats import monitor as mon

    m = mon.parse(pipeline_section(repo, "monitors"), name)
    rows = mon.read_history(repo.root / m.history)
    doc: dict[str, Any] = {"monitor": name, "history": m.history, "rows": [mon.typed_row(r) for r in rows]}
    if html_dir is not None:
        doc["html"] = str(mon.trend_page(m, rows, Path(html_dir)))
    return doc
