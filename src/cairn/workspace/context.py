"""What every workspace operation needs, wired once by the repo facade."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cairn.errors import PathError
from cairn.index import pointer as ptr
from cairn.index.hashpending import SPLIT_FILES as HASH_SPLIT_FILES
from cairn.index.ignore import Ignore
from cairn.index.scan import SPLIT_FILES
from cairn.index.snapshot import Snapshot, snapshot
from cairn.index.statcache import StatCache
from cairn.index.symlinks import LinkPolicy
from cairn.objects.store import ObjectStore
from cairn.objects.tree import Tree
from cairn.progress import NULL, Progress

DOT_DIR = ".cairn"
_SKIP_DIRS = {".git", DOT_DIR}


@dataclass
class Workspace:
    root: Path
    store: ObjectStore
    stats: StatCache
    link_types: list[str]
    ignore: Ignore | None = None
    progress: Progress = NULL
    # no-op walks of this many files or more are split over processes (core.walk_split_files)
    walk_split_files: int = SPLIT_FILES
    # an add with this many files to hash or more is split over processes (core.hash_split_files)
    hash_split_files: int = HASH_SPLIT_FILES
    tmp: Path = field(init=False)
    _links: dict[bool, LinkPolicy] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.tmp = self.root / DOT_DIR / "tmp"

    # -- paths -----------------------------------------------------------------------------
    def rel(self, path: str | os.PathLike[str]) -> str:
        """Repo-relative '/'-separated path of a user-given path, refusing ones cairn can't track."""
        raw = os.fspath(path)
        absolute = Path(os.path.abspath(raw))
        try:
            rel = absolute.relative_to(self.root)
        except ValueError:
            raise PathError(
                f"{raw} is outside the repository at {self.root}",
                "move the data into the repository, or run cairn from the repository it belongs to",
            ) from None
        parts = rel.parts
        if not parts:
            raise PathError("the repository root itself cannot be tracked", "track a file or a folder inside it")
        if parts[0] in _SKIP_DIRS:
            raise PathError(
                f"{raw} is inside {parts[0]}/, which cairn manages itself",
                "track data outside .cairn/ and .git/",
            )
        return "/".join(parts)

    def abs(self, rel: str) -> Path:
        return self.root / rel

    def links(self, follow_all: bool = False) -> LinkPolicy:
        """Which links inside tracked folders are followed: those that stay in the repository
        (or, with `follow_all`, every one; a pointer's `follow_symlinks` says which)."""
        cached = self._links.get(follow_all)
        if cached is None:
            cached = self._links[follow_all] = LinkPolicy.for_repo(self.root, self.store.objects, follow_all)
        return cached

    # -- trees -----------------------------------------------------------------------------
    def walk(self, rel: str, links: LinkPolicy) -> Snapshot | None:
        """What is at `rel` now (None: nothing), as status, diff and checkout see it: sealed
        folders whose trees the cache holds are taken from their seals, unhashed."""
        return snapshot(
            self.abs(rel),
            rel,
            self.stats,
            self.ignore,
            progress=self.progress,
            links=links,
            have_tree=self.store.exists,
            split_files=self.walk_split_files,
        )

    def tree_loader(self, *extra: dict[str, bytes]):
        """Load trees from in-memory snapshots (encoded trees by id) first, then the cache."""
        memo: dict[str, Tree] = {}

        def load(oid: str) -> Tree:
            t = memo.get(oid)
            if t is None:
                data = next((d[oid] for d in extra if oid in d), None)
                if data is None:
                    data = self.store.read(oid)
                t = memo[oid] = Tree.from_bytes(data, oid)
            return t

        return load

    # -- pointers --------------------------------------------------------------------------
    def pointer_files(self, under: str = "") -> Iterator[str]:
        """Repo-relative paths of every pointer file, without walking into tracked data."""
        start = self.abs(under) if under else self.root
        yield from self._find(str(start), f"{under}/" if under else "")

    def _find(self, dirpath: str, prefix: str) -> Iterator[str]:
        try:
            it = os.scandir(dirpath)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        with it:
            entries = list(it)
        names = {e.name for e in entries}
        for e in entries:
            if e.name.endswith(ptr.SUFFIX) and e.is_file():
                yield prefix + e.name
        for e in entries:
            if e.name in _SKIP_DIRS or not e.is_dir(follow_symlinks=False):
                continue
            if e.name + ptr.SUFFIX in names:
                continue  # tracked data: holds no pointers of its own
            rel = prefix + e.name
            if self.ignore is not None and self.ignore.match(rel, True):
                continue
            yield from self._find(e.path, rel + "/")

    def load_pointer(self, pointer_rel: str) -> ptr.Pointer:
        return ptr.parse(self.abs(pointer_rel).read_bytes(), pointer_rel)


def data_rel(pointer_rel: str, p: ptr.Pointer) -> str:
    parent = pointer_rel.rpartition("/")[0]
    return f"{parent}/{p.path}" if parent else p.path


def pointer_rel_for(data_rel_path: str) -> str:
    return data_rel_path + ptr.SUFFIX
