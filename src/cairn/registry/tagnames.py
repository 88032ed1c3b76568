"""Registry tag names, exactly as GTO writes and reads them (gto/constants.py, gto/tag.py), so
an existing GTO or DVC registry reads as it is:

    NAME@vX.Y.Z[#N]      register version        NAME@vX.Y.Z![#N]   deregister version
    NAME#STAGE#N         assign a stage          NAME#STAGE!#N      unassign a stage
    NAME@deprecated[#N]  deprecate the artifact

N counts every tag of the artifact that carries a counter (the next is the highest + 1). A
name of an artifact declared in a sub-project (`path/to:name`) has its `:` written as `=`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cairn.errors import RegistryError
from cairn.registry.semver import PATTERN

REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE = "register", "deregister", "assign", "unassign", "deprecate"

_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_DIRNAME = "[a-zA-Z0-9-_./]+"
_FULLNAME = f"(?P<dirname>{_DIRNAME}:)?(?P<name>{_NAME})"
_NAME_RE = re.compile(f"^{_NAME}$")
_FULLNAME_RE = re.compile(f"^{_FULLNAME}$")
_TAG_RE = re.compile(
    f"^(?P<artifact>{_FULLNAME.replace(':', '=')})"
    rf"(((#(?P<stage>{_NAME})|@(?P<version>v{PATTERN}))(?P<cancel>!?))|@((?P<deprecated>deprecated)|(?P<created>created)))"
    r"(#(?P<counter>[0-9]+))?$"
)
_RULE = "letters, digits, '-', '_' and '/', starting and ending with a letter or a digit"


@dataclass(frozen=True)
class TagName:
    artifact: str
    action: str
    version: str | None = None  # "v1.2.3"
    stage: str | None = None
    counter: int | None = None


def parse(tag: str) -> TagName | None:
    """What a tag name says, or None for a tag that is not a registry tag."""
    m = _TAG_RE.match(tag)
    if not m:
        return None
    artifact = m["artifact"].replace("=", ":")
    counter = int(m["counter"]) if m["counter"] else None
    cancelled = m["cancel"] == "!"
    if m["version"]:
        return TagName(artifact, DEREGISTER if cancelled else REGISTER, version=m["version"], counter=counter)
    if m["stage"]:
        return TagName(artifact, UNASSIGN if cancelled else ASSIGN, stage=m["stage"], counter=counter)
    if m["deprecated"]:
        return TagName(artifact, DEPRECATE, counter=counter)
    return None  # `@created` is reserved by GTO and never written


def check_name(name: str) -> str:
    if not _FULLNAME_RE.match(name):
        raise RegistryError(f"{name!r} is not a valid artifact name", f"use {_RULE}")
    return name


def check_stage(stage: str) -> str:
    if not _NAME_RE.match(stage):
        raise RegistryError(f"{stage!r} is not a valid stage name", f"use {_RULE} (e.g. dev, staging, prod)")
    return stage


def version_tag(name: str, version: str) -> str:
    return f"{name.replace(':', '=')}@{version}"


def stage_tag(name: str, stage: str, counter: int, cancel: bool = False) -> str:
    return f"{name.replace(':', '=')}#{stage}{'!' if cancel else ''}#{counter}"


def deprecate_tag(name: str) -> str:
    return f"{name.replace(':', '=')}@deprecated"


# annotation messages GTO writes when none is given
def register_message(name: str, version: str) -> str:
    return f"Registering artifact {name} version {version}"


def assign_message(name: str, stage: str, version: str) -> str:
    return f"Assigning stage {stage} to artifact {name} version {version}"


def unassign_message(name: str, stage: str, version: str) -> str:
    return f"Unassigning stage '{stage}' to artifact '{name}' version '{version}'"


def deprecate_message(name: str) -> str:
    return f"Deprecating artifact '{name}'"
