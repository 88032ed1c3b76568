"""Write one artifact version (a file or folder object) to a path: each object from the local
cache when it is there, otherwise straight from the data remote, always verified against its
id. Nothing else is fetched and the cache is not filled: a deployment job wants the model, not
a repository. The result appears at once (built beside the destination, then renamed)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from cairn.errors import ObjectMissingError, PathError
from cairn.objects.store import ObjectStore
from cairn.objects.tree import FILE, Tree
from cairn.progress import NULL, Progress
from cairn.remotes.remote import Remote
from cairn.workspace.linking import materialize


class Source:
    """Where objects come from: a cache (may be None), then a remote (may be None)."""

    def __init__(self, store: ObjectStore | None, remote: Remote | None, what: str) -> None:
        self.store, self.remote, self.what = store, remote, what
        self._refreshed = False

    def _have(self, oid: str) -> bool:
        return self.store is not None and self.store.exists(oid)

    def _remote(self, oid: str) -> Remote:
        if self.remote is None:
            raise _missing(self.what, [oid], None)
        if not self._refreshed:
            self.remote.refresh()
            self._refreshed = True
        if self.remote.index.locate([oid]).get(oid) is None:
            raise _missing(self.what, [oid], self.remote.name)
        return self.remote

    def tree(self, oid: str) -> Tree:
        if self._have(oid):
            assert self.store is not None
            return Tree.from_bytes(self.store.read_verified(oid), oid)
        return Tree.from_bytes(self._remote(oid).read_object(oid), oid)

    def write_file(self, oid: str, dest: str, executable: bool) -> None:
        tmp = dest + ".part"
        if self._have(oid):
            assert self.store is not None
            try:
                materialize(self.store, oid, dest, tmp, "copy", executable)
                return
            except FileNotFoundError:
                pass  # gone from the cache since it was seen (a gc, a removed cache): the remote's copy
        loose = _loose_path(self.remote, oid)
        if loose is not None:
            _copy_verified(loose, tmp, self.remote, oid)  # no listing of the remote: its file is the answer
        else:
            self._remote(oid).download_verified(oid, tmp)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, dest)


def _loose_path(remote: Remote | None, oid: str) -> str | None:
    """The file of a loose object on a local-folder remote, when there is one. Objects there are
    written whole (temp + rename) and never changed, so its existence is as good an answer as
    the remote's index (and costs no listing); its bytes are verified while copied anyway."""
    from cairn.remotes.remote import loose_key
    from cairn.storage.local import LocalStorage

    if remote is None or not isinstance(remote.storage, LocalStorage):
        return None
    path = os.path.join(remote.storage.root, loose_key(oid))
    return path if os.path.isfile(path) else None


def _copy_verified(src: str, dest: str, remote: Remote, oid: str) -> None:
    """Copy `src` to the new file `dest` by the kernel while a second thread hashes it (one read
    of the file, as `cairn add` does); `dest` is removed again unless its bytes match `oid`."""
    from cairn.objects.store import copy_hashing
    from cairn.remotes.remote import corrupt_remote

    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            good = copy_hashing(src, fd) == oid
        finally:
            os.close(fd)
        if not good:
            raise corrupt_remote(remote.name, oid)
    except BaseException:
        os.unlink(dest)
        raise


def _missing(what: str, oids: list[str], remote: str | None) -> ObjectMissingError:
    where = f"on remote {remote!r}" if remote else "on a data remote (none is configured)"
    return ObjectMissingError(
        f"the data of {what} is neither in the local cache nor {where}",
        "push it from the clone that made it (`cairn push`), or check the remote's URL in .cairn/config.toml",
        oids,
    )


def download(source: Source, kind: str, oid: str, dest: Path, force: bool = False, progress: Progress = NULL) -> int:
    """Write the object to `dest`; the number of files written. An existing `dest` is refused
    unless `force`."""
    if os.path.lexists(dest) and not force:
        raise PathError(f"{dest} already exists", "choose another path with -o, or pass --force to replace it")
    parent = dest.parent
    made = [p for p in (parent, *parent.parents) if not p.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".cairn-get", dir=parent))
    except OSError as e:
        _unmake(made)
        raise unwritable(dest, e) from None
    done = False
    try:
        staged = work / "out"
        if kind == FILE:
            source.write_file(oid, str(staged), False)
            count = 1
        else:
            count = _folder(source, oid, staged, progress)
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        os.replace(staged, dest)
        done = True
        return count
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not done:
            _unmake(made)


def unwritable(dest: Path, e: OSError) -> PathError:
    """The error of an -o whose folder cannot be made or written (a file on the way, /proc)."""
    import errno

    if e.errno in (errno.EEXIST, errno.ENOTDIR):
        # mkdir names the first path on the way that is not a folder
        blocker = next((p for p in (dest.parent, *dest.parent.parents) if p.exists() and not p.is_dir()), e.filename)
        return PathError(f"cannot write {dest}: {blocker} is a file, not a folder", "choose another -o path")
    where = f" ({e.filename})" if e.filename and str(e.filename) != str(dest) else ""
    return PathError(f"cannot write {dest}: {e.strerror}{where}", "choose an -o path in a folder you can write")


def _unmake(folders: list[Path]) -> None:
    """Remove the folders a failed get created for `-o` (deepest first), so nothing is left behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty or not ours: keep it and its parents


def _folder(source: Source, oid: str, dest: Path, progress: Progress) -> int:
    files: list[tuple[str, str, bool]] = []
    stack = [(oid, dest)]
    while stack:
        tree_oid, at = stack.pop()
        at.mkdir()
        for e in source.tree(tree_oid).entries:
            if e.kind == FILE:
                files.append((e.oid, str(at / e.name), e.exec))
            else:
                stack.append((e.oid, at / e.name))
    task = progress.task("model get", len(files))
    try:
        for file_oid, path, executable in files:
            source.write_file(file_oid, path, executable)
            task.advance(1)
    finally:
        task.close()
    return len(files)
