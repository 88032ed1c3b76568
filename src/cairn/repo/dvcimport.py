"""`cairn import-dvc`: convert the DVC project around the current folder (dvcimport/) and write
the result into a cairn repository (created when there is none): cairn.yaml, cairn.lock,
pointers, .cairnignore, .gitignore lines, remotes; with a DVC remote named, the converted data
is pushed to the cairn remote of that name. Everything is planned (and every object stored)
first; the files are written only when the whole project converts."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.dvcimport import convert
from cairn.dvcimport.config import cairn_url, read_config, storage_url
from cairn.dvcimport.content import Resolver, Version, replace_ignore
from cairn.dvcimport.problems import Problems
from cairn.errors import ConfigError, DvcImportError, NotARepoError
from cairn.progress import NULL, Progress

MAP_FILE = "dvc-md5.json"  # under .cairn/state: recorded md5 -> the cairn version of the same bytes
MAP_VERSION = 1


@dataclass
class ImportResult:
    plan: convert.Plan
    root: str
    dry_run: bool
    initialized: bool = False
    remotes_added: list[str] = field(default_factory=list)
    pushed: int | None = None  # objects sent to the cairn remote (with --remote)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "root": self.root,
            "dry_run": self.dry_run,
            "initialized": self.initialized,
            "remotes_added": self.remotes_added,
            "pushed": self.pushed,
        }


def find_dvc_root(start: Path) -> Path:
    here = Path(os.path.abspath(start))
    for d in (here, *here.parents):
        if (d / ".dvc").is_dir():
            return d
    raise NotARepoError(
        f"{here} is not inside a DVC project (no .dvc/ folder here or above)",
        "run `cairn import-dvc` at the top of the DVC project (where `dvc init` made .dvc/)",
    )


def _remote_get(root: Path, name: str | None):
    """A reader of the DVC remote `name`'s objects, or None."""
    if name is None:
        return None, None
    problems = Problems()
    config = read_config(root, problems)
    remote = config.remotes.get(name)
    if remote is None:
        known = ", ".join(sorted(config.remotes)) or "none"
        raise ConfigError(
            f"the DVC project has no remote named {name!r} (its remotes: {known})",
            "name one of them (`dvc remote list` shows them)",
        )
    from cairn.storage import open_storage

    storage = open_storage(storage_url(root, remote.url), {**remote.options, **remote.secrets})

    def get(key: str) -> bytes:
        from cairn.errors import RemoteKeyMissingError

        try:
            return storage.get_bytes(key)
        except (RemoteKeyMissingError, KeyError) as e:
            raise FileNotFoundError(key) from e

    return get, storage


