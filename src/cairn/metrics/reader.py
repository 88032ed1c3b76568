"""Files as they are at a revision, read without checking anything out.

A file at a git revision is its git blob when git tracks it; otherwise, when it is a cached
output, the object that revision's cairn.lock (or a committed `.cairn` pointer) names, read
from the cache, and fetched from the default remote when the cache lacks it. The workspace is
read from disk. Everything parsed is cached by content id (git blob id or cairn object id), so
a cairn.yaml or a metrics file shared by many commits is parsed once."""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cairn.errors import CairnError, ObjectMissingError, PipelineError
from cairn.index import pointer as ptr
from cairn.metrics.revisions import Rev
from cairn.objects.tree import FILE, TREE, Tree, walk_files
from cairn.pipelines import lock as lock_mod
from cairn.pipelines import spec as spec_mod
from cairn.pipelines.lock import StageLock
from cairn.pipelines.params import DEFAULT_PARAMS
from cairn.pipelines.spec import PIPELINE_FILE, Pipeline
from cairn.pipelines.yamlfile import parse as parse_yaml
from cairn.workspace.context import data_rel

_BLOB, _GITTREE = "blob", "tree"


@dataclass
class Found:
    """A file's content at a revision: `data` None and `error` None means it does not exist."""

    path: str
    data: bytes | None = None
    key: str | None = None  # content id ("git:<sha1>" or "obj:<oid>"); None for workspace files
    error: CairnError | None = None


@dataclass
class _Loc:
    kind: str  # disk | git | obj | dir | missing | error
    path: str
    blob: Any = None  # pygit2 blob for git
    oid: str | None = None  # cairn object id for obj (file) and dir (tree)
    error: CairnError | None = None


@dataclass
class PlotDef:
    path: str
    props: dict[str, Any]


class Reader:
    """Reads many revisions of a repository, sharing parsed content between them."""

    def __init__(self, repo) -> None:
        self.repo = repo
        self._snapshots: dict[str, Snapshot] = {}
        self._memo: dict[tuple[str, str], Any] = {}
        self._trees: dict[str, Tree] = {}
        self.parses: Counter[str] = Counter()  # parses actually done, by kind (the rest came from the memo)

    def snapshot(self, rev: Rev) -> Snapshot:
        snap = self._snapshots.get(rev.name)
        if snap is None:
            snap = self._snapshots[rev.name] = Snapshot(self, rev)
        return snap

    def memo(self, kind: str, key: str | None, make: Callable[[], Any]) -> Any:
        """`make()`, remembered under (kind, key) when the content has an id. Errors are not
        remembered: they name the revision they were met at, and broken files are rare."""
        if key is None:
            self.parses[kind] += 1
            return make()
        slot = (kind, key)
        if slot not in self._memo:
            self.parses[kind] += 1
            self._memo[slot] = make()
        return self._memo[slot]

    # -- cache objects ----------------------------------------------------------------------
    def tree(self, oid: str) -> Tree:
        t = self._trees.get(oid)
        if t is None:
            if not self.repo.store.exists(oid):
                err = self.fetch([oid]).get(oid)
                if err is not None:
                    raise err
            t = self._trees[oid] = Tree.from_bytes(self.repo.store.read(oid), oid)
        return t

    def fetch(self, oids: Iterable[str]) -> dict[str, CairnError]:
        """Bring objects into the cache from the default remote; the ones that could not be had,
        with why."""
        oids = sorted(set(oids))
        if not oids:
            return {}
        remote = self.repo.remotes.default()
        if not remote:
            err = ObjectMissingError(
                f"{len(oids)} cached file(s) are not in the local cache and no default remote is set",
                "fetch them (`cairn fetch --all-commits`), or set a default remote (`cairn remote default NAME`)",
                oids,
            )
            return dict.fromkeys(oids, err)
        try:
            result = self.repo.fetch([(FILE, oid) for oid in oids], remote)
        except CairnError as e:
            return dict.fromkeys(oids, e)
        missing = set(result.missing) | set(result.corrupt)
        err = ObjectMissingError(
            f"cached file(s) are neither in the local cache nor on remote {remote!r}",
            "push them from a clone that has them (`cairn push`)",
            sorted(missing),
        )
        return {oid: err for oid in oids if oid in missing or not self.repo.store.exists(oid)}

    def read_all(self, wanted: Iterable[tuple[Snapshot, str]]) -> dict[tuple[str, str], Found]:
        """Read many (snapshot, path) at once: cached outputs missing from the cache are fetched
        from the default remote in one go. Keyed by (revision name, path)."""
        locs = [(snap, snap.locate(path)) for snap, path in wanted]
        errors = self.fetch(loc.oid for _, loc in locs if loc.kind == "obj" and not self.repo.store.exists(loc.oid))
        out: dict[tuple[str, str], Found] = {}
        for snap, loc in locs:
            out[(snap.rev.name, loc.path)] = snap.read_loc(loc, errors)
        return out


