"""Counts of hostile inputs per parser, and the hypothesis settings every property test uses."""

from __future__ import annotations

import os
from collections import defaultdict

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("CAIRN_HOSTILE_EXAMPLES", "200"))

# deadline off: the machine is shared and timing is never asserted in a test
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

TALLY: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # parser -> [generated, rejected]


def count(parser: str, rejected: bool) -> None:
    entry = TALLY[parser]
    entry[0] += 1
    entry[1] += rejected
