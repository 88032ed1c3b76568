"""Comparing and acting on recorded experiments: show (sort, filter, changed columns), diff,
apply, branch, remove, push and pull of the refs."""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pygit2

from cairn.errors import UserInputError, WouldLoseDataError
from cairn.experiments.record import EXP_REFS, ExpInfo
from cairn.scm.commits import (
    create_branch,
    delete_ref,
    head_commit,
    transport_refs,
    tree_paths,
    workspace_changes,
)
from cairn.scm.git import Git

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
# the value may not start with an operator character: `acc>>1` or `acc=>1` is a typo, not a
# comparison with the string '>1' that silently matches nothing
_FILTER = re.compile(r"^\s*(params|metrics|env)\.([^<>=!]+?)\s*(>=|<=|==|!=|>|<)\s*([^<>=!\s].*?)\s*$")


def flat_rows(infos: Iterable[ExpInfo]) -> list[dict[str, Any]]:
    """Table rows named alike: when one experiment has values from several params (or metrics)
    files, every row's columns of that kind are FILE:KEY, so one param is one column."""
    infos = list(infos)
    single = {kind: all(len(getattr(i, kind)) <= 1 for i in infos) for kind in ("params", "metrics")}
    return [flat_row(i, single) for i in infos]


def flat_row(info: ExpInfo, single: dict[str, bool] | None = None) -> dict[str, Any]:
    """One table row: params.KEY and metrics.KEY columns (file names kept only when needed:
    `single` says per kind whether every row being shown has one file, see flat_rows)."""
    row: dict[str, Any] = {
        "name": info.name,
        "baseline": info.baseline[:7],
        "created": datetime.fromtimestamp(info.created).strftime("%Y-%m-%d %H:%M:%S"),
        "status": info.status,
        "exit_code": info.exit_code,
    }
    for kind, groups in (("params", info.params), ("metrics", info.metrics)):
        one = single[kind] if single is not None else len(groups) == 1
        for file, values in groups.items():
            for key, value in values.items():
                row[f"{kind}.{key}" if one else f"{kind}.{file}:{key}"] = value
    return row


def find(infos: Iterable[ExpInfo], name: str) -> ExpInfo:
    infos = list(infos)
    matches = [i for i in infos if i.name == name or (i.commit.startswith(name) and len(name) >= 7)]
    if not matches:
        import difflib

        near = difflib.get_close_matches(name, [i.name for i in infos], n=1)
        raise UserInputError(
            f"there is no experiment named {name!r}",
            f"did you mean {near[0]!r}?" if near else "list them with `cairn exp list`",
        )
    if len(matches) > 1:
        raise UserInputError(f"{name!r} names several experiments", "use the commit id (`cairn exp list`)")
    return matches[0]


def select(infos: list[ExpInfo], baseline: str | None, all_baselines: bool) -> list[ExpInfo]:
    return infos if all_baselines or baseline is None else [i for i in infos if i.baseline == baseline]


def apply_filter(rows: list[dict[str, Any]], expr: str) -> list[dict[str, Any]]:
    m = _FILTER.match(expr)
    if not m:
        raise UserInputError(
            f"cannot read the filter {expr!r}", "write e.g. 'metrics.acc>0.9' or 'params.train.lr<=0.01'"
        )
    column = f"{m.group(1)}.{m.group(2)}"
    op = _OPS[m.group(3)]
    want = _coerce(m.group(4))
    if rows and not any(column in r for r in rows):
        raise UserInputError(f"no experiment has a column {column!r}", f"columns: {', '.join(sorted(rows[0]))}")
    out = []
    for r in rows:
        value = r.get(column)
        try:
            if value is not None and op(value, want):
                out.append(r)
        except TypeError:
            continue
    return out


def _coerce(raw: str) -> Any:
    if raw.lower() in ("true", "false"):  # env.dirty, boolean params
        return raw.lower() == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw.strip("'\"")


