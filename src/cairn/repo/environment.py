"""Environment records wired to a repository: captured with the variables config `env.vars`
names, stored in the cache (so push, pull and gc carry them as they do outputs), compared with
what each stage of cairn.lock was recorded with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cairn.environment.capture import capture, user_cache_dir
from cairn.environment.record import decode, encode
from cairn.errors import DataError

if TYPE_CHECKING:
    from cairn.repo.repo import Repo


class RepoEnvironment:
    """The runner's EnvHook (pipelines/runner.py) for one repository."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._current: dict[str, Any] | None = None
        self._current_oid: str | None = None

    def current(self) -> dict[str, Any]:
        if self._current is None:
            names = self.repo.config.get("env.vars") or []
            if isinstance(names, str):  # written by hand as "SEED, CUDA_VISIBLE_DEVICES"
                names = [n.strip() for n in names.split(",") if n.strip()]
            # the machine part is cached per user (environment/capture.py), else in this repository
            cache = user_cache_dir() or self.repo.dot / "state" / "environment"
            self._current = capture(names, cache)
        return self._current

    def record(self) -> str | None:
        return self.repo.store.add_bytes(encode(self.current()))

    def current_oid(self) -> str:
        """The id the current environment's record has in the cache (or would have)."""
        if self._current_oid is None:
            from blake3 import blake3

            self._current_oid = blake3(encode(self.current())).hexdigest()
        return self._current_oid

    def load(self, oid: str) -> dict[str, Any]:
        """The record `oid` from the cache (ObjectMissingError when it is not there)."""
        return decode(self.repo.store.read(oid), oid)

    def changes(self, oid: str) -> list[str] | None:
        """What differs from the record `oid` to the current environment; None when the record
        is not in the cache or not readable."""
        if oid == self.current_oid() and self.repo.store.exists(oid):
            return []  # the record of this very environment (the usual case): nothing to read or compare
        from cairn.environment import compare

        try:
            return [str(c) for c in compare.changes(self.load(oid), self.current())]
        except DataError:
            return None

    def stage_changes(self) -> dict[str, list[str]]:
        """stage -> what differs in the current environment from the one its run recorded
        (stages whose record differs; a record not in the cache is named as such)."""
        from cairn.pipelines import lock as lock_mod

        out: dict[str, list[str]] = {}
        known: dict[str, list[str] | None] = {}  # stages mostly share one record: compare it once
        for name, entry in lock_mod.read(self.repo.root).items():
            if not entry.env:
                continue
            if entry.env not in known:
                known[entry.env] = self.changes(entry.env)
            changed = known[entry.env]
            if changed is None:
                where = "not readable" if self.repo.store.exists(entry.env) else "not in the cache (`cairn pull`)"
                out[name] = [f"its environment record {entry.env[:12]} is {where}"]
            elif changed:
                out[name] = changed
        return out


CURRENT = "current"  # the environment a run would record now
WORKSPACE = "workspace"  # the records cairn.lock in the workspace names


def view(repo: Repo, name: str = CURRENT) -> dict[str, Any]:
    """The environment records of `name`: `current`, `workspace`, an experiment or a git
    revision. {"source", "kind", "commit", "stages": {stage: oid or None}, "records": {oid:
    record}, "missing": [oid not in the cache nor on the default remote]}."""
    from blake3 import blake3

    env: RepoEnvironment = repo.environment
    if name == CURRENT:
        record = env.current()
        oid = blake3(encode(record)).hexdigest()
        return {"source": name, "kind": CURRENT, "commit": None, "stages": {}, "records": {oid: record}, "missing": []}
    kind, commit, stages = _recorded(repo, name)
    oids = sorted({oid for oid in stages.values() if oid})
    absent = [o for o in oids if not repo.store.exists(o)]
    if absent and repo.remotes.default():
        from cairn.errors import CairnError

        try:  # like `exp apply`: what the lock names comes from the remote when it is not here
            repo.fetch([("file", o) for o in absent])
        except CairnError:
            pass  # still missing: listed as such
    records, missing = {}, []
    for oid in oids:
        try:
            records[oid] = env.load(oid)
        except DataError:
            missing.append(oid)
    return {"source": name, "kind": kind, "commit": commit, "stages": stages, "records": records, "missing": missing}


