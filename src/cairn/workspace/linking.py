"""Link types between the cache and the workspace: reflink, hardlink, symlink, copy.

`cache.type` is an ordered list; the first type the file systems support is used (probed once
per command on a scratch file, not per file). Hard- and symlinked files share the read-only
cache object, so they are protected; `cairn unprotect` turns them into writable copies.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil

from blake3 import blake3

from cairn.errors import ConfigError, CorruptObjectError
from cairn.objects.hashing import SMALL_FILE, hash_mapped, read_small
from cairn.objects.newfile import NO_SPACE, NewFile, disk_full, space_checked
from cairn.objects.store import ObjectStore, copy_hashing

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
DEFAULT_LINK_TYPES = ["reflink", "copy"]
_FICLONE = 0x40049409  # linux/fs.h
_UNSUPPORTED = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTTY, errno.EMLINK)


def parse_link_types(value: object) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(
            f"cache.type must be a list of link types, got {value!r}",
            'write for example `cache.type = ["hardlink", "copy"]` in .cairn/config.toml',
        )
    out = [str(i).strip() for i in items]
    bad = [i for i in out if i not in LINK_TYPES]
    if bad:
        raise ConfigError(
            f"unknown link type {bad[0]!r} in cache.type",
            f"use one or more of: {', '.join(LINK_TYPES)}",
        )
    return out


def reflink(src: str, dst: str) -> None:
    with open(src, "rb") as s:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.ioctl(fd, _FICLONE, s.fileno())
        except OSError:
            os.close(fd)
            os.unlink(dst)
            raise
        os.close(fd)


def _try(kind: str, src: str, dst: str) -> bool:
    try:
        if kind == "reflink":
            reflink(src, dst)
        elif kind == "hardlink":
            os.link(src, dst)
        elif kind == "symlink":
            os.symlink(src, dst)
        else:
            shutil.copyfile(src, dst)
    except OSError as e:
        if e.errno in _UNSUPPORTED:
            return False
        raise
    return True


def choose(types: list[str], store: ObjectStore, workspace_tmp: str) -> str:
    """The first link type that works between the cache and the workspace."""
    if types == ["copy"]:
        return "copy"
    os.makedirs(workspace_tmp, exist_ok=True)
    probe = store.tmp_path("probe")
    try:
        with space_checked(str(store.root)), open(probe, "wb") as f:
            f.write(b"cairn link probe")
    except BaseException:
        if os.path.exists(probe):
            os.unlink(probe)
        raise
    try:
        for kind in types:
            dst = os.path.join(workspace_tmp, f"probe-{kind}-{os.getpid()}")
            try:
                if _try(kind, probe, dst):
                    return kind
            finally:
                if os.path.lexists(dst):
                    os.unlink(dst)
    finally:
        os.unlink(probe)
    raise ConfigError(
        f"none of the link types {', '.join(types)} works between the cache and the workspace",
        'add "copy" to cache.type in .cairn/config.toml',
    )


def _shown(path: str) -> str:
    """`path` as the user would type it from here (errors name it): relative when under the
    current folder, as git shows paths."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def corrupt(oid: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"cache object {oid} is corrupt (its content does not match its id); it was not checked out",
        "run `cairn fsck --delete-corrupt`, then `cairn pull` to fetch a good copy",
    )


def materialize(
    store: ObjectStore, oid: str, dest: str, tmp: str, kind: str, executable: bool = False, size: int | None = None
) -> os.stat_result | None:
    """Write object `oid` to `dest` atomically as `kind` (complete or not at all; `tmp` is a
    spare name on dest's file system), verifying its content first: a corrupt object is never
    checked out. A file held as chunks is rebuilt as a copy whatever `kind` says (there is no
    whole object to link to; docs/chunks.md), and so is a packed object (a link needs a file of
    its own; docs/decisions.md "Small objects in local packs"). A copy returns the new file's
    stat (taken from the open file: no second lookup); `size`, when the caller knows it from the
    tree, saves a stat of the object."""
    src = store.path(oid)
    if kind == "hardlink" and executable:
        kind = "copy"  # the shared inode is read-only without exec bits
    if kind != "copy" and not os.path.exists(src) and (store.chunk_list(oid) is not None or store.packs.has(oid)):
        kind = "copy"
    if kind == "copy":
        folder = dest.rpartition("/")[0] or "."
        f = NewFile(folder, 0o755 if executable else 0o644, lambda: tmp)
        try:
            try:
                try:
                    _copy_verified(src, f, oid, size)
                except FileNotFoundError:
                    # no whole object: looked for only when opening it failed, so a loose object
                    # costs no extra stat; nothing was written to `f` yet
                    data = store.packs.read(oid)
                    if data is not None:
                        if blake3(data).hexdigest() != oid:
                            raise corrupt(oid) from None
                        f.write(data)
                    else:
                        cl = store.chunk_list(oid)
                        if cl is None:
                            raise
                        store.assemble_to(cl, f.fd, _shown(dest))
            except OSError as e:
                if e.errno in NO_SPACE:
                    raise disk_full(folder, e) from e
                raise
        except BaseException:
            f.discard()
            raise
        return f.publish_stat(dest)
    if hash_mapped(src) != oid:  # a cache object: mapped, not copied to be read
        raise corrupt(oid)
    if kind == "reflink":
        reflink(src, tmp)
        os.chmod(tmp, 0o755 if executable else 0o644)
    elif kind == "hardlink":
        os.link(src, tmp)
    else:
        os.symlink(src, tmp)
    try:
        os.replace(tmp, dest)
    except IsADirectoryError:
        shutil.rmtree(dest)
        os.replace(tmp, dest)
    return None


def _copy_verified(src: str, f: NewFile, oid: str, size: int | None) -> None:
    if size is None:
        size = os.stat(src).st_size
    if size > SMALL_FILE:
        if copy_hashing(src, f.fd) != oid:
            raise corrupt(oid)
        return
    data = read_small(src, size)  # reads on past `size` if the object is bigger: the hash notices
    if blake3(data).hexdigest() != oid:
        raise corrupt(oid)
    f.write(data)


def is_linked(path: str) -> bool:
    st = os.lstat(path)
    return os.path.islink(path) or st.st_nlink > 1


def make_writable_copy(path: str, tmp: str) -> None:
    """Replace a linked file with a private writable copy of its content."""
    shutil.copyfile(path, tmp)  # follows a symlink to the object
    mode = os.stat(path).st_mode & 0o777
    os.chmod(tmp, (mode | 0o644) & 0o777 | 0o200)
    os.replace(tmp, path)
