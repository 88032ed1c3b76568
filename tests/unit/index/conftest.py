"""Fixtures of the split walk's and the split add's tests."""

from __future__ import annotations

import os

import pytest

from cairn.index import forked


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the helpers forked (the real fork, counted)."""
    pids: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    # threads other tests of this process left behind (servers, BLAKE3's pool) would keep the
    # walk and the add in one process; the tests of that rule put the real check back
    monkeypatch.setattr(forked, "other_threads", lambda: False)
    return pids
