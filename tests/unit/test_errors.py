"""The error tree: one base, a stable code per class, an exit code, and hints in str()."""

from __future__ import annotations

import inspect

import pytest

import cairn.errors as errors
from cairn.errors import CairnError

CLASSES = sorted(
    (c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__),
    key=lambda c: c.__name__,
)

# The codes are part of the --json output: changing one breaks users' scripts.
STABLE_CODES = {
    "CairnError": "error",
    "UserInputError": "bad-input",
    "PathError": "bad-path",
    "OverlapError": "overlapping-paths",
    "RevisionError": "bad-revision",
    "ConfigError": "bad-config",
    "RepoStateError": "repo-state",
    "NotARepoError": "not-a-repo",
    "AlreadyInitializedError": "already-initialized",
    "PointerError": "bad-pointer",
    "DataError": "data",
    "ObjectMissingError": "missing-object",
    "CorruptObjectError": "corrupt-object",
    "WouldLoseDataError": "would-lose-data",
    "LockedError": "locked",
    "PermissionDeniedError": "permission-denied",
}


def test_every_class_is_a_cairn_error() -> None:
    assert CLASSES
    for cls in CLASSES:
        assert issubclass(cls, CairnError), cls


def test_codes_are_distinct_and_declared_by_each_class() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(codes) == len(set(codes)), codes
    for cls in CLASSES:
        # inherited codes would make two classes indistinguishable in --json output
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"


def test_codes_are_stable() -> None:
    # new classes may be added; the published ones keep their codes
    current = {cls.__name__: cls.code for cls in CLASSES}
    assert {name: current.get(name) for name in STABLE_CODES} == STABLE_CODES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_exit_code_is_a_small_positive_int(cls: type[CairnError]) -> None:
    assert isinstance(cls.exit_code, int)
    if cls is errors.StoppedError:
        assert cls.exit_code == 130  # the shell convention for "stopped by SIGINT"
    else:
        assert 1 <= cls.exit_code < 126  # 126+ mean "cannot execute" and signals to shells


def test_exit_codes_group_by_family() -> None:
    assert errors.PathError.exit_code == errors.UserInputError.exit_code == 2
    assert errors.PointerError.exit_code == errors.RepoStateError.exit_code == 3
    assert errors.CorruptObjectError.exit_code == errors.DataError.exit_code == 4
    assert len({errors.UserInputError.exit_code, errors.RepoStateError.exit_code, errors.DataError.exit_code}) == 3


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_str_includes_message_and_hint(cls: type[CairnError]) -> None:
    e = cls("something is wrong", "do this to fix it")
    assert str(e) == "something is wrong\n  hint: do this to fix it"
    assert e.message == "something is wrong"
    assert e.hint == "do this to fix it"


def test_str_without_hint_is_the_message() -> None:
    assert str(errors.PathError("no such path")) == "no such path"
    assert errors.PathError("no such path").hint is None


def test_extra_payloads() -> None:
    missing = errors.ObjectMissingError("gone", "pull", ["a" * 64])
    assert missing.oids == ["a" * 64]
    assert errors.ObjectMissingError("gone").oids == []
    lose = errors.WouldLoseDataError("would lose", "commit first", ["data/x"])
    assert lose.paths == ["data/x"]
    assert errors.WouldLoseDataError("would lose").paths == []
    with pytest.raises(CairnError, match="gone"):
        raise missing
