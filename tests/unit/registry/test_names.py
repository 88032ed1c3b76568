"""Semantic versions and registry tag names (GTO's format)."""

from __future__ import annotations

import pytest

from cairn.errors import RegistryError
from cairn.registry import semver, tagnames
from cairn.registry.tagnames import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, TagName


def test_semver_precedence_and_bump():
    order = ["v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0"]
    assert sorted(order, key=semver.parse) == order  # semver.org's own example
    assert semver.parse("1.2.3+build.5") == semver.parse("v1.2.3")
    assert semver.parse("v1.10.0") > semver.parse("v1.9.9")
    v = semver.parse("1.2.3-rc.1")
    assert (str(v.bump("major")), str(v.bump("minor")), str(v.bump("patch"))) == ("v2.0.0", "v1.3.0", "v1.2.4")


@pytest.mark.parametrize("text", ["1.2", "v01.2.3", "1.2.3.4", "latest", "v1.2.3-", ""])
def test_not_semver(text):
    with pytest.raises(RegistryError, match="is not a semantic version") as e:
        semver.parse(text)
    assert "MAJOR.MINOR.PATCH" in (e.value.hint or "")


@pytest.mark.parametrize(
    ("tag", "parsed"),
    [
        ("churn@v1.2.3", TagName("churn", REGISTER, version="v1.2.3")),
        ("churn@v1.2.3#4", TagName("churn", REGISTER, version="v1.2.3", counter=4)),
        ("churn@v1.2.3!#5", TagName("churn", DEREGISTER, version="v1.2.3", counter=5)),
        ("churn#prod#2", TagName("churn", ASSIGN, stage="prod", counter=2)),
        ("churn#prod!#3", TagName("churn", UNASSIGN, stage="prod", counter=3)),
        ("churn@deprecated", TagName("churn", DEPRECATE)),
        ("churn@deprecated#7", TagName("churn", DEPRECATE, counter=7)),
        ("models/nn=churn#dev#1", TagName("models/nn:churn", ASSIGN, stage="dev", counter=1)),
        ("v1.0.0", None),
        ("churn@1.0.0", None),
        ("churn@created", None),
        ("churn#", None),
    ],
)
def test_tag_names_as_gto_writes_them(tag, parsed):
    assert tagnames.parse(tag) == parsed


def test_writing_round_trips():
    assert tagnames.parse(tagnames.version_tag("a:b", "v1.0.0")) == TagName("a:b", REGISTER, version="v1.0.0")
    assert tagnames.stage_tag("m", "prod", 3, cancel=True) == "m#prod!#3"
    assert tagnames.deprecate_tag("d/x:m") == "d/x=m@deprecated"


@pytest.mark.parametrize("stage", ["pro d", "-prod", "prod-", "pr#od", "p@d", ""])
def test_invalid_stage(stage):
    with pytest.raises(RegistryError, match="is not a valid stage name"):
        tagnames.check_stage(stage)


@pytest.mark.parametrize("name", ["Bad Name", "-x", "x-", "a@b", "a#b", ""])
def test_invalid_name(name):
    with pytest.raises(RegistryError, match="is not a valid artifact name"):
        tagnames.check_name(name)
