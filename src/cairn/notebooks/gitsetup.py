"""Per-repository git configuration for notebooks: nbdime's diff and merge drivers (the same
config lines `nbdime config-git --enable` writes) and cairn's clean filter, switched on for
`*.ipynb` by one `.gitattributes` line. Git config is per clone; .gitattributes is committed."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cairn.errors import MissingDependencyError, NotebookError
from cairn.scm.gitcli import failure, run_git

ATTRIBUTE = "*.ipynb diff=jupyternotebook merge=jupyternotebook filter=cairn-notebook"
# section -> {key: value}; the nbdime values are those `nbdime config-git --enable` writes (plus --use-filter)
CONFIG = {
    # --use-filter: the workspace side goes through the clean filter too, so outputs are not a change
    "diff.jupyternotebook": {"command": "git-nbdiffdriver diff --use-filter"},
    "merge.jupyternotebook": {
        "name": "jupyter notebook merge driver",
        "driver": "git-nbmergedriver merge %O %A %B %L %P",
    },
    "filter.cairn-notebook": {"clean": "cairn notebooks clean"},
}
DRIVERS = ("git-nbdiffdriver", "git-nbmergedriver")


@dataclass
class SetupResult:
    attributes: str  # the .gitattributes file, relative to the root
    changed: bool  # whether that file was written
    config: list[str] = field(default_factory=list)  # git config keys set or removed
    renormalize: list[str] = field(default_factory=list)  # committed notebooks still holding outputs


def enable(root: Path, tmp: Path) -> SetupResult:
    missing = [d for d in DRIVERS if shutil.which(d) is None]
    if missing:
        raise MissingDependencyError(
            f"nbdime's git drivers ({', '.join(missing)}) are not on PATH",
            "install the notebooks extra where git can find it: pip install 'cairn[notebooks]'",
        )
    keys = []
    for section, values in CONFIG.items():
        for key, value in values.items():
            _git(root, ["config", f"{section}.{key}", value], f"set {section}.{key}")
            keys.append(f"{section}.{key}")
    path = root / ".gitattributes"
    text = path.read_text() if path.exists() else ""
    lines = text.splitlines()
    changed = ATTRIBUTE not in (ln.strip() for ln in lines)
    if changed:
        _write(path, text + ("\n" if text and not text.endswith("\n") else "") + ATTRIBUTE + "\n", tmp)
    return SetupResult(".gitattributes", changed, keys, _with_outputs(root))


def disable(root: Path, tmp: Path) -> SetupResult:
    removed = []
    for section in CONFIG:
        proc = run_git(root, ["config", "--remove-section", section], 30)
        if proc is not None and proc.returncode == 0:
            removed.append(section)
    path = root / ".gitattributes"
    changed = False
    if path.exists():
        lines = path.read_text().splitlines(keepends=True)
        kept = [ln for ln in lines if ln.strip() != ATTRIBUTE]
        if len(kept) != len(lines):
            changed = True
            if any(ln.strip() for ln in kept):
                _write(path, "".join(kept), tmp)
            else:
                path.unlink()  # it held only our line
    return SetupResult(".gitattributes", changed, removed)


def _with_outputs(root: Path) -> list[str]:
    """Committed notebooks whose stored copy is not what the filter makes of it: they show as
    modified until renormalized (`git add --renormalize`)."""
    from cairn.notebooks.clean import clean_bytes

    proc = run_git(root, ["ls-files", "-z", "--", "*.ipynb"], 60)
    if proc is None or proc.returncode != 0:
        return []
    out = []
    for rel in filter(None, proc.stdout.split("\0")):
        blob = run_git(root, ["show", f"HEAD:{rel}"], 60)
        if blob is not None and blob.returncode == 0 and clean_bytes(blob.stdout.encode()) != blob.stdout.encode():
            out.append(rel)
    return out


def _git(root: Path, args: list[str], what: str) -> None:
    proc = run_git(root, args, 30)
    if proc is None or proc.returncode != 0:
        raise NotebookError(
            f"could not {what} in the git config: {failure(proc) if proc else 'git timed out'}",
            "check that .git/config is writable, then run `cairn notebooks setup` again",
        )


def _write(path: Path, text: str, tmp: Path) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    part = tmp / f"notebooks.{path.name}.{os.getpid()}.tmp"
    try:
        part.write_text(text)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
