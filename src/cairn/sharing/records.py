"""The `source:` record an import leaves in its pointer (docs/formats.md), written and read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cairn.errors import PointerError
from cairn.index.pointer import SOURCE_VERSION, Pointer

REPO = "repo"
URL = "url"
# what identifies a version of a URL's content, in the order compared
VERSION_KEYS = ("version_id", "etag", "mtime", "size")


@dataclass(frozen=True)
class RepoSource:
    url: str
    rev: str | None  # as asked; None: the source's default branch
    commit: str  # what it resolved to
    path: str  # inside the source repository
    remote: str | None = None  # the source remote asked for (--remote), else its default

    def items(self) -> tuple[tuple[str, object], ...]:
        doc: dict[str, object] = {"version": SOURCE_VERSION, "type": REPO, "url": self.url, "rev": self.rev}
        doc.update(commit=self.commit, path=self.path)
        if self.remote:
            doc["remote"] = self.remote
        return tuple(doc.items())


@dataclass(frozen=True)
class UrlSource:
    url: str
    info: dict[str, Any]  # version_id, etag, mtime, size: whichever the source gave

    def items(self) -> tuple[tuple[str, object], ...]:
        doc: dict[str, object] = {"version": SOURCE_VERSION, "type": URL, "url": self.url}
        doc.update((k, self.info[k]) for k in VERSION_KEYS if self.info.get(k) is not None)
        return tuple(doc.items())

    def detects_changes(self) -> bool:
        """Whether the source gave something that changes with its content (a size alone does not)."""
        return any(self.info.get(k) is not None for k in VERSION_KEYS[:3])


def source_of(p: Pointer, where: str) -> RepoSource | UrlSource | None:
    """The import record of a pointer, or None for data added in this repository."""
    doc = p.source_doc()
    if doc is None:
        return None
    fix = "re-import it (`cairn import` or `cairn import-url`), or remove the `source:` lines to keep it as local data"
    kind, url = doc.get("type"), doc.get("url")
    if not isinstance(url, str) or not url:
        raise PointerError(f"pointer file {where} records an import without a url", fix)
    if kind == REPO:
        commit, path, rev = doc.get("commit"), doc.get("path"), doc.get("rev")
        remote = doc.get("remote")
        if not isinstance(commit, str) or not isinstance(path, str) or not isinstance(rev, (str, type(None))):
            raise PointerError(f"pointer file {where} records a repository import without its commit and path", fix)
        return RepoSource(url, rev, commit, path, remote if isinstance(remote, str) else None)
    if kind == URL:
        return UrlSource(url, {k: doc[k] for k in VERSION_KEYS if doc.get(k) is not None})
    raise PointerError(f"pointer file {where} records an import of unknown type {kind!r}", fix)