def sort_rows(rows: list[dict[str, Any]], key: str | None, order: str) -> list[dict[str, Any]]:
    if key is None:
        return sorted(rows, key=lambda r: r["created"])
    if rows and not any(key in r for r in rows):
        raise UserInputError(f"cannot sort by {key!r}: no such column", f"columns: {', '.join(sorted(rows[0]))}")
    present = [r for r in rows if r.get(key) is not None]
    absent = [r for r in rows if r.get(key) is None]
    try:
        present.sort(key=lambda r: r[key], reverse=order == "desc")
    except TypeError:
        present.sort(key=lambda r: str(r[key]), reverse=order == "desc")
    return present + absent  # rows lacking the value go last either way


def columns(rows: list[dict[str, Any]], only_changed: bool) -> list[str]:
    """Columns of the table (`exit_code` is shown within `status`, see status_text)."""
    seen: dict[str, None] = {}  # ordered and O(1) to test: 500 experiments x 100 columns
    for r in rows:
        seen.update(dict.fromkeys(r))
    seen.pop("exit_code", None)
    cols = list(seen)
    if only_changed and len(rows) > 1:
        fixed = {"name", "status"}
        cols = [c for c in cols if c in fixed or len({repr(r.get(c)) for r in rows}) > 1]
    return cols


def exit_text(exit_code: int | None) -> str:
    """`exit code 3`, `killed by signal 9` (a negative code); empty for None and 0."""
    if not exit_code:
        return ""
    return f"killed by signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"


def status_text(status: str, exit_code: int | None) -> str:
    """`failed (exit code 3)`, `failed (killed by signal 9)`; other statuses as they are."""
    return f"{status} ({exit_text(exit_code)})" if status == "failed" and exit_code else status


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def diff(a: ExpInfo, b_params: dict, b_metrics: dict, b_env: dict) -> dict[str, list[dict[str, Any]]]:
    """Params, metrics and environment that differ between `a` and the other side."""
    out: dict[str, list[dict[str, Any]]] = {"params": [], "metrics": [], "env": []}
    for kind, old, new in (("params", a.params, b_params), ("metrics", a.metrics, b_metrics)):
        for file in sorted(set(old) | set(new)):
            o, n = old.get(file, {}), new.get(file, {})
            for key in sorted(set(o) | set(n)):
                if o.get(key) != n.get(key):
                    change = None
                    if _number(o.get(key)) and _number(n.get(key)):
                        change = n[key] - o[key]
                        # as `metrics diff`: 0.05 - 0.15 is -0.09999999999999999 in binary floats
                        change = float(f"{change:.12g}") if isinstance(change, float) else change
                    out[kind].append({"file": file, "key": key, "old": o.get(key), "new": n.get(key), "change": change})
    for key in ("python", "platform", "fingerprint", "commit", "dirty"):
        if a.env.get(key) != b_env.get(key):
            out["env"].append({"key": key, "old": a.env.get(key), "new": b_env.get(key)})
    old_pk, new_pk = set(a.env.get("packages", [])), set(b_env.get("packages", []))
    for pkg in sorted(old_pk ^ new_pk):
        out["env"].append(
            {"key": "package", "old": pkg if pkg in old_pk else None, "new": pkg if pkg in new_pk else None}
        )
    return out


