"""Markers for the benchmark harness's tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "bench_smoke: runs `bench/run.py --smoke` end to end (makes the bench venvs on first use: minutes)",
    )
    if not config.pluginmanager.hasplugin("timeout"):
        # Keep `--strict-markers` happy where pytest-timeout is not installed.
        config.addinivalue_line("markers", "timeout(seconds): per-test time limit (pytest-timeout)")
