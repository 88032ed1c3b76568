"""A derived SQLite index of what lineage asks of history (`.cairn/state/lineage.db`), so that
answers over thousands of commits and experiments stay fast.

Commits never change, so every row is a fact about one commit or one lock blob, written once:
each commit's first parent, author and lock blob, the paths it changed against that parent and
the lock entries it changed; each distinct lock's deps and outs. Walking history then means
hopping between the few commits where something that matters changed, instead of reading every
commit's tree, and `--downstream` asks one query instead of parsing every lock.

Reachability is never stored: each sync walks the refs (cheap with libgit2) and indexes only the
commits it has not seen, so deleted refs and rewritten branches need no invalidation. A damaged,
foreign or older file is deleted and rebuilt, as exps.db is."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from cairn.errors import CairnError
from cairn.pipelines import lock as lock_mod

SCHEMA_VERSION = 1
REFS = ("refs/heads/", "refs/tags/", "refs/cairn/exps/")
ANY_STAGE = "*"  # entry_changed row of a lock whose layout could not be split into entries
_LOCK = lock_mod.LOCK_FILE

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits (
    sha TEXT PRIMARY KEY, parent TEXT, lock TEXT, time INTEGER, offset INTEGER,
    author TEXT, email TEXT, summary TEXT, exp TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changed (sha TEXT, path TEXT);
CREATE INDEX IF NOT EXISTS changed_path ON changed (path);
CREATE TABLE IF NOT EXISTS entry_changed (sha TEXT, stage TEXT);
CREATE INDEX IF NOT EXISTS entry_changed_stage ON entry_changed (stage);
CREATE TABLE IF NOT EXISTS locks (blob TEXT PRIMARY KEY, ok INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deps (lock TEXT, pos INTEGER, stage TEXT, path TEXT, oid TEXT, kind TEXT);
CREATE INDEX IF NOT EXISTS deps_path ON deps (path);
CREATE INDEX IF NOT EXISTS deps_lock ON deps (lock);
CREATE TABLE IF NOT EXISTS outs (lock TEXT, pos INTEGER, stage TEXT, path TEXT, oid TEXT, kind TEXT, size INTEGER);
CREATE INDEX IF NOT EXISTS outs_lock ON outs (lock);
CREATE INDEX IF NOT EXISTS outs_path ON outs (path);
"""


@dataclass(frozen=True)
class PathRef:
    """A dep or out as the index holds it (the fields lineage compares)."""

    path: str
    oid: str | None
    kind: str
    size: int | None = None


@dataclass
class Entry:
    deps: list[PathRef]
    outs: list[PathRef]


