"""S1's copy of its generated set (bench/scale_workloads.py `copy_set`): the copy is byte for byte
the set, and the set's pages are dropped from the page cache around the copy, never the copy's
(issue 22: the set's pages, used twice, crowded the copy the timed add reads out of the cache)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def sw(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    for name in [n for n in sys.modules if (BENCH / f"{n}.py").exists()]:
        monkeypatch.delitem(sys.modules, name)
    import scale_workloads

    return scale_workloads


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise (macOS)")
def test_copy_set_copies_every_byte_and_drops_only_the_sets_pages(sw, tmp_path, dontneed):
    shape = sw.shape_of("smoke")
    src, dest = tmp_path / "set", tmp_path / "run"
    src.mkdir()
    sw.generate(src, shape, jobs=1)
    advised = dontneed
    advised.clear()  # the copy's advice alone
    sw.copy_set(src, dest, jobs=2)

    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in sorted((root / "data").rglob("*.bin"))}

    made, copied = files(src), files(dest)
    assert len(made) == shape.files and made.keys() == copied.keys()
    assert all(made[k].read_bytes() == copied[k].read_bytes() for k in made)
    # each file of the set advised before and after the copy; none of the copy
    assert sorted(advised) == sorted(2 * [p.stat().st_ino for p in made.values()])