def _recorded(repo: Repo, name: str) -> tuple[str, str | None, dict[str, str | None]]:
    """(kind, commit, stage -> record id) of the cairn.lock of `name`."""
    from cairn.errors import RevisionError, UserInputError
    from cairn.pipelines import lock as lock_mod

    if name == WORKSPACE:
        return WORKSPACE, None, {s: e.env for s, e in lock_mod.read(repo.root).items()}
    git = repo._need_git("env")
    kind, commit = "revision", None
    from cairn.experiments.record import EXP_REFS
    from cairn.scm.commits import refs_under

    if any(ref.rsplit("/", 1)[1] == name for ref, _ in refs_under(git, EXP_REFS)):
        from cairn.repo.experiments import Experiments

        kind, commit = "experiment", Experiments(repo).get(name).commit
    else:
        try:
            commit = str(git.resolve(name).id)
        except RevisionError:
            raise UserInputError(
                f"{name!r} is neither a git revision nor an experiment",
                f"give a commit, branch or tag, an experiment name (`cairn exp list`), `{WORKSPACE}` or `{CURRENT}`",
            ) from None
    data = git.read_file(commit, lock_mod.LOCK_FILE)
    entries = lock_mod.parse(data.decode(), f"{lock_mod.LOCK_FILE} at {name}") if data else {}
    return kind, commit, {s: e.env for s, e in entries.items()}


def diff(repo: Repo, a: str, b: str = CURRENT, stage: str | None = None) -> dict[str, Any]:
    """What differs from the environment of `a` to that of `b`, per stage: {"a", "b",
    "stages": {stage: {"changes": [...], "note": why not compared, or None}}}. The current
    environment stands for every stage of the other side."""
    from cairn.environment import compare

    left, right = view(repo, a), view(repo, b)
    names = [s for s in dict.fromkeys([*left["stages"], *right["stages"]]) if stage is None or s == stage]
    if stage is not None and not names:
        raise _no_stage(stage, a, b)
    out: dict[str, Any] = {}
    for name in names:
        rec_a, why_a = _record_for(left, name)
        rec_b, why_b = _record_for(right, name)
        if rec_a is None or rec_b is None:
            out[name] = {"changes": [], "note": why_a or why_b}
        else:
            out[name] = {"changes": [c.to_dict() for c in compare.changes(rec_a, rec_b)], "note": None}
    return {"a": _about(left), "b": _about(right), "stages": out}


def _record_for(v: dict[str, Any], stage: str) -> tuple[dict[str, Any] | None, str | None]:
    if v["kind"] == CURRENT:
        return next(iter(v["records"].values())), None
    if stage not in v["stages"]:
        return None, f"not in the cairn.lock of {v['source']}"
    oid = v["stages"][stage]
    if oid is None:
        return None, f"no environment recorded at {v['source']} (run before cairn recorded environments)"
    if oid in v["missing"]:
        return None, f"environment record {oid[:12]} of {v['source']} is not in the cache (`cairn pull` at it)"
    return v["records"][oid], None


def _about(v: dict[str, Any]) -> dict[str, Any]:
    return {"source": v["source"], "kind": v["kind"], "commit": v["commit"]}


def _no_stage(stage: str, *where: str):
    from cairn.errors import UserInputError

    return UserInputError(
        f"stage {stage!r} has no environment record in {' or '.join(where)}",
        "`cairn env show NAME` lists the stages that have one",
    )


def pick(repo: Repo, name: str, stage: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The one record of `name` (for `stage`, or the one all its stages share) and the stages
    recorded with it; export needs exactly one."""
    from cairn.errors import UserInputError

    v = view(repo, name)
    if v["kind"] == CURRENT:
        return next(iter(v["records"].values())), []
    stages = {s: o for s, o in v["stages"].items() if o and (stage is None or s == stage)}
    if not stages:
        if stage is not None:
            raise _no_stage(stage, name)
        raise UserInputError(
            f"{name} records no environment (no stage of its cairn.lock has a record)",
            "run the pipeline with this cairn (`cairn repro`) to record one",
        )
    oids = sorted(set(stages.values()))
    if len(oids) > 1:
        raise UserInputError(
            f"the stages of {name} ran in {len(oids)} different environments",
            f"choose one stage with --stage ({', '.join(sorted(stages))})",
        )
    if oids[0] in v["missing"]:
        raise DataError(
            f"environment record {oids[0][:12]} of {name} is not in the cache",
            "fetch it: `cairn pull` (set a default remote with `cairn remote add -d`)",
        )
    return v["records"][oids[0]], sorted(stages)
