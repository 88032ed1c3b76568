"""Data between repositories (docs/sharing.md): `ls`, `get` (= `download`, usable with no local
repository), `import`, `import-url`, `update`, and which imports are behind their sources.

A source repository is read through scm.foreign (one commit, no blobs but pointers, lock and
config); its data through its own committed remote, with this machine's settings for the same
URL (credentials, endpoint) from the local repository's config on top."""

from __future__ import annotations

import os
import posixpath
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import CairnError, PathError, WouldLoseDataError
from cairn.index import pointer as ptr
from cairn.objects.newfile import unique_name
from cairn.progress import NULL, Progress
from cairn.scm.foreign import latest_commit, open_commit
from cairn.sharing import listing, urls
from cairn.sharing.records import REPO, RepoSource, UrlSource, source_of
from cairn.sharing.source import SourceRepo, Tracked
from cairn.sharing.transfer import Version, download_version, fetch_version, hash_version, open_remote, resolve

if TYPE_CHECKING:
    from cairn.remotes.remote import Remote
    from cairn.repo.repo import Repo


# -- this machine's settings for a source's storage ------------------------------------------------
def _local_repo() -> Repo | None:
    from cairn.repo.repo import Repo

    try:
        return Repo.find()
    except CairnError:
        return None


def _overlay(repo: Repo | None, url: str, prefix: bool = False) -> dict[str, Any]:
    """Settings of the local repository's remotes for the same storage `url` (for a URL import:
    whose URL is a prefix of `url`), url and transfer tuning left out."""
    if repo is None:
        return {}
    out: dict[str, Any] = {}
    for spec in repo.config.remotes().values():
        theirs = str(spec.get("url", "")).rstrip("/")
        if theirs and (url.rstrip("/") == theirs or (prefix and url.startswith(theirs + "/"))):
            out.update({k: v for k, v in spec.items() if k not in ("url", "jobs", "pack_size")})
    return out


def _open_source(
    url: str, path: str, rev: str | None, repo: Repo | None, remote: str | None, jobs: int | None
) -> tuple[SourceRepo, Tracked, str, Remote]:
    source = SourceRepo(open_commit(url, rev))
    try:
        tracked, inner = source.locate(path)
    except PathError as e:
        clean = posixpath.normpath(path.strip("/")) if path.strip("/") else ""
        if clean and source.commit.has_file(clean):
            # a file in git there (code, a config): `get` copies it, an import records data cairn tracks
            e.hint = f"git tracks it there: copy it with `cairn get {url} {clean}` (import records data cairn tracks)"
        raise
    _, settings = source.data_remote(remote)
    return source, tracked, inner, open_remote(source, _overlay(repo, str(settings["url"])), remote, jobs)


# -- ls --------------------------------------------------------------------------------------------
def ls(url: str, path: str = "", rev: str | None = None, recursive: bool = False, remote: str | None = None) -> dict:
    """What the source repository has at `path` (its root by default): git's files and folders,
    and the data it tracks with sizes and file counts. Reads git objects only, except for the
    contents of a tracked folder (its tree objects, from the data remote)."""
    source = SourceRepo(open_commit(url, rev))
    base = posixpath.normpath(path.strip("/")) if path.strip("/") else ""

    def data_remote() -> Remote:
        return open_remote(source, _overlay(_local_repo(), str(source.data_remote(remote)[1]["url"])), remote)

    return {
        "url": source.url,
        "rev": rev,
        "commit": source.commit.commit,
        "path": base,
        "entries": listing.entries(source, base, recursive, data_remote),
    }


# -- get -------------------------------------------------------------------------------------------
def download(
    url: str,
    path: str,
    rev: str | None = None,
    out: Path | str | None = None,
    jobs: int | None = None,
    progress: Progress = NULL,
    remote: str | None = None,
) -> dict:
    """Download the file or folder `path` that the repository at `url` tracks (at `rev`, default
    its default branch) to `out` (default: its name, in the current folder), verified, with no
    pointer. Works outside any cairn repository; inside one, that repository's settings for the
    source's remote (credentials, endpoint) apply. Files are written as their objects arrive into
    a temporary folder beside `out`, renamed to `out` when complete. A path that git tracks in
    the source (code, a small config) comes from git instead (`"kind": "git"`)."""
    dest = Path(os.path.abspath(out if out is not None else posixpath.basename(path.rstrip("/"))))
    if os.path.lexists(dest):
        raise PathError(f"{dest} already exists", "choose another output path (-o), or move it away first")
    repo = _local_repo()
    source = SourceRepo(open_commit(url, rev))
    try:
        tracked, inner = source.locate(path)
    except PathError:
        written = _from_git(source, path, dest)
        if written is None:
            raise
        return {**_about(source, rev, path, dest), "kind": "git", "files": written}
    _, settings = source.data_remote(remote)
    r = open_remote(source, _overlay(repo, str(settings["url"])), remote, jobs)
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = dest.parent / f".{dest.name}.cairn-get-{unique_name()}"
    try:
        version = resolve(r, tracked, inner, source.url)
        result = download_version(r, version, dest, scratch, progress)
    finally:
        r.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        **_about(source, rev, path, dest),
        "kind": version.kind,
        "oid": version.oid,
        "size": version.size,
        "files": version.files,
        "transferred": result.transferred,
        "bytes": result.bytes,
    }


