"""Three-way merge of cairn.lock (behind the `cairn-lock` git merge driver).

A stage entry changed on one side only is taken from that side. A stage whose entries changed
differently on both sides has no right answer (neither side ran what the merged workspace
holds), so it is dropped: the merged lock simply does not record it, and `cairn repro` sees it
as stale and rebuilds it. The result is written with lock.dump, byte for byte what repro writes
for the same entries."""

from __future__ import annotations

from cairn.errors import PipelineError
from cairn.pipelines import lock
from cairn.pipelines.lock import StageLock

_Stages = dict[str, StageLock]


def merge_locks(base: str | None, ours: str, theirs: str, where: str) -> tuple[str, list[str]]:
    """The merged lock text and the sorted names of the stages dropped. `base` is None when
    there is no common version (no merge base, or the file did not exist in it): then stages
    equal on both sides are kept and differing ones dropped. `where` names the file in errors."""
    old = _parse(base, "base", where) if base is not None else {}
    mine = _parse(ours, "ours", where)
    other = _parse(theirs, "theirs", where)
    merged: _Stages = {}
    dropped: list[str] = []
    for name in _order(mine, other):
        a, b, o = mine.get(name), other.get(name), old.get(name)
        if _same(a, b):
            entry = a
        elif _same(a, o):
            entry = b  # only theirs changed it (or removed it, or added it)
        elif _same(b, o):
            entry = a
        else:  # changed on both sides, differently (a removal against a change included)
            dropped.append(name)
            continue
        if entry is not None:
            merged[name] = entry
    return lock.dump(merged, list(merged)), sorted(dropped)


def _order(ours: _Stages, theirs: _Stages) -> list[str]:
    """Ours' order (the pipeline order repro wrote), with each stage only theirs has placed
    after the stage that precedes it in theirs, so the pipeline order survives on both sides."""
    names = list(ours)
    after = None
    for name in theirs:
        if name in ours:
            after = name
            continue
        at = names.index(after) + 1 if after is not None else 0
        names.insert(at, name)
        after = name
    return names


def _same(a: StageLock | None, b: StageLock | None) -> bool:
    if a is None or b is None:
        return a is b
    # compare the text each entry is written as: to_dict() equality would call a NaN param
    # changed on both sides of an otherwise untouched stage
    return a is b or lock.dump({"s": a}, []) == lock.dump({"s": b}, [])


def _parse(text: str, side: str, where: str) -> _Stages:
    try:
        return lock.parse(text, where)
    except PipelineError as e:
        hint = (
            e.hint
            if e.hint == "upgrade cairn"
            else f"fix the {side} version of {where}, or settle it by hand: `git checkout --ours {where}` "
            f"(or --theirs), `git add {where}`, then `cairn repro` reruns what is stale"
        )
        raise PipelineError(f"cannot merge {where}: its {side} version is unreadable: {e.message}", hint) from None
