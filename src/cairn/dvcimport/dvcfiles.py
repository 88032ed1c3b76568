"""DVC's own records: `.dvc` files and `dvc.lock` (schema 2.0 of DVC 2 and 3, and DVC 1's lock
without a schema), read into the versions they record. A record without `hash: md5` is a DVC 2
one (md5 after dos2unix, objects in the top-level cache layout)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.dvcimport.hashes import is_md5
from cairn.dvcimport.problems import Problems
from cairn.errors import PipelineError, shown

DVC_SUFFIX = ".dvc"
LOCK = "dvc.lock"
# keys of an out in a .dvc file that convert (or only annotate); anything else is refused
_OUT_KEYS = {"path", "md5", "hash", "size", "nfiles", "isexec", "cache", "persist", "desc", "remote", "push"}
_OUT_KEYS |= {"type", "labels", "meta"}
_LOCK_ENTRY_KEYS = {"path", "md5", "hash", "size", "nfiles", "isexec"}


@dataclass(frozen=True)
class Recorded:
    """A path and the version DVC recorded for it."""

    path: str  # repo-relative
    md5: str | None  # `XXXX` or `XXXX.dir`; None when DVC recorded none (never committed)
    legacy: bool  # DVC 2's md5-dos2unix and cache layout
    size: int | None = None
    nfiles: int | None = None
    isexec: bool = False

    @property
    def is_dir(self) -> bool:
        return bool(self.md5 and self.md5.endswith(".dir"))


@dataclass
class DvcFile:
    file: str  # repo-relative path of the .dvc file
    outs: list[Recorded] = field(default_factory=list)


@dataclass
class LockedStage:
    """A dvc.lock entry; paths as written (relative to the stage's wdir)."""

    cmd: list[str]
    deps: list[Recorded] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    outs: list[Recorded] = field(default_factory=list)


def load_yaml(path: Path, where: str, problems: Problems) -> Any:
    import yaml

    from cairn.pipelines.yamlfile import load_data

    try:
        return load_data(path.read_text(), where)
    except PipelineError as e:
        problems.add(where, e.message)
    except UnicodeDecodeError:
        problems.add(where, "is not UTF-8 text")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.add(where, f"is not valid YAML{at}")
    return None


def safe_rel(path: str, base: str) -> str | None:
    """`path` (relative to the folder `base`) as a repo-relative path; None when it leaves the repo."""
    if posixpath.isabs(path) or "\0" in path:
        return None
    joined = posixpath.normpath(posixpath.join(base, path)) if base else posixpath.normpath(path)
    if joined in (".", "..") or joined.startswith("../") or joined.split("/")[0] in (".git", ".dvc", ".cairn"):
        return None
    return joined


def _recorded(entry: Any, base: str | None, where: str, problems: Problems, keys: set[str]) -> Recorded | None:
    """One out or dep; `base` None keeps its path as written (a lock's, relative to a wdir)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        problems.add(where, "an entry without a `path`")
        return None
    path = entry["path"] if base is None else safe_rel(entry["path"], base)
    if path is None:
        problems.add(where, f"path {shown(entry['path'])} is outside the repository")
        return None
    unknown = sorted(set(entry) - keys)
    if "files" in unknown or "cloud" in unknown:
        problems.add(where, f"{path} records a cloud-versioned remote (`files:`/`cloud:`), which cairn does not have")
        return None
    if unknown:
        problems.add(where, f"{path} has keys cairn does not know: {', '.join(map(str, unknown))}")
        return None
    hash_name = entry.get("hash")
    if hash_name not in (None, "md5"):
        problems.add(where, f"{path} is hashed with {shown(hash_name)}; only md5 (DVC 2 and 3) converts")
        return None
    md5 = entry.get("md5")
    if md5 is not None and not is_md5(md5):
        problems.add(where, f"{path} has an invalid md5 {shown(md5)}")
        return None
    size, nfiles = entry.get("size"), entry.get("nfiles")
    if (size is not None and type(size) is not int) or (nfiles is not None and type(nfiles) is not int):
        problems.add(where, f"{path} has an invalid size or nfiles")
        return None
    return Recorded(path, md5, hash_name is None, size, nfiles, entry.get("isexec") is True)


def read_dvc_file(root: Path, rel: str, problems: Problems) -> DvcFile | None:
    """A `.dvc` file (as `dvc add` writes it). Imports (`deps:`) and `cache: false` outs are
    problems: the first are `cairn import`/`import-url`, the second git's to track."""
    doc = load_yaml(root / rel, rel, problems)
    if doc is None:
        if not problems.items or not problems.items[-1].startswith(rel):
            problems.add(rel, "is empty")
        return None
    if not isinstance(doc, dict):
        problems.add(rel, "is not a mapping")
        return None
    if doc.get("deps"):
        deps = doc["deps"] if isinstance(doc["deps"], list) else []
        src = deps[0] if deps and isinstance(deps[0], dict) else {}
        repo = src.get("repo", {}).get("url") if isinstance(src.get("repo"), dict) else None
        if repo:
            hint = f"import it again with `cairn import {repo} {src.get('path', 'PATH')}`"
        else:
            hint = f"import it again with `cairn import-url {src.get('path', 'URL')}`"
        problems.add(rel, f"is a `dvc import`/`import-url` (it has deps); {hint}")
        return None
    if doc.get("cmd"):
        problems.add(rel, "is a single-stage .dvc file with a `cmd` (DVC 1); move the stage into dvc.yaml first")
        return None
    base = posixpath.dirname(rel)
    wdir = doc.get("wdir")
    if isinstance(wdir, str) and wdir not in ("", "."):
        base = posixpath.normpath(posixpath.join(base, wdir))
    outs = doc.get("outs")
    if not isinstance(outs, list) or not outs:
        problems.add(rel, "has no `outs`")
        return None
    out = DvcFile(rel)
    for entry in outs:
        rec = _recorded(entry, base, rel, problems, _OUT_KEYS)
        if rec is None:
            continue
        if entry.get("cache") is False:
            problems.add(rel, f"{rec.path} has `cache: false` (git tracks it, not DVC); `git add` it instead")
            continue
        if rec.md5 is None:
            problems.add(rel, f"{rec.path} has no md5 (never committed); run `dvc commit {rel}` first")
            continue
        for key in ("persist", "remote", "type", "labels", "meta"):
            if key in entry:
                problems.note(rel, f"`{key}` of {rec.path} has no place in a cairn pointer and was left out")
        if entry.get("push") is False:
            problems.note(rel, f"{rec.path} has `push: false`; cairn pushes every tracked path")
        out.outs.append(rec)
    return out


def read_lock(root: Path, problems: Problems) -> dict[str, LockedStage]:
    """dvc.lock by stage name; {} when there is none."""
    path = root / LOCK
    if not path.exists():
        return {}
    doc = load_yaml(path, LOCK, problems)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        problems.add(LOCK, "is not a mapping")
        return {}
    if "schema" in doc:
        if str(doc["schema"]) != "2.0":
            problems.add(LOCK, f"has schema {shown(doc['schema'])}; DVC 2 and 3 write 2.0")
            return {}
        stages = doc.get("stages") or {}
    else:
        stages = doc  # DVC 1: stage names at the top
    if not isinstance(stages, dict):
        problems.add(LOCK, "`stages` is not a mapping")
        return {}
    out: dict[str, LockedStage] = {}
    for name, entry in stages.items():
        where = f"{LOCK} stage {name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("cmd"), (str, list)):
            problems.add(where, "has no `cmd`")
            continue
        cmd = entry["cmd"]
        locked = LockedStage([cmd] if isinstance(cmd, str) else [str(c) for c in cmd])
        for key, target in (("deps", locked.deps), ("outs", locked.outs)):
            items = entry.get(key) or []
            if not isinstance(items, list):
                problems.add(where, f"`{key}` is not a list")
                continue
            for item in items:
                # paths stay as written: they are relative to the stage's wdir, which dvc.yaml holds
                rec = _recorded(item, None, where, problems, _LOCK_ENTRY_KEYS)
                if rec is not None:
                    target.append(rec)
        params = entry.get("params") or {}
        if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
            problems.add(where, "`params` is not a mapping of files to values")
        else:
            locked.params = {str(f): dict(v) for f, v in params.items()}
        out[str(name)] = locked
    return out