def apply_files(git: Git, info: ExpInfo, root: Path, force: bool) -> list[str]:
    """Write the experiment's versions of git-tracked files into the workspace; the paths written.

    Refused, unless forced, when that would change content HEAD does not hold: a file changed
    since HEAD, or an untracked file at a path the experiment writes (or where it needs a folder)
    whose content differs. Untracked files elsewhere, and files that already hold what the
    experiment would write, are left alone and never block."""
    head = head_commit(git)
    exp = git.repo[info.commit].peel(pygit2.Commit)
    changes = set(workspace_changes(git))
    head_paths, exp_paths = tree_paths(head), tree_paths(exp)
    paths = {d.new_file.path for d in git.repo.diff(head.tree, exp.tree).deltas}
    # files changed since HEAD take the experiment's version too, even where the experiment left
    # them as HEAD had them (e.g. params.yaml of a later run next to this experiment's outputs)
    paths |= {p for p in changes if p in exp_paths or p in head_paths}
    plan: list[tuple[str, _State]] = []
    at_risk: set[str] = set()
    folders: list[str] = []
    for path in sorted(paths):
        want, committed = _entry(exp, path), _entry(head, path)
        have = committed if path in head_paths and path not in changes else _on_disk(root / path)
        if have == want or (want is None and have is not None and have[0] == "folder"):
            continue  # already the experiment's, or a folder where the experiment has no file
        if have is not None and have[0] == "folder":
            folders.append(path)
        plan.append((path, want))
        if have != committed:
            at_risk.add(path)
    removed = {path for path, want in plan if want is None}
    for path, want in plan:
        if want is not None:
            at_risk.update(_in_the_way(root, path, removed))
    if folders:
        raise WouldLoseDataError(
            f"applying {info.name!r} would replace folder(s) with a file: {_shown(folders)}",
            "move the folder(s) away first; --force does not delete folders",
            folders,
        )
    if at_risk and not force:
        risky = sorted(at_risk)
        raise WouldLoseDataError(
            f"applying {info.name!r} would overwrite uncommitted changes in {len(risky)} file(s): {_shown(risky)}",
            "commit or stash them (move an untracked file away) first, or use `cairn exp apply --force`",
            risky,
        )
    written = []
    for path, want in plan:
        target = root / path
        if want is None:
            target.unlink(missing_ok=True)
            written.append(path)
            continue
        for parent in _in_the_way(root, path, set()):
            (root / parent).unlink()  # forced: a file or link where a folder goes
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or want[0] == "link":
            target.unlink(missing_ok=True)  # never write through a link
        if want[0] == "link":
            os.symlink(os.fsdecode(want[1]), target)
        else:
            target.write_bytes(want[1])
        written.append(path)
    return written


# What a path holds: ("file", bytes), ("link", target), ("folder", b""), or None for nothing.
_State = tuple[str, bytes] | None


def _entry(commit: pygit2.Commit, path: str) -> _State:
    try:
        obj = commit.tree[path]
    except KeyError:
        return None
    if obj.type_str != "blob":
        return None
    return ("link" if obj.filemode == pygit2.enums.FileMode.LINK else "file", obj.data)


def _on_disk(target: Path) -> _State:
    if target.is_symlink():
        return ("link", os.fsencode(os.readlink(target)))
    if target.is_dir():
        return ("folder", b"")
    try:
        return ("file", target.read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None


def _in_the_way(root: Path, path: str, removed: set[str]) -> list[str]:
    """Files or links at the folders above `path` (which writing it needs), other than those
    the apply removes first."""
    out = []
    for parent in reversed(PurePosixPath(path).parents[:-1]):
        full = root / parent
        if str(parent) not in removed and (full.is_symlink() or full.is_file()):
            out.append(str(parent))
    return out


def _shown(paths: list[str]) -> str:
    return ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


def branch(git: Git, info: ExpInfo, name: str) -> None:
    create_branch(git, name, info.commit)


def remove(git: Git, infos: list[ExpInfo]) -> list[str]:
    for info in infos:
        delete_ref(git, info.ref)
    return [i.name for i in infos]


def older_than(infos: list[ExpInfo], date: str) -> list[ExpInfo]:
    try:
        cutoff = datetime.fromisoformat(date).timestamp()
    except ValueError:
        raise UserInputError(f"cannot read the date {date!r}", "write it as YYYY-MM-DD (or an ISO date-time)") from None
    return [i for i in infos if i.created < cutoff]


def push_refs(git: Git, remote: str, infos: list[ExpInfo]) -> None:
    transport_refs(git, "push", remote, [f"+{i.ref}:{i.ref}" for i in infos])


def pull_refs(git: Git, remote: str) -> None:
    transport_refs(git, "fetch", remote, [f"+{EXP_REFS}*:{EXP_REFS}*"])
