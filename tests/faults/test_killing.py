"""kill -9 at a random moment of every writing command (tests/faults/killing.py says what is
checked): a few trials per operation here, 100 each with `python bench/faults.py --trials 100`."""

from __future__ import annotations

import killing
import pytest

TRIALS = 1  # per operation in CI; bench/faults.py runs many more


@pytest.mark.parametrize("op", killing.OPS)
def test_killed_command_leaves_a_sound_repository(kill_harness, op):
    trials = killing.run_op(kill_harness, op, TRIALS)

    problems = [f"trial {i} (killed after {t.delay:.2f} s): {p}" for i, t in enumerate(trials) for p in t.problems]
    assert problems == [], "\n".join(problems)
    assert len(trials) == TRIALS
