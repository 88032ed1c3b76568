"""cairn.experiments.names: generated names and the name rules."""

from __future__ import annotations

import itertools
import random

import pytest

from cairn.errors import UserInputError
from cairn.experiments import names


def test_generated_names_avoid_taken_ones():
    rng = random.Random(1)
    taken: set[str] = set()
    for _ in range(300):
        name = names.generate(taken, rng)
        assert name not in taken
        names.check(name)
        taken.add(name)


def test_when_every_two_word_name_is_taken_a_number_is_added():
    every = {f"{a}-{n}" for a, n in itertools.product(names._ADJ, names._NOUN)}
    name = names.generate(every, random.Random(0))
    assert name not in every and name.rsplit("-", 1)[1].isdigit()


@pytest.mark.parametrize("name", ["exp1", "lr-0.1", "A_b.c", "9lives"])
def test_valid_names(name):
    names.check(name)


@pytest.mark.parametrize("name", ["", "-x", ".x", "a b", "a/b", "a..b", "x.lock", "é", "a:b"])
def test_invalid_names(name):
    with pytest.raises(UserInputError, match="is not a valid experiment name"):
        names.check(name)