def _load_map(dot: Path) -> dict[str, Version]:
    try:
        doc = json.loads((dot / "state" / MAP_FILE).read_text())
        if doc.get("version") != MAP_VERSION:
            return {}
        return {k: Version(*v) for k, v in doc["versions"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # only a shortcut: without it the DVC cache is read again


def _save_map(dot: Path, found: dict[str, Version]) -> None:
    merged = {**_load_map(dot), **found}
    doc = {"version": MAP_VERSION, "versions": {k: v.to_list() for k, v in sorted(merged.items())}}
    path = dot / "state" / MAP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{MAP_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def import_dvc(
    start: str | os.PathLike[str] | None = None,
    remote: str | None = None,
    dry_run: bool = False,
    progress: Progress = NULL,
) -> ImportResult:
    from cairn.repo.repo import Repo

    root = find_dvc_root(Path(start or os.getcwd()))
    config = read_config(root, Problems())
    cache_dir = root / config.cache_dir
    get, storage = _remote_get(root, remote)
    try:
        if dry_run:
            return _dry_run(root, cache_dir, get, progress)
        created = not (root / ".cairn" / "config.toml").exists()
        if created:
            _check_git_root(root)
            Repo.init(root, no_scm=not (root / ".git").exists())
            if config.cache_types:  # the link types the project chose (DVC's names are cairn's)
                from cairn.repo.config import write

                write(root / ".cairn", "cache.type", config.cache_types)
        repo = Repo(root, progress)
        written = False
        try:
            with repo.lock():
                resolvers: list[Resolver] = []
                known = _load_map(repo.dot)

                def resolver_for(ignore) -> Resolver:
                    resolvers.append(Resolver(replace_ignore(repo.ws, ignore), cache_dir, True, get, known))
                    return resolvers[-1]

                plan = convert.plan(root, resolver_for)
                if storage is not None and resolvers:
                    # every version the DVC remote holds, before anything is written
                    from cairn.dvcimport.remotecopy import copy_all

                    keys = (k for k, _ in storage.list(""))
                    roots, skipped = copy_all(resolvers[-1], keys)
                    plan.roots += roots
                    plan.notes += [f"DVC remote {remote}: skipped {s}" for s in skipped]
                _write(repo, plan)
                written = True
                for r in resolvers:
                    r.flush_stats()
                _save_map(repo.dot, plan.md5_map)
                result = ImportResult(plan, str(root), False, created, _add_remotes(repo, plan))
            if remote is not None and plan.roots:
                result.pushed = repo.push(plan.roots, remote).transferred
            return result
        except BaseException:
            if created and not written:  # a failed first import leaves the project as it was
                repo.close()
                shutil.rmtree(root / ".cairn", ignore_errors=True)
            raise
        finally:
            repo.close()
    finally:
        if storage is not None:
            storage.close()


def _check_git_root(root: Path) -> None:
    """cairn lives at the top of its git repository; `dvc init --subdir` projects do not."""
    for d in root.parents:
        if (d / ".git").exists() and not (root / ".git").exists():
            raise DvcImportError(
                f"the DVC project {root} is a subfolder of the git repository {d} (dvc init --subdir); "
                "cairn works at the top of a git repository",
                "move the DVC project to the top of its git repository first (git mv), then convert it there",
            )


def _dry_run(root: Path, cache_dir: Path, get, progress: Progress) -> ImportResult:
    """Plan with a throwaway stat cache and no storing: hashes, checks, and changes nothing."""
    from cairn.index.statcache import StatCache
    from cairn.objects.store import ObjectStore
    from cairn.workspace.context import Workspace

    with tempfile.TemporaryDirectory(prefix="cairn-import-dvc-") as tmp:
        stats = StatCache(Path(tmp) / "stat.db")
        ws = Workspace(root, ObjectStore(Path(tmp) / "objects"), stats, ["copy"], None, progress)
        try:
            plan = convert.plan(root, lambda ignore: Resolver(replace_ignore(ws, ignore), cache_dir, False, get))
        finally:
            stats.close()
    return ImportResult(plan, str(root), True)


def _write(repo, plan: convert.Plan) -> None:
    """Every file through a temp file first, then the renames: a failure while writing the
    temps leaves nothing of the conversion behind."""
    from cairn.workspace.gitignore import ignore_in_git

    temps: list[tuple[Path, Path]] = []
    try:
        for rel, text in plan.files.items():
            dest = repo.root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)  # a pointer beside data not checked out
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
            tmp.write_text(text)
            temps.append((tmp, dest))
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, dest in temps:
        os.replace(tmp, dest)
    for rel in dict.fromkeys(plan.ignored):
        (repo.root / rel).parent.mkdir(parents=True, exist_ok=True)
        ignore_in_git(repo.root, rel)


def _add_remotes(repo, plan: convert.Plan) -> list[str]:
    from cairn.repo.config import write

    existing = repo.config.remotes()
    added = []
    for name, remote in sorted(plan.config.remotes.items()):
        if name in existing:
            plan.notes.append(f".dvc/config remote {name}: a cairn remote of that name exists already; kept")
            continue
        write(repo.dot, f"remote.{name}.url", cairn_url(remote.url))
        for key, value in remote.options.items():
            write(repo.dot, f"remote.{name}.{key}", value)
        for key, value in remote.secrets.items():
            write(repo.dot, f"remote.{name}.{key}", value, local=True)
        added.append(name)
    if plan.config.default_remote in added and not repo.config.get("core.remote"):
        write(repo.dot, "core.remote", plan.config.default_remote)
    from cairn.repo.config import Config

    repo.config = Config(repo.dot)
    return added