class Snapshot:
    """One revision: its pipeline, its lock and its files."""

    def __init__(self, reader: Reader, rev: Rev) -> None:
        self.reader = reader
        self.rev = rev
        self.root: Path = reader.repo.root

    # -- git tree ---------------------------------------------------------------------------
    @cached_property
    def _tree(self):
        if self.rev.commit is None:
            return None
        git = self.reader.repo.git
        return git.repo[self.rev.commit].tree

    def _git_obj(self, path: str):
        try:
            return self._tree[path]
        except (KeyError, ValueError):
            return None

    def _git_blob(self, path: str):
        obj = self._git_obj(path)
        return obj if obj is not None and obj.type_str == _BLOB else None

    # -- pipeline and lock --------------------------------------------------------------------
    @cached_property
    def _pipeline(self) -> Pipeline | CairnError | None:
        try:
            if self.rev.is_workspace:
                return spec_mod.load_pipeline(self.root)
            blob = self._git_blob(PIPELINE_FILE)
            if blob is None:
                return None
            return self._build(blob)
        except PipelineError as e:
            if self.rev.is_workspace:
                return e
            return PipelineError(f"{e.message} ({self.rev.where})", e.hint, e.problems)

    @property
    def pipeline_key(self) -> str | None:
        """The id of this revision's cairn.yaml content (None for the workspace)."""
        if self.rev.is_workspace:
            return None
        blob = self._git_blob(PIPELINE_FILE)
        return f"git:{blob.id}" if blob is not None else None

    def pipeline(self) -> Pipeline | None:
        """cairn.yaml at this revision, or None; PipelineError when it is invalid."""
        p = self._pipeline
        if isinstance(p, CairnError):
            raise p
        return p

    def _build(self, blob) -> Pipeline:
        text = blob.data.decode("utf-8", errors="replace")
        doc = self.reader.memo("yaml", f"git:{blob.id}", lambda: parse_yaml(text, PIPELINE_FILE))
        # Interpolation reads params.yaml and `vars` files: only then do they belong to the key.
        needs: list[str] = []
        data = doc.data if isinstance(doc.data, dict) else {}
        if "${" in text or data.get("vars"):
            needs.append(DEFAULT_PARAMS)
            for entry in data.get("vars") or []:
                if isinstance(entry, str):
                    needs.append(entry.partition(":")[0])
        blobs = {name: self._git_blob(name) for name in needs}
        key = ":".join([str(blob.id)] + [f"{n}={b.id if b is not None else '-'}" for n, b in blobs.items()])

        def build() -> Pipeline:
            with tempfile.TemporaryDirectory(prefix="cairn-spec-") as tmp:
                for name, b in blobs.items():
                    if b is not None and not posixpath.isabs(name) and ".." not in name.split("/"):
                        target = Path(tmp, name)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(b.data)
                return spec_mod.build(doc, Path(tmp))

        return self.reader.memo("pipeline", key, build)

    @cached_property
    def _lock(self) -> dict[str, StageLock] | CairnError:
        try:
            if self.rev.is_workspace:
                return lock_mod.read(self.root)
            blob = self._git_blob(lock_mod.LOCK_FILE)
            if blob is None:
                return {}
            where = f"{lock_mod.LOCK_FILE} ({self.rev.where})"
            return self.reader.memo("lock", f"git:{blob.id}", lambda: lock_mod.parse(blob.data.decode(), where))
        except CairnError as e:
            return e

    @cached_property
    def _outs(self) -> dict[str, tuple[str, str]]:
        lock = self._lock
        if isinstance(lock, CairnError):
            raise lock
        return {o.path: (o.kind, o.oid) for entry in lock.values() for o in entry.outs}

    # -- what cairn.yaml declares ----------------------------------------------------------
    def metrics_files(self) -> list[str]:
        pipe = self.pipeline()
        if pipe is None:
            return []
        paths = list(pipe.metrics)
        paths += [o.path for s in pipe.stages.values() for o in s.outs if o.kind == "metrics"]
        return list(dict.fromkeys(paths))

    def params_files(self) -> list[str]:
        pipe = self.pipeline()
        paths = [DEFAULT_PARAMS] if self.exists(DEFAULT_PARAMS) else []
        if pipe is not None:
            paths += pipe.params
            paths += [ref.file for s in pipe.stages.values() for ref in s.params]
        return list(dict.fromkeys(paths))

    def plot_defs(self) -> list[PlotDef]:
        pipe = self.pipeline()
        if pipe is None:
            return []
        defs: dict[str, PlotDef] = {}
        outs = [o for s in pipe.stages.values() for o in s.outs if o.kind == "plots"]
        for out in [*pipe.plots, *outs]:
            d = defs.setdefault(out.path, PlotDef(out.path, {}))
            for k, v in out.props.items():
                d.props.setdefault(k, v)
        return list(defs.values())

    # -- files ------------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        if self.rev.is_workspace:
            return (self.root / path).exists()
        return self._git_obj(path) is not None

    def locate(self, path: str) -> _Loc:
        try:
            return self._locate(path)
        except CairnError as e:
            return _Loc("error", path, error=e)

    def _locate(self, path: str) -> _Loc:
        if self.rev.is_workspace:
            p = self.root / path
            if p.is_file():
                return _Loc("disk", path)
            return _Loc("dir", path) if p.is_dir() else _Loc("missing", path)
        obj = self._git_obj(path)
        if obj is not None:
            return _Loc("git", path, blob=obj) if obj.type_str == _BLOB else _Loc("dir", path, blob=obj)
        cached = self._cached(path)
        if cached is None:
            return _Loc("missing", path)
        kind, oid = cached
        return _Loc("obj" if kind == FILE else "dir", path, oid=oid)

    def _cached(self, path: str) -> tuple[str, str] | None:
        """(kind, oid) of `path` as a cached output (the lock) or tracked data (a pointer)."""
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            top, rest = "/".join(parts[:i]), parts[i:]
            entry = self._outs.get(top) or self._pointer(top)
            if entry is not None:
                return self._descend(entry, rest)
        return None

    def _pointer(self, data_path: str) -> tuple[str, str] | None:
        blob = self._git_blob(data_path + ptr.SUFFIX)
        if blob is None:
            return None
        where = f"{data_path}{ptr.SUFFIX} ({self.rev.where})"
        p = self.reader.memo("pointer", f"git:{blob.id}", lambda: ptr.parse(blob.data, where))
        if data_rel(data_path + ptr.SUFFIX, p) != data_path:
            return None
        return p.kind, p.oid

    def _descend(self, entry: tuple[str, str], rest: list[str]) -> tuple[str, str] | None:
        kind, oid = entry
        for name in rest:
            if kind != TREE:
                return None
            e = self.reader.tree(oid).get(name)
            if e is None:
                return None
            kind, oid = e.kind, e.oid
        return kind, oid

    def read_loc(self, loc: _Loc, fetch_errors: dict[str, CairnError] | None = None) -> Found:
        if loc.kind == "error":
            return Found(loc.path, error=loc.error)
        if loc.kind == "disk":
            try:
                return Found(loc.path, (self.root / loc.path).read_bytes())
            except OSError as e:
                return Found(loc.path, error=PipelineError(f"cannot read {loc.path}: {e.strerror}", None))
        if loc.kind == "git":
            return Found(loc.path, loc.blob.data, f"git:{loc.blob.id}")
        if loc.kind == "obj":
            assert loc.oid is not None
            err = (fetch_errors or {}).get(loc.oid)
            if err is not None:
                msg = f"{loc.path} ({self.rev.where}) is a cached file that could not be read: {err.message}"
                return Found(loc.path, key=f"obj:{loc.oid}", error=type(err)(msg, err.hint))
            try:
                return Found(loc.path, self.reader.repo.store.read(loc.oid), f"obj:{loc.oid}")
            except CairnError as e:
                return Found(loc.path, key=f"obj:{loc.oid}", error=e)
        return Found(loc.path)  # missing, or a folder

    def read(self, path: str) -> Found:
        return self.reader.read_all([(self, path)])[(self.rev.name, path)]

    def list_files(self, path: str) -> list[str] | None:
        """Files below folder `path` at this revision (repo-relative, sorted); None when `path`
        is not a folder there."""
        loc = self.locate(path)
        if loc.kind != "dir":
            return None
        if self.rev.is_workspace:
            base = self.root / path
            found = []
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                rel = Path(dirpath).relative_to(self.root).as_posix()
                found += [f"{rel}/{f}" for f in filenames if not f.startswith(".")]
            return sorted(found)
        if loc.blob is not None:
            return sorted(self._git_files(loc.blob, path))
        assert loc.oid is not None
        try:
            return sorted(f"{path}/{rel}" for rel, _ in walk_files(loc.oid, self.reader.tree))
        except CairnError:
            return []

    def _git_files(self, tree, prefix: str) -> Iterable[str]:
        for obj in tree:
            if obj.type_str == _GITTREE:
                yield from self._git_files(obj, f"{prefix}/{obj.name}")
            elif obj.type_str == _BLOB:
                yield f"{prefix}/{obj.name}"