class LineageIndex:
    def __init__(self, path: Path, repo: pygit2.Repository) -> None:
        self.path = path
        self.repo = repo
        self.order: list[str] = []  # reachable commits, newest first (topological), after sync()
        self._chain: dict[str, tuple[str | None, str]] | None = None
        self._stage_changes: dict[str, set[str]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:
            self._delete()
            self.db = self._open()

    # -- the file --------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # derived data: a lost tail is re-indexed
            row = None
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            except sqlite3.OperationalError:
                pass  # a new file
            if row is not None and row[0] != str(SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"lineage index version {row[0]}")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _delete(self) -> None:
        for suffix in ("", "-wal", "-shm"):  # a stale WAL must not be replayed into the new file
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        self.db.close()

    # -- bringing it up to date --------------------------------------------------------------
    def sync(self) -> None:
        """Index every commit reachable from branches, tags and experiments not indexed yet."""
        try:
            self._sync()
        except sqlite3.DatabaseError:
            self.db.close()
            self._delete()
            self.db = self._open()
            self._sync()

    def _sync(self) -> None:
        known = {sha for (sha,) in self.db.execute("SELECT sha FROM commits")}
        order: list[str] = []
        new: list[pygit2.Commit] = []
        for commit in self._walk():
            sha = str(commit.id)
            order.append(sha)
            if sha not in known:
                new.append(commit)
        self.order = order
        self._chain = None
        self._stage_changes = {}
        if new:
            _Writer(self, known).write(new)

    def ensure(self, commit: str) -> None:
        """Make sure `commit` and its first-parent ancestors are indexed (upstream needs no more).
        Every sync indexes whole histories, so a known commit's ancestors are known too."""
        if commit in self._links():
            return
        self.sync()
        known = set(self._links())
        if commit in known:
            return
        missing = []  # a commit no ref reaches (detached HEAD, a bare sha): its chain down to known
        sha: str | None = commit
        while sha is not None and sha not in known:
            obj = self.repo[sha]
            missing.append(obj)
            sha = str(obj.parent_ids[0]) if obj.parent_ids else None
        _Writer(self, known).write(missing)
        self._chain, self._stage_changes = None, {}

    def _walk(self) -> Iterator[pygit2.Commit]:
        tips = []
        for name in self.repo.references:
            if name.startswith(REFS):
                try:
                    tips.append(self.repo.references[name].peel(pygit2.Commit).id)
                except (pygit2.GitError, ValueError, KeyError):
                    continue
        if not tips:
            return iter(())
        walker = self.repo.walk(tips[0], pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
        for tip in tips[1:]:
            walker.push(tip)
        return iter(walker)

    # -- questions ---------------------------------------------------------------------------
    def chain(self, start: str) -> Iterator[tuple[str, str]]:
        """(commit, first parent) pairs walking back from `start`."""
        self.ensure(start)
        links = self._links()
        sha = start
        while True:
            parent = links.get(sha, (None, ""))[0]
            if parent is None or parent not in links:  # the root, or beyond a shallow clone
                return
            yield sha, parent
            sha = parent

    def _links(self) -> dict[str, tuple[str | None, str]]:
        if self._chain is None:
            self._chain = {
                sha: (parent or None, lock)
                for sha, parent, lock in self.db.execute("SELECT sha, parent, lock FROM commits")
            }
        return self._chain

    def stage_changes(self, stage: str) -> set[str]:
        """Commits whose lock entry of `stage` differs from their first parent's."""
        if stage not in self._stage_changes:
            rows = self.db.execute("SELECT sha FROM entry_changed WHERE stage IN (?, ?)", (stage, ANY_STAGE))
            self._stage_changes[stage] = {sha for (sha,) in rows}
        return self._stage_changes[stage]

    def path_changes(self, path: str, pointer_suffix: str) -> set[str]:
        """Commits where how `path` is tracked may differ from their first parent: the path (or
        anything under it) changed in git, a pointer at it or a folder above it changed, or the
        lock changed between versions of which one has an out at it or above it."""
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
        names = [*prefixes[:1], *(p + pointer_suffix for p in prefixes)]
        marks = ",".join("?" * len(names))
        found = {
            sha
            for (sha,) in self.db.execute(
                f"SELECT sha FROM changed WHERE path IN ({marks}) OR substr(path, 1, ?) = ?",
                (*names, len(path) + 1, path + "/"),
            )
        }
        marks = ",".join("?" * len(prefixes))
        holding = {lk for (lk,) in self.db.execute(f"SELECT lock FROM outs WHERE path IN ({marks})", prefixes)}
        holding |= {lk for (lk,) in self.db.execute("SELECT blob FROM locks WHERE ok = 0")}
        if holding:
            links = self._links()
            for (sha,) in self.db.execute("SELECT sha FROM changed WHERE path = ?", (_LOCK,)):
                parent, lock = links.get(sha, (None, ""))
                if lock in holding or (parent is not None and links.get(parent, (None, ""))[1] in holding):
                    found.add(sha)
        return found

    def candidate_deps(self, path: str, oid: str, kind: str) -> list[tuple[str, str, str, str | None, str]]:
        """(lock, stage, dep path, dep oid, dep kind) of deps that may have read version `oid` of
        `path`: the path itself at that id, a folder above it, or (for a folder) a path inside it."""
        parts = path.split("/")
        above = ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
        sql = "SELECT lock, stage, path, oid, kind FROM deps WHERE (path = ? AND oid = ?)"
        args: list[Any] = [path, oid]
        if above:
            sql += f" OR (kind = 'tree' AND path IN ({','.join('?' * len(above))}))"
            args += above
        if kind == "tree":
            sql += " OR substr(path, 1, ?) = ?"
            args += [len(path) + 1, path + "/"]
        return list(self.db.execute(sql, args))

    def entries(self, lock: str) -> dict[str, Entry]:
        """The lock's stages in file order with their deps and outs."""
        out: dict[str, Entry] = {}
        for stage, path, oid, kind in self.db.execute(
            "SELECT stage, path, oid, kind FROM deps WHERE lock = ? ORDER BY pos", (lock,)
        ):
            out.setdefault(stage, Entry([], [])).deps.append(PathRef(path, oid, kind))
        for stage, path, oid, kind, size in self.db.execute(
            "SELECT stage, path, oid, kind, size FROM outs WHERE lock = ? ORDER BY pos", (lock,)
        ):
            out.setdefault(stage, Entry([], [])).outs.append(PathRef(path, oid, kind, size))
        return out

    def outs_of(self, lock: str) -> dict[str, tuple[str, PathRef]] | None:
        """out path -> (stage, out) of a lock; None when the index could not read it."""
        row = self.db.execute("SELECT ok FROM locks WHERE blob = ?", (lock,)).fetchone()
        if row is None or not row[0]:
            return None
        rows = self.db.execute("SELECT stage, path, oid, kind, size FROM outs WHERE lock = ? ORDER BY pos", (lock,))
        return {path: (stage, PathRef(path, oid, kind, size)) for stage, path, oid, kind, size in rows}

    def unparsed_locks(self) -> set[str]:
        return {blob for (blob,) in self.db.execute("SELECT blob FROM locks WHERE ok = 0")}

    def commits_with(self, locks: set[str]) -> dict[str, dict[str, Any]]:
        """sha -> commit facts (author, date parts, summary, experiment) of commits holding a lock."""
        out: dict[str, dict[str, Any]] = {}
        marks = ",".join("?" * len(locks))
        for sha, time, offset, author, email, summary, exp in self.db.execute(
            f"SELECT sha, time, offset, author, email, summary, exp FROM commits WHERE lock IN ({marks})",
            sorted(locks),
        ):
            out[sha] = {"time": time, "offset": offset, "author": author, "email": email, "summary": summary}
            out[sha]["exp"] = exp
        return out

    def lock_of(self, sha: str) -> str:
        return self._links().get(sha, (None, ""))[1]


class _Writer:
    """Indexes new commits: their facts, the paths and lock entries they changed, and every lock
    blob not seen before, in one transaction."""

    def __init__(self, index: LineageIndex, known: set[str]) -> None:
        self.index, self.repo, self.known = index, index.repo, known
        self.texts: dict[str, tuple[dict[str, str], str] | None] = {}
        self.locks = {blob for (blob,) in index.db.execute("SELECT blob FROM locks")}

    def write(self, commits: list[pygit2.Commit]) -> None:
        from cairn.experiments.record import parse_message

        rows, changed, entries, lock_rows, deps, outs = [], [], [], [], [], []
        for commit in commits:
            sha = str(commit.id)
            lock = _blob_id(commit.tree, _LOCK)
            parent = commit.parents[0] if commit.parent_ids else None
            info = parse_message(commit.message, sha, "")
            a = commit.author
            summary = commit.message.split("\n", 1)[0]
            rows.append(
                (
                    sha,
                    str(parent.id) if parent else "",
                    lock,
                    a.time,
                    a.offset,
                    a.name,
                    a.email,
                    summary,
                    info.name if info is not None else None,
                )
            )
            if lock and lock not in self.locks:
                self.locks.add(lock)
                ok = self._lock_rows(lock, deps, outs)
                lock_rows.append((lock, int(ok)))
            if parent is None:
                continue
            paths = _changed_paths(parent.tree, commit.tree)
            changed += [(sha, p) for p in paths]
            if _LOCK in paths:
                entries += [(sha, s) for s in self._changed_entries(_blob_id(parent.tree, _LOCK), lock)]
        db = self.index.db
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO changed VALUES (?, ?)", changed)
        db.executemany("INSERT INTO entry_changed VALUES (?, ?)", entries)
        db.executemany("INSERT OR IGNORE INTO locks VALUES (?, ?)", lock_rows)
        db.executemany("INSERT INTO deps VALUES (?, ?, ?, ?, ?, ?)", deps)
        db.executemany("INSERT INTO outs VALUES (?, ?, ?, ?, ?, ?, ?)", outs)
        db.execute("COMMIT")
        self.known.update(r[0] for r in rows)

    def _text(self, blob: str) -> tuple[dict[str, str], str] | None:
        if blob not in self.texts:
            from cairn.lineage.view import text_parts

            self.texts[blob] = text_parts(self.repo[blob].data.decode("utf-8", "replace")) if blob else ({}, "")
        return self.texts[blob]

    def _changed_entries(self, before: str, after: str) -> list[str]:
        a, b = self._text(before), self._text(after)
        if a is None or b is None:
            return [ANY_STAGE]
        return [s for s in dict.fromkeys([*a[0], *b[0]]) if a[0].get(s) != b[0].get(s)]

    def _lock_rows(self, blob: str, deps: list, outs: list) -> bool:
        """Deps and outs of every stage of one lock; False when it does not parse."""
        parsed = self._parse(blob)
        if parsed is None:
            return False
        pos = 0
        for stage, entry in parsed.items():
            for d in entry.deps:
                deps.append((blob, pos, stage, d.path, d.oid, d.kind))
                pos += 1
            for o in entry.outs:
                outs.append((blob, pos, stage, o.path, o.oid, o.kind, o.size))
                pos += 1
        return True

    def _parse(self, blob: str) -> dict[str, Entry] | None:
        parts = self._text(blob)
        if parts is not None:
            fast = {}
            for stage, text in parts[0].items():
                entry = fast_entry(text)
                if entry is None:
                    break
                fast[stage] = entry
            else:
                return fast
        try:
            lock = lock_mod.parse(self.repo[blob].data.decode("utf-8", "replace"), f"{_LOCK} blob {blob[:7]}")
        except CairnError:
            return None
        return {
            name: Entry(
                [PathRef(d.path, d.oid, d.kind) for d in e.deps],
                [PathRef(o.path, o.oid, o.kind, o.size) for o in e.outs],
            )
            for name, e in lock.items()
        }


def _blob_id(tree: pygit2.Tree, path: str) -> str:
    try:
        obj = tree[path]
    except KeyError:
        return ""
    return str(obj.id) if obj.type_str == "blob" else ""


def _changed_paths(old: pygit2.Tree, new: pygit2.Tree) -> list[str]:
    diff = old.diff_to_tree(new)
    paths: dict[str, None] = {}
    for delta in diff.deltas:
        paths[delta.old_file.path] = None
        paths[delta.new_file.path] = None
    return list(paths)


# -- the lock entries cairn writes, read without YAML ------------------------------------------
# An entry in the layout of pipelines/lock.py: `deps:`/`outs:` lists of `- path:` items with
# kind, oid, size, files. Anything else (quotes, flow style, unknown keys) goes to the YAML parser.
_ITEM = re.compile(
    r"    - path: ([^\s'\"#{}\[\]&*!|>%@`][^\n#]*?)\n"
    r"      kind: (file|tree)\n"
    r"      oid: ([0-9a-f]{64}|null)\n"
    r"      size: (\d+|null)\n"
    r"(?:      files: (?:\d+|null)\n)?"
)
_SECTION = re.compile(r"^    (deps|outs):\n", re.M)
_ANY_SECTION = re.compile(r"^    (?:deps|outs):", re.M)


def fast_entry(text: str) -> Entry | None:
    if len(_ANY_SECTION.findall(text)) != len(_SECTION.findall(text)):
        return None  # `deps: []` or another flow style
    entry = Entry([], [])
    for m in _SECTION.finditer(text):
        section = m.group(1)
        pos = m.end()
        items = entry.deps if section == "deps" else entry.outs
        while text.startswith("    - ", pos):
            item = _ITEM.match(text, pos)
            if item is None:
                return None
            path, kind, oid, size = item.groups()
            known = None if size == "null" or section == "deps" else int(size)  # the index keeps outs' sizes only
            items.append(PathRef(path, None if oid == "null" else oid, kind, known))
            pos = item.end()
        if text.startswith("      ", pos):
            return None  # an item key the pattern does not know
    return entry


def open_index(state_dir: Path, repo: pygit2.Repository, sync: bool = True) -> LineageIndex:
    """The index, brought up to date with every ref (`sync`), or left to index on demand."""
    index = LineageIndex(state_dir / "lineage.db", repo)
    if sync:
        index.sync()
    return index
