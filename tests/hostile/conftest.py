"""Hostile input: the example count, and the tally of generated and rejected inputs.

CI runs each property test with HOSTILE.max_examples examples (200 by default); a bench run
raises it with CAIRN_HOSTILE_EXAMPLES, e.g.

    CAIRN_HOSTILE_EXAMPLES=5000 .venv/bin/python -m pytest tests/hostile -q -k "not cli"

and the run ends with a table of inputs generated and rejected per parser (also written as JSON
to the file CAIRN_HOSTILE_REPORT names, when set)."""

from __future__ import annotations

import json
import os

from hostile.tally import TALLY


def pytest_terminal_summary(terminalreporter) -> None:
    if not TALLY:
        return
    terminalreporter.section("hostile inputs (generated / rejected with a clear error)")
    for parser, (generated, rejected) in sorted(TALLY.items()):
        terminalreporter.write_line(f"{parser:<28} {generated:>8} generated {rejected:>8} rejected")
    report = os.environ.get("CAIRN_HOSTILE_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump({k: {"generated": g, "rejected": r} for k, (g, r) in sorted(TALLY.items())}, f, indent=2)
