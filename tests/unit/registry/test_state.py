"""Registry state from tags: which version each stage points to, rollback, unassign,
deregistration, deprecation, counters."""

from __future__ import annotations

import pytest

from cairn.errors import RegistryError
from cairn.registry import tagnames
from cairn.registry.state import Event, build, find, next_counter


def ev(tag: str, commit: str, time: int) -> Event:
    name = tagnames.parse(tag)
    assert name is not None
    return Event(tag, name, commit, "A", "a@x", time, f"message of {tag}")


def test_stage_follows_the_latest_assignment_and_rollback():
    events = [
        ev("m@v1.0.0", "c1", 10),
        ev("m#prod#1", "c1", 11),
        ev("m@v1.1.0", "c2", 12),
        ev("m#prod#2", "c2", 13),
        ev("m#staging#3", "c2", 13),
    ]
    art = build(events)["m"]
    assert art.stages == {"prod": "v1.1.0", "staging": "v1.1.0"}
    assert art.latest().version == "v1.1.0"
    art = build([*events, ev("m#prod#4", "c1", 14)])["m"]  # rollback
    assert art.stages == {"prod": "v1.0.0", "staging": "v1.1.0"}
    assert art.versions["v1.0.0"].stages == ["prod"]


def test_same_second_tags_order_by_counter():
    events = [ev("m@v1.0.0", "c1", 5), ev("m@v2.0.0", "c2", 5), ev("m#prod#2", "c1", 5), ev("m#prod#1", "c2", 5)]
    art = build(events)["m"]
    assert art.stages == {"prod": "v1.0.0"}


def test_unassign_deregister_deprecate():
    events = [ev("m@v1.0.0", "c1", 1), ev("m#prod#1", "c1", 2), ev("m@v2.0.0", "c2", 3), ev("m#prod#2", "c2", 4)]
    assert build([*events, ev("m#prod!#3", "c2", 5)])["m"].stages == {"prod": "v1.0.0"}
    art = build([*events, ev("m@v2.0.0!#3", "c2", 5)])["m"]
    assert art.stages == {"prod": "v1.0.0"} and art.latest().version == "v1.0.0"
    with pytest.raises(RegistryError, match=r"has no version 'v2\.0\.0'"):
        art.version("v2.0.0")
    assert build([*events, ev("m@deprecated#3", "c1", 5)])["m"].deprecated
    assert next_counter(events, "m") == 3 and next_counter(events, "other") == 1


def test_assignment_of_an_unregistered_commit_names_it_by_commit():
    art = build([ev("m#dev#1", "abc123", 1)])["m"]
    assert art.stages == {"dev": "abc123"} and art.latest() is None


def test_unknown_artifact_and_stage():
    arts = build([ev("m@v1.0.0", "c1", 1)])
    with pytest.raises(RegistryError, match="artifact 'x' has no versions in the registry"):
        find(arts, "x")
    with pytest.raises(RegistryError, match="no version of 'm' is in stage 'prod'") as e:
        arts["m"].at_stage("prod")
    assert "cairn model assign m@VERSION --stage prod" in (e.value.hint or "")
