"""What `cairn ls` shows of a source repository: git's files and folders, and the data it tracks
(pointers and pipeline outputs) with sizes and file counts; inside a tracked folder, the
entries of its trees, read from the source's data remote."""

from __future__ import annotations

from collections.abc import Callable

from cairn.index import pointer as ptr
from cairn.objects.tree import FILE, TREE, Tree
from cairn.remotes.remote import Remote
from cairn.sharing.source import SourceRepo
from cairn.sharing.transfer import Version, resolve


def entries(source: SourceRepo, base: str, recursive: bool, data_remote: Callable[[], Remote]) -> list[dict]:
    """The entries at `base` ("" for the top), sorted by path; `data_remote` opens the source's
    remote, only when tree objects must be read."""
    tracked = source.tracked()
    found: dict[str, dict] = {}
    inside = next((t for t in tracked if base == t.path or base.startswith(t.path + "/")), None)
    if inside is not None and (inside.kind == TREE or base != inside.path):
        r = data_remote()
        try:
            version = resolve(r, inside, base[len(inside.path) + 1 :] if base != inside.path else "", source.url)
            if version.kind == FILE:
                found[base] = _data_entry(base, version, inside.origin)
            else:
                _tree_entries(r, version.oid, base, recursive, inside.origin, found)
        finally:
            r.close()
    else:
        prefix = base + "/" if base else ""
        git_found = base == ""
        for p, is_dir in source.commit.files():
            if p == base:
                git_found = True
                if not is_dir:
                    found[p] = {"path": p, "kind": "file", "tracked": "git"}
                continue
            if not p.startswith(prefix) or (not is_dir and p.endswith(ptr.SUFFIX)):
                continue  # a pointer file is listed as the data it stands for
            if p == ".cairn" or p.startswith(".cairn/"):
                continue  # cairn's own config
            git_found = True
            if recursive or "/" not in p[len(prefix) :]:
                found[p] = {"path": p, "kind": "folder" if is_dir else "file", "tracked": "git"}
        expand = []
        for t in tracked:
            if t.path == base or (t.path.startswith(prefix) and (recursive or "/" not in t.path[len(prefix) :])):
                found[t.path] = _data_entry(t.path, Version(t.kind, t.oid, t.size, t.files), t.origin)
                if recursive and t.kind == TREE:
                    expand.append(t)
            elif t.path.startswith(prefix) and not recursive:  # data deeper down: show its folder
                top = prefix + t.path[len(prefix) :].split("/", 1)[0]
                found.setdefault(top, {"path": top, "kind": "folder", "tracked": "git"})
        if not git_found and not found:
            source.locate(base)  # raises, naming what the source tracks
        if expand:  # -R lists the files of tracked folders too: their trees, from the data remote
            r = data_remote()
            try:
                for t in expand:
                    _tree_entries(r, t.oid, t.path, True, t.origin, found)
            finally:
                r.close()
    return sorted(found.values(), key=lambda e: e["path"])


def _data_entry(path: str, v: Version, origin: str) -> dict:
    kind = "folder" if v.kind == TREE else "file"
    return {"path": path, "kind": kind, "tracked": "cairn", "origin": origin, "size": v.size, "files": v.files}


def _tree_entries(r: Remote, oid: str, prefix: str, recursive: bool, origin: str, out: dict[str, dict]) -> None:
    for e in Tree.from_bytes(r.read_object(oid), oid).entries:
        path = f"{prefix}/{e.name}" if prefix else e.name
        files = 1
        if e.kind == TREE:  # read below it either way: a folder's file count is shown
            sub: dict[str, dict] = {}
            _tree_entries(r, e.oid, path, True, origin, sub)
            files = sum(1 for x in sub.values() if x["kind"] == "file")
            if recursive:
                out.update(sub)
        out[path] = _data_entry(path, Version(e.kind, e.oid, e.size, files), origin)
