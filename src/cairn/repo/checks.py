"""Checks wiring: the checks of the workspace's cairn.yaml, evaluated against a revision (the
workspace by default), with baselines that are git revisions or, through the model registry,
MODEL@STAGE."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cairn.checks import evaluate
from cairn.checks.evaluate import CheckReport
from cairn.checks.rules import load_checks
from cairn.errors import RevisionError, UserInputError
from cairn.metrics.revisions import Rev, resolve, workspace

if TYPE_CHECKING:
    from cairn.repo.repo import Repo

# MODEL@STAGE: what the registry names; git's own `@` forms (HEAD@{1}, @{upstream}, `@`) hold braces
_MODEL_AT_STAGE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_./-]*)@([A-Za-z0-9_][A-Za-z0-9_.-]*)$")


def run_checks(repo: Repo, rev: str | None = None, baseline: str | None = None) -> CheckReport:
    """Evaluate the checks of cairn.yaml (in the workspace) against `rev` (default: the
    workspace). `baseline` (a branch, tag, commit or MODEL@STAGE) replaces each check's own."""
    checks = load_checks(repo.root)
    target = resolve(repo, rev, "check") if rev else workspace()
    if baseline is not None:
        baseline_rev(repo, baseline)  # an unknown --baseline fails the command, not each check
    return evaluate.run(repo, checks, target, lambda name: baseline_rev(repo, name), baseline, repo.progress)


def baseline_rev(repo: Repo, name: str) -> Rev:
    """A baseline as a revision: a git revision, or MODEL@STAGE resolved by the registry."""
    m = _MODEL_AT_STAGE.match(name)
    if m is None:
        return resolve(repo, name, "check")
    try:
        return resolve(repo, name, "check")  # a branch may be named like that too
    except RevisionError:
        pass
    commit = _registry_commit(repo, name)
    return Rev(name, **_commit_info(repo, commit))


def _registry_commit(repo: Repo, spec: str) -> str:
    try:
        from cairn.repo import registry  # the model registry, a sibling capability
    except ImportError:
        registry = None
    resolver = getattr(registry, "resolve_ref", None)
    if resolver is None:
        raise UserInputError(
            f"{spec} is no git revision, and MODEL@STAGE needs the model registry, which this cairn lacks",
            "name a branch, tag or commit as the baseline (MODEL@STAGE needs `cairn model`)",
        )
    return str(resolver(repo, spec))


def _commit_info(repo: Repo, commit: str) -> dict:
    c = repo.git.resolve(commit)
    return {"commit": str(c.id), "time": c.commit_time, "subject": c.message.split("\n", 1)[0]}
