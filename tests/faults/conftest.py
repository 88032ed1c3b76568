"""Fixtures of the fault suite: the kill -9 harness (tests/faults/killing.py), and a small tmpfs
for full-disk tests (root only)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import killing  # pytest puts this folder on sys.path (no __init__.py), as bench/faults.py does
import pytest


@pytest.fixture(scope="session")
def kill_harness(tmp_path_factory: pytest.TempPathFactory) -> killing.Harness:
    """One harness per session: the base project is built once and copied per operation. A small
    dataset keeps CI short; bench/faults.py runs the same trials at full size."""
    return killing.Harness(tmp_path_factory.mktemp("kill"), count=60)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted at tmp_path/small-disk; unmounted afterwards."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux; run the full-disk tests as root")
    where = tmp_path / "small-disk"
    where.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
