"""Generated experiment names: two short words, unique among existing experiments."""

from __future__ import annotations

import random
import re

from cairn.errors import UserInputError

_ADJ = [
    "amber",
    "brisk",
    "calm",
    "deft",
    "eager",
    "fair",
    "grand",
    "hazy",
    "keen",
    "lucid",
    "mellow",
    "noble",
    "quick",
    "rapid",
    "sharp",
    "tidy",
    "vivid",
    "witty",
    "bold",
    "crisp",
]
_NOUN = [
    "otter",
    "falcon",
    "maple",
    "cedar",
    "heron",
    "lynx",
    "orca",
    "pine",
    "quartz",
    "raven",
    "sable",
    "tern",
    "vole",
    "wren",
    "yak",
    "birch",
    "comet",
    "delta",
    "ember",
    "fjord",
]
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check(name: str) -> None:
    if not _VALID.match(name) or name.endswith(".lock") or ".." in name:
        raise UserInputError(
            f"{name!r} is not a valid experiment name",
            "use letters, digits, '-', '_' and '.', starting with a letter or digit (no '..', not ending in '.lock')",
        )


def generate(taken: set[str], rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    for _ in range(200):
        name = f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}"
        if name not in taken:
            return name
    n = 2
    while True:
        name = f"{rng.choice(_ADJ)}-{rng.choice(_NOUN)}-{n}"
        if name not in taken:
            return name
        n += 1
