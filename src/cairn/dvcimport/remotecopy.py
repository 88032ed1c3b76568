"""`import-dvc --remote NAME`: every object of the DVC remote, not only the current versions, so
that the cairn remote holds all that DVC's did. File objects are checked against their md5 and
hashed with BLAKE3; each `.dir` listing becomes its trees. Every version lands in the md5 map, so
an older DVC commit converts later without the DVC remote (docs/dvc.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from cairn.dvcimport.content import Resolver, Unresolved, Version
from cairn.dvcimport.dvcfiles import Recorded
from cairn.objects.tree import FILE

# DVC 3: files/md5/XX/REST[.dir]; DVC 2: XX/REST[.dir] at the top
_KEY = re.compile(r"^(files/md5/)?([0-9a-f]{2})/([0-9a-f]{30})(\.dir)?$")


def objects(keys: Iterable[str]) -> list[tuple[str, bool]]:
    """(md5, legacy) of the DVC objects among a remote's keys (anything else, such as cairn's own
    folder, is not DVC's)."""
    out = []
    for key in keys:
        m = _KEY.match(key)
        if m:
            out.append((m.group(2) + m.group(3) + (m.group(4) or ""), m.group(1) is None))
    return out


def copy_all(resolver: Resolver, keys: Iterable[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Store every DVC object of `keys` in cairn's cache (the md5 map gets each version).
    Returns (roots to push, problems: objects that are damaged or whose listing names a
    missing file; they are skipped)."""
    found = objects(keys)
    files = [(m, legacy) for m, legacy in found if not m.endswith(".dir")]
    dirs = [(m, legacy) for m, legacy in found if m.endswith(".dir")]
    roots: list[tuple[str, str]] = []
    skipped: list[str] = []
    task = resolver.ws.progress.task("copying the DVC remote", len(found))

    def one_file(item: tuple[str, bool]) -> tuple[str, bool, tuple[str, int] | None]:
        m, legacy = item
        try:
            return m, legacy, resolver._object(m, legacy, m)
        except Unresolved as e:
            skipped.append(str(e))
            return m, legacy, None
        finally:
            task.advance()

    try:
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
            for m, legacy, got in pool.map(one_file, files):
                if got is not None:
                    resolver.found[("2:" if legacy else "") + m] = Version(FILE, got[0], got[1], 1)
                    roots.append((FILE, got[0]))
        for m, legacy in dirs:
            key = ("2:" if legacy else "") + m
            try:
                v = resolver.found.get(key) or resolver._from_cache(Recorded(m, m, legacy))
            except Unresolved as e:
                skipped.append(str(e))
                continue
            finally:
                task.advance()
            resolver.found[key] = v
            roots.append((v.kind, v.oid))
    finally:
        task.close()
    return roots, skipped