def _about(source: SourceRepo, rev: str | None, path: str, dest: Path) -> dict:
    return {"url": source.url, "rev": rev, "commit": source.commit.commit, "path": path, "out": str(dest)}


def _from_git(source: SourceRepo, path: str, dest: Path) -> int | None:
    """Export what git tracks at `path` in the source (temp + rename); None when it tracks nothing there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.cairn-tmp-{unique_name()}")
    try:
        written = source.commit.export(posixpath.normpath(path.strip("/")), tmp)
        if written is not None:
            os.rename(tmp, dest)
        return written
    finally:
        _remove(tmp)


# -- import ----------------------------------------------------------------------------------------
def _target(repo: Repo, out: str | None, default_name: str) -> tuple[str, str]:
    rel = repo.ws.rel(out if out is not None else default_name)
    pointer_rel = rel + ptr.SUFFIX
    for taken in (pointer_rel, rel):  # an import already there says so first
        if os.path.lexists(repo.root / taken):
            hint = (
                f"it is already there: `cairn update {rel}` moves it to a newer version"
                if taken == pointer_rel
                else "choose another output path (-o), or move it away first"
            )
            raise PathError(f"{taken} already exists", hint)
    return rel, pointer_rel


def _write_pointer(repo: Repo, rel: str, version: Version, source: tuple[tuple[str, object], ...]) -> str:
    """The import's pointer and .gitignore line; the caller holds the repo lock (from the fetch
    on, so that a gc cannot take the new objects before a pointer names them)."""
    from cairn.workspace.gitignore import ignore_in_git

    pointer_rel = rel + ptr.SUFFIX
    name = rel.rpartition("/")[2]
    p = ptr.Pointer(name, version.kind, version.oid, version.size, version.files, version.exec, source=source)
    (repo.root / rel).parent.mkdir(parents=True, exist_ok=True)
    ptr.save(repo.root / pointer_rel, p)
    ignore_in_git(repo.root, rel)
    return pointer_rel


def import_repo(
    repo: Repo,
    url: str,
    path: str,
    rev: str | None = None,
    out: str | None = None,
    remote: str | None = None,
    jobs: int | None = None,
) -> dict:
    """Bring `path` of the repository at `url` into this one as an import: its objects enter the
    cache (so `push` sends them to this repository's remote), the data is checked out and a
    pointer records where it came from (url, requested rev, resolved commit, path)."""
    rel, _ = _target(repo, out, posixpath.basename(path.rstrip("/")))
    source, tracked, inner, r = _open_source(url, path, rev, repo, remote, jobs)
    record = RepoSource(_recorded_url(url), rev, source.commit.commit, path.strip("/"), remote)
    try:
        version = resolve(r, tracked, inner, source.url)
        with repo.lock():
            fetch_version(repo.store, r, version, repo.progress)
            pointer_rel = _write_pointer(repo, rel, version, record.items())
    finally:
        r.close()
    repo.checkout([pointer_rel])
    return {"path": rel, "pointer": pointer_rel, **_version_dict(version), "source": dict(record.items())}


def _recorded_url(url: str) -> str:
    """A URL as given; a local path made absolute (a relative one would depend on where cairn ran)."""
    return url if "://" in url or ":" in url.split("/", 1)[0] else os.path.abspath(os.path.expanduser(url))


def _version_dict(v: Version) -> dict:
    return {"kind": v.kind, "oid": v.oid, "size": v.size, "files": v.files}


# -- import-url ------------------------------------------------------------------------------------
def import_url(repo: Repo, url: str, out: str | None = None, no_download: bool = False) -> dict:
    """Track the file or folder at `url` (s3://, gs://, az://, http(s)://, a local path) with a
    pointer recording its version (version id, ETag, modification time, size). With
    `no_download`, the data is read once to hash it and nothing is kept but the pointer (and a
    folder's tree objects); `cairn update` downloads it later."""
    data = urls.stat(url, _overlay(repo, url, prefix=True))
    name = posixpath.basename(data.url.rstrip("/").split("://", 1)[-1]) or "data"
    rel, pointer_rel = _target(repo, out, name)
    record = UrlSource(url if "://" in url else data.url, data.info)
    if no_download:
        with repo.lock():
            version = hash_version(repo.store, data)
            _write_pointer(repo, rel, version, record.items())
    else:
        version = _download_and_track(repo, data, rel, record)
    return {
        "path": rel,
        "pointer": pointer_rel,
        **_version_dict(version),
        "downloaded": not no_download,
        "source": dict(record.items()),
        "warning": None if record.detects_changes() else _no_version_warning(url),
    }


def _no_version_warning(url: str) -> str:
    return (
        f"{url} gave no ETag, version id or modification time: `cairn update` will download it again and "
        "compare its contents to find out whether it changed"
    )


def _download_and_track(repo: Repo, data: urls.UrlData, rel: str, record: UrlSource) -> Version:
    """Download into .cairn/tmp, move into place, track it as `cairn add` does, record the source."""
    repo.ws.tmp.mkdir(parents=True, exist_ok=True)
    scratch = repo.ws.tmp / f"import-url-{unique_name()}"
    scratch.mkdir()
    dest = repo.root / rel
    try:
        urls.download(data, scratch / "data")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(scratch / "data", dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        repo.add([str(dest)])
    except BaseException:
        _remove(dest)  # nothing half-tracked left behind
        raise
    pointer_file = repo.root / (rel + ptr.SUFFIX)
    p = ptr.load(pointer_file)
    ptr.save(pointer_file, ptr.Pointer(p.path, p.kind, p.oid, p.size, p.files, p.exec, source=record.items()))
    return Version(p.kind, p.oid, p.size, p.files, p.exec)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


# -- update and status -----------------------------------------------------------------------------
def _imports(repo: Repo, targets: list[str] | None) -> list[tuple[str, ptr.Pointer, RepoSource | UrlSource]]:
    out = []
    try:
        pointers = repo.pointers(targets)
    except PathError as e:  # its hint says `cairn add`, which makes no import
        raise PathError(
            f"{e.message}: there is no import there",
            "give the path of an import (`cairn import` or `cairn import-url` made it); "
            "`cairn status` lists what is tracked",
        ) from None
    for pointer_rel in pointers:
        p = repo.ws.load_pointer(pointer_rel)
        src = source_of(p, pointer_rel)
        if src is not None:
            out.append((pointer_rel, p, src))
        elif targets:
            raise PathError(
                f"{pointer_rel} is not an import (it records no source)",
                "`cairn update` moves imports; data added here is recorded with `cairn add`",
            )
    return out


def update(
    repo: Repo, targets: list[str] | None = None, rev: str | None = None, force: bool = False, jobs: int | None = None
) -> list[dict]:
    """Move imports (all, or `targets`) to their source's current version (`rev`: another
    revision of a repository source). Refuses to replace data changed in the workspace unless
    `force`."""
    results = []
    for pointer_rel, p, src in _imports(repo, targets):
        if isinstance(src, RepoSource):
            results.append(_update_repo(repo, pointer_rel, p, src, rev, force, jobs))
        else:
            results.append(_update_url(repo, pointer_rel, p, src, force))
    return results


def _refuse_local_changes(repo: Repo, pointer_rel: str, force: bool) -> None:
    if force:
        return
    [st] = repo.status([pointer_rel])
    if st.changed:
        rel = pointer_rel.removesuffix(ptr.SUFFIX)
        raise WouldLoseDataError(
            f"{rel} has changes in the workspace ({len(st.added)} added, {len(st.modified)} modified, "
            f"{len(st.deleted)} deleted) that the update would replace; nothing was changed",
            f"keep them elsewhere first, or `cairn update --force {rel}` to discard them",
        )


def _update_repo(
    repo: Repo, pointer_rel: str, p: ptr.Pointer, src: RepoSource, rev: str | None, force: bool, jobs: int | None
) -> dict:
    want_rev = rev if rev is not None else src.rev
    source, tracked, inner, r = _open_source(src.url, src.path, want_rev, repo, src.remote, jobs)
    rel = pointer_rel.removesuffix(ptr.SUFFIX)
    record = RepoSource(src.url, want_rev, source.commit.commit, src.path, src.remote)
    try:
        version = resolve(r, tracked, inner, source.url)
        same = version.oid == p.oid and repo.store.exists(p.oid)
        if not same:
            _refuse_local_changes(repo, pointer_rel, force)
        with repo.lock():
            if not same:
                fetch_version(repo.store, r, version, repo.progress)
            if not same or record != src:
                _write_pointer(repo, rel, version, record.items())
    finally:
        r.close()
    if not same:
        repo.checkout([pointer_rel], force=True)
    return {
        "path": rel,
        "updated": not same,
        "from": {"commit": src.commit, "oid": p.oid},
        "to": {"commit": source.commit.commit, "oid": version.oid},
        **_version_dict(version),
    }


def _update_url(repo: Repo, pointer_rel: str, p: ptr.Pointer, src: UrlSource, force: bool) -> dict:
    rel = pointer_rel.removesuffix(ptr.SUFFIX)
    data = urls.stat(src.url, _overlay(repo, src.url, prefix=True))
    new = UrlSource(src.url, data.info)
    dest = repo.root / rel
    # after import-url --no-download the data is nowhere yet: then the update downloads it
    have = os.path.lexists(dest)
    unchanged = new.detects_changes() and new.info == src.info and have
    result = {"path": rel, "updated": False, "from": {"oid": p.oid, **src.info}, "to": {"oid": p.oid, **new.info}}
    if unchanged:
        return {**result, "reason": "the source reports the same version"}
    if not new.detects_changes() and have:
        # nothing tells versions apart: read the bytes and compare ids, keeping nothing
        seen = _hash_url_version(data)
        if seen == p.oid:
            return {**result, "reason": "the source's contents are unchanged (compared byte for byte)"}
    _refuse_local_changes(repo, pointer_rel, force or not have)
    aside = repo.ws.tmp / f"update-{unique_name()}"
    repo.ws.tmp.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(dest):
        os.rename(dest, aside)  # back in place if the download fails
    os.unlink(repo.root / pointer_rel)
    try:
        version = _download_and_track(repo, data, rel, new)
    except BaseException:
        if os.path.lexists(aside):
            _remove(dest)
            os.rename(aside, dest)
        ptr.save(repo.root / pointer_rel, p)
        raise
    _remove(aside)
    result["to"] = {"oid": version.oid, **new.info}
    if version.oid != p.oid:
        return {**result, "updated": True}
    if not have:
        return {**result, "updated": True, "reason": "downloaded"}
    return {**result, "reason": "the source's version information changed, its contents did not; recorded"}


def _hash_url_version(data: urls.UrlData) -> str | None:
    if data.is_folder:
        return None  # a folder without versions is downloaded again
    with data.open() as f:
        return urls.hash_stream(f)[0]


def behind(repo: Repo, targets: list[str] | None = None) -> list[dict]:
    """The imports whose source now holds another version than the pointer records (one
    `git ls-remote` per repository source, and a fetch of the new commit's pointers only when it
    moved; one metadata request per URL source). A source that cannot be reached is reported
    with the reason, not raised: status must still answer offline."""
    out = []
    for pointer_rel, p, src in _imports(repo, targets):
        rel = pointer_rel.removesuffix(ptr.SUFFIX)
        try:
            entry = _behind_repo(repo, p, src) if isinstance(src, RepoSource) else _behind_url(repo, p, src)
        except CairnError as e:
            out.append({"path": rel, "source": src.url, "behind": None, "error": e.message})
            continue
        if entry is not None:
            out.append({"path": rel, "source": src.url, "behind": True, **entry})
    return out


def _behind_repo(repo: Repo, p: ptr.Pointer, src: RepoSource) -> dict | None:
    latest = latest_commit(src.url, src.rev)
    if latest == src.commit:
        return None
    source = SourceRepo(open_commit(src.url, latest))
    tracked, inner = source.locate(src.path)
    if not inner and tracked.oid == p.oid:
        return None
    if inner:
        _, settings = source.data_remote(src.remote)
        r = open_remote(source, _overlay(repo, str(settings["url"])), src.remote)
        try:
            if resolve(r, tracked, inner, source.url).oid == p.oid:
                return None
        finally:
            r.close()
    return {"type": REPO, "rev": src.rev, "commit": src.commit, "latest": latest}


def _behind_url(repo: Repo, p: ptr.Pointer, src: UrlSource) -> dict | None:
    new = urls.stat(src.url, _overlay(repo, src.url, prefix=True))
    if not UrlSource(src.url, new.info).detects_changes():
        return None  # only a download can tell; `cairn update` does that
    if new.info == src.info:
        return None
    return {"type": "url", "recorded": src.info, "latest": new.info}
