"""The model registry wired to a repository: state read from annotated git tags (GTO's format,
cairn.registry.tagnames), artifacts declared in cairn.yaml at each commit, model data fetched
from the data remote, bundles composed from lineage and environment records, and serving.

Reads work on this repository or, with `url`, on another one: its tags (and the commits they
name, without history) are fetched into a scratch repository that is thrown away after."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import CairnError, NotARepoError, RegistryError
from cairn.registry import artifacts as art_mod
from cairn.registry import semver, tagnames
from cairn.registry.resolve import Git as Reads
from cairn.registry.resolve import declared_artifact, events, locate, pick, state
from cairn.registry.state import ArtifactState, build, find, next_counter
from cairn.scm import tags as tags_mod

if TYPE_CHECKING:
    from cairn.repo.repo import Repo
    from cairn.scm.git import Git


# -- where the tags come from ------------------------------------------------------------------
@contextmanager
def tags_of(repo: Repo | None, url: str | None = None, head: bool = False) -> Iterator[Reads]:
    """Read-only git holding the registry: `url`'s tags (and, with `head`, its default branch's
    tip) in a scratch copy, else this repository through the git CLI (no pygit2: a read such as
    `model get` would spend more time importing it than reading)."""
    if url is not None:
        with tempfile.TemporaryDirectory(prefix="cairn-registry-") as scratch:
            yield tags_mod.fetch_tags(url, Path(scratch), head=head)
        return
    if repo is None:
        raise NotARepoError("not inside a cairn repository", "run it in one, or name a repository with --repo URL")
    if repo.config.get("core.no_scm"):
        raise NotARepoError(
            "the model registry lives in git tags, and this repository has no git (core.no_scm)",
            "run `git init`, then set core.no_scm to false in .cairn/config.toml",
        )
    from cairn.scm.catfile import CatFile

    with CatFile(repo.root) as reads:
        yield reads


def resolve_ref(repo: Repo, spec: str) -> str:
    """The commit `NAME@STAGE`, `NAME@vX.Y.Z` (or `NAME`, its latest version) names."""
    with tags_of(repo) as git:
        return pick(state(git), spec)[1].commit


# -- writing -------------------------------------------------------------------------------
def _tag(git: Git, tag: str, commit: str, message: str) -> None:
    on = tags_mod.tag_target(git, tag)
    if on is not None:
        raise RegistryError(
            f"tag {tag!r} already exists on commit {on[:7]}",
            "choose another version, or delete that tag first if it is a mistake (`git tag -d`)",
        )
    tags_mod.create_annotated(git, tag, commit, message)


def register(
    repo: Repo,
    name: str,
    rev: str | None = None,
    version: str | None = None,
    bump: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    git = repo._need_git("model register")
    tagnames.check_name(name)
    if version is not None and bump is not None:
        raise RegistryError("--version and --bump both say which version to register", "give one of them")
    # the version given is checked first: a typo in it is the problem, whatever the commit holds
    given = semver.parse(version) if version is not None else None
    commit = str(git.resolve(rev or "HEAD").id)
    art_decl = declared_artifact(git, commit, name, f"at {rev or 'HEAD'}")
    try:
        locate(git, commit, art_decl)
    except RegistryError:
        # a version nothing holds (a typo in `path:`, a file inside a tracked folder) is refused
        # before its tag exists; a file git tracks is registered, as GTO does, for the registry alone
        if git.read_file(commit, art_decl.path) is None:
            raise
    evs = events(git)
    art = build(evs).get(name) or ArtifactState(name)
    held = art.by_commit(commit)
    if held is not None and held.registered:
        raise RegistryError(
            f"commit {commit[:7]} already holds version {held.version} of {name!r}",
            "commit your new model first, or register another revision",
        )
    if given is not None:
        chosen = given
        existing = art.versions.get(str(chosen))
        if existing is not None and existing.registered:
            raise RegistryError(
                f"version {chosen} of {name!r} already exists (commit {existing.commit[:7]})",
                f"choose a new one, or let cairn pick it: --bump {bump or 'patch'}",
            )
    else:
        latest = art.latest()
        chosen = semver.parse(latest.version).bump(bump or "patch") if latest else semver.FIRST
    text = str(chosen)
    tag = tagnames.version_tag(name, text)
    _tag(git, tag, commit, message or tagnames.register_message(name, text))
    return {"artifact": name, "version": text, "commit": commit, "tag": tag}


def assign(repo: Repo, spec: str, stage: str, message: str | None = None) -> dict[str, Any]:
    git = repo._need_git("model assign")
    tagnames.check_stage(stage)
    evs = events(git)
    art, v, _ = pick(build(evs), spec)
    if stage in v.stages:
        raise RegistryError(f"version {v.version} of {art.name!r} is in stage {stage!r} already", "nothing to do")
    tag = tagnames.stage_tag(art.name, stage, next_counter(evs, art.name))
    _tag(git, tag, v.commit, message or tagnames.assign_message(art.name, stage, v.version))
    return {"artifact": art.name, "version": v.version, "stage": stage, "commit": v.commit, "tag": tag}


def unassign(repo: Repo, name: str, stage: str, message: str | None = None) -> dict[str, Any]:
    git = repo._need_git("model unassign")
    tagnames.check_stage(stage)
    evs = events(git)
    art = find(build(evs), name)
    v = art.at_stage(stage)
    tag = tagnames.stage_tag(art.name, stage, next_counter(evs, art.name), cancel=True)
    _tag(git, tag, v.commit, message or tagnames.unassign_message(art.name, stage, v.version))
    return {"artifact": art.name, "version": v.version, "stage": stage, "commit": v.commit, "tag": tag}


def deprecate(repo: Repo, name: str, message: str | None = None) -> dict[str, Any]:
    git = repo._need_git("model deprecate")
    evs = events(git)
    art = find(build(evs), name)
    if art.deprecated:
        raise RegistryError(f"artifact {name!r} is deprecated already", "nothing to do")
    commit = art.events[0].commit
    # with a counter (GTO's non-simple form): it orders the tag among others made the same second
    tag = f"{tagnames.deprecate_tag(name)}#{next_counter(evs, name)}"
    _tag(git, tag, commit, message or tagnames.deprecate_message(name))
    return {"artifact": name, "commit": commit, "tag": tag}


# -- reading -------------------------------------------------------------------------------
def listing(repo: Repo | None, url: str | None = None) -> list[dict[str, Any]]:
    with tags_of(repo, url) as git:
        return [a.summary() for _, a in sorted(state(git).items())]


def show(repo: Repo | None, name: str, url: str | None = None, metrics: bool = True) -> dict[str, Any]:
    """Versions (highest first) with commit, author, date, message and stages; the metrics at
    each version's commit when reading this repository."""
    with tags_of(repo, url) as git:
        art = find(state(git), name)
    versions = [v.to_dict() for v in art.registered()]
    if metrics and url is None and repo is not None and versions:
        values = _metrics(repo, [(v["version"], v["commit"]) for v in versions])
        for v in versions:
            v["metrics"] = values.get(v["version"], {})
    return {**art.summary(), "versions_detail": versions}


def _metrics(repo: Repo, revs: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    from cairn.metrics.revisions import Rev
    from cairn.metrics.values import metrics_show

    shown = metrics_show(repo, [Rev(name, commit) for name, commit in revs])
    return {name: {p: f for p, f in shown.values.get(name, {}).items() if f is not None} for name, _ in revs}


def history(repo: Repo | None, name: str, url: str | None = None) -> list[dict[str, Any]]:
    """Every event of `name`, newest first."""
    with tags_of(repo, url) as git:
        art = find(state(git), name)
    return [e.to_dict() for e in reversed(art.events)]


# -- model get -------------------------------------------------------------------------------
def get(
    repo: Repo | None, spec: str, out: str | None = None, url: str | None = None, force: bool = False
) -> dict[str, Any]:
    """Write the artifact version `spec` names to `out` (default: its file or folder name in the
    current directory), fetching only its objects, verified."""
    from cairn.registry.download import Source, download

    with tags_of(repo, url, head=True) as git:
        art_state, v, stage = pick(state(git), spec)
        art = declared_artifact(git, v.commit, art_state.name, f"at version {v.version}")
        kind, oid, size, _ = locate(git, v.commit, art)
        dest = _destination(out, art.path, kind)
        what = f"{art.name} {v.version}"
        if url is None:
            assert repo is not None
            remote = repo.remotes.open() if repo.remotes.default() else None
            source = Source(repo.store, remote, what)
        else:
            source = Source(None, _foreign_remote(git, v.commit, url), what)
        try:
            files = download(source, kind, oid, dest, force, repo.progress if repo else _null())
        finally:
            if source.remote is not None:
                source.remote.close()
    return {
        "artifact": art.name,
        "version": v.version,
        "stage": stage,
        "commit": v.commit,
        "path": str(dest),
        "kind": kind,
        "oid": oid,
        "size": size,
        "files": files,
    }


def _destination(out: str | None, path: str, kind: str) -> Path:
    """Where a get writes: `out`, or the model's own name inside `out` when that is a folder
    (`-o deploy/`, or an existing folder for a file model), as `cp` does; a folder given for
    a file would otherwise be "an existing path" that --force replaces, with all it holds."""
    import os

    name = Path(path).name
    if out is None:
        return Path(name).absolute()
    dest = Path(out).absolute()
    if out.endswith(("/", os.sep)) or (kind == "file" and dest.is_dir()):
        return dest / name
    return dest


def _null():
    from cairn.progress import NULL

    return NULL


def _foreign_remote(git: Git, commit: str, url: str):
    """The data remote another repository's committed config names, read as `cairn get` reads
    a source repository's (cairn.sharing: relative folders, the per-user remote index): at the
    tip of its default branch, as `cairn get` and DVC read it, so a model registered before the
    remote was configured (or moved) is found; at the version's commit when the tip names none."""
    from cairn.scm.foreign import ForeignCommit, normalize
    from cairn.sharing.source import SourceRepo
    from cairn.sharing.transfer import open_remote

    sources = [SourceRepo(ForeignCommit(normalize(url), c, c, git.repo)) for c in (_tip(git), commit) if c]
    for source in sources:
        if source.remotes()[1]:
            return open_remote(source)
    return open_remote(sources[-1])  # names none: says so


def _tip(git: Git) -> str | None:
    try:
        return str(git.resolve(tags_mod.HEAD_REF).id)
    except CairnError:
        return None  # the repository's default branch has no commit


# -- bundles and serving ---------------------------------------------------------------------
def _stage(repo: Repo, spec: str, work: Path, full: bool) -> dict[str, Any]:
    """Write the bundle of `spec` into the new folder `work`; its bundle.json document."""
    import json
    import time

    from cairn.registry import bundle as bundle_mod
    from cairn.registry import serving
    from cairn.registry.download import Source, download

    git = repo._need_git("model bundle")
    art_state, v, stage = pick(state(git), spec)
    art = declared_artifact(git, v.commit, art_state.name, f"at version {v.version}")
    kind, oid, size, _ = locate(git, v.commit, art)
    work.mkdir(parents=True)
    model_rel = f"model/{Path(art.path).name}"
    remote = repo.remotes.open() if repo.remotes.default() else None
    try:
        download(
            Source(repo.store, remote, f"{art.name} {v.version}"), kind, oid, work / model_rel, False, repo.progress
        )
    finally:
        if remote is not None:
            remote.close()
    (work / serving.CODE_DIR).mkdir()
    code = bundle_mod.copy_code(git, v.commit, art.serve, work / serving.CODE_DIR) if art.serve else []
    example = art.example
    if isinstance(example, str):
        raw = git.read_file(v.commit, example)
        if raw is None:
            raise RegistryError(
                f"the input example {example} of {art.name!r} is not in git at commit {v.commit[:7]}",
                "commit the example file (a JSON list of records) and register a new version",
            )
        try:
            example = json.loads(raw)
        except ValueError as e:
            raise RegistryError(f"the input example {example} is not valid JSON ({e})", "fix it") from None
    if example is not None:
        bundle_mod.write_json(work / serving.EXAMPLE_FILE, example)
    reg = v.registered.to_dict() if v.registered else None
    meta: dict[str, Any] = {
        "format": bundle_mod.BUNDLE_FORMAT,
        "artifact": art.name,
        "version": v.version,
        "stage": stage,
        "commit": v.commit,
        "oid": oid,
        "kind": kind,
        "size": size,
        "path": model_rel,
        "serve": art.serve,
        "code": code,
        "signature": art.signature(),
        "type": art.type,
        "desc": art.desc,
        "labels": art.labels,
        "meta": art.meta,
        "registered": reg,
        "bundled_at": int(time.time()),
    }
    _lineage(repo, art, v.commit, work, meta)
    if full:
        _describe(repo, art, v.commit, work, meta)
    bundle_mod.write_json(work / serving.BUNDLE_FILE, meta)
    (work / "serve.py").write_text(Path(serving.__file__).read_text())
    return meta


def _lineage(repo: Repo, art: art_mod.Artifact, commit: str, work: Path, meta: dict[str, Any]) -> None:
    from cairn.errors import CairnError
    from cairn.registry import bundle as bundle_mod
    from cairn.repo import lineage as lineage_mod

    try:
        doc = lineage_mod.lineage(repo, str(repo.root / art.path), commit)
    except CairnError as e:
        doc = {"target": art.path, "commit": commit, "error": e.message}
    bundle_mod.write_json(work / "lineage.json", doc)
    meta["lineage"] = bundle_mod.lineage_summary(doc)


def _describe(repo: Repo, art: art_mod.Artifact, commit: str, work: Path, meta: dict[str, Any]) -> None:
    """requirements.txt, Dockerfile and MODEL_CARD.md."""
    import platform
    from importlib import metadata as md

    from cairn.environment.export import requirements
    from cairn.registry import bundle as bundle_mod

    record, source = _training_environment(repo, commit, art.path)
    installed = {}
    for dist in bundle_mod.SERVE_PINS:
        try:
            installed[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    (work / "requirements.txt").write_text(bundle_mod.requirements(requirements(record, source), installed))
    py = ((record.get("python") or {}).get("version") or platform.python_version()).rsplit(".", 1)[0]
    (work / "Dockerfile").write_text(bundle_mod.dockerfile(py))
    metrics = _metrics(repo, [("model", commit)]).get("model", {})
    (work / "MODEL_CARD.md").write_text(bundle_mod.model_card(meta, metrics, _checks(repo, commit)))


def _training_environment(repo: Repo, commit: str, path: str) -> tuple[dict[str, Any], str]:
    """The environment record of the stage that wrote `path` at `commit`, else the current one."""
    from cairn.environment.record import decode
    from cairn.errors import CairnError
    from cairn.pipelines import lock as lock_mod

    assert repo.git is not None
    raw = repo.git.read_file(commit, lock_mod.LOCK_FILE)
    try:
        entries = lock_mod.parse(raw.decode(), lock_mod.LOCK_FILE) if raw else {}
    except CairnError:
        entries = {}
    for name, entry in entries.items():
        if entry.out(path) is not None and entry.env and repo.store.exists(entry.env):
            return decode(repo.store.read(entry.env), entry.env), f"stage {name} at commit {commit[:7]}"
    return repo.environment.current(), "the environment that made this bundle (no training record found)"


def _checks(repo: Repo, commit: str) -> dict[str, Any] | None:
    from cairn.errors import CairnError

    try:
        from cairn.repo.checks import run_checks
    except ImportError:
        return None
    try:
        report = run_checks(repo, commit)
    except CairnError:
        return None
    if not report.results:
        return None
    doc = report.to_dict()
    lines = [f"{c.get('name')}: {c.get('verdict')}" for c in doc.get("checks", [])]
    return {"passed": report.passed, "lines": lines}


def bundle(repo: Repo, spec: str, out: str, force: bool = False) -> dict[str, Any]:
    """A deployable bundle of `spec` at `out`: a folder, or a .tar.gz when the name says so."""
    import os
    import shutil

    from cairn.errors import PathError
    from cairn.registry import bundle as bundle_mod

    dest = Path(out).absolute()
    if os.path.lexists(dest) and not force:
        raise PathError(f"{dest} already exists", "choose another path with -o, or pass --force to replace it")
    if (
        force
        and dest.is_dir()
        and not dest.is_symlink()
        and not (dest / "bundle.json").exists()
        and any(dest.iterdir())
    ):
        # --force replaces a bundle; a folder of other files (`-o dist --force`) would be deleted whole
        raise PathError(
            f"{dest} is a folder that is not a model bundle; --force replaces only a bundle",
            f"name the bundle's own folder, e.g. -o {Path(out) / 'NAME'}, or remove that folder yourself",
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        scratch_dir = tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent)
    except OSError as e:
        from cairn.registry.download import unwritable

        raise unwritable(dest, e) from None
    with scratch_dir as scratch:
        staged = Path(scratch) / "bundle"
        meta = _stage(repo, spec, staged, full=True)
        checked = bundle_mod.check(staged) if meta["serve"] and (staged / "input_example.json").exists() else None
        if dest.name.endswith((".tar.gz", ".tgz")):
            bundle_mod.publish_tar(staged, dest)
        else:
            if os.path.lexists(dest):
                if dest.is_dir() and not dest.is_symlink():
                    shutil.rmtree(dest)
                else:
                    dest.unlink()
            bundle_mod.publish_dir(staged, dest)
    return {
        **{k: meta[k] for k in ("artifact", "version", "stage", "commit", "oid")},
        "path": str(dest),
        "checked": checked,
    }


def serve(
    repo: Repo | None,
    spec: str | None,
    host: str,
    port: int,
    log_dir: str | None = None,
    on_ready=None,
    bundle_dir: str | None = None,
) -> None:
    """Serve `spec` (staged from this repository into a scratch folder) or an unpacked bundle."""
    from cairn.registry import serving

    logs = Path(log_dir).absolute() if log_dir else None
    if bundle_dir is not None:
        serving.serve(Path(bundle_dir).absolute(), host, port, logs, on_ready)
        return
    if repo is None or spec is None:
        raise RegistryError("nothing to serve", "name a model (NAME@STAGE) or a bundle folder (--bundle DIR)")
    with tempfile.TemporaryDirectory(prefix="cairn-serve-") as scratch:
        folder = Path(scratch) / "bundle"
        _stage(repo, spec, folder, full=False)
        serving.serve(folder, host, port, logs, on_ready)


# -- champion / challenger -------------------------------------------------------------------


def _candidate(repo: Repo, git: Git, arts: dict[str, ArtifactState], art: ArtifactState, text: str):
    """(commit, registered version or None) of a version (NAME@..., vX.Y.Z), an experiment or a
    git revision."""
    from cairn.errors import CairnError

    if "@" in text or "#" in text:
        other, v, _ = pick(arts, text)
        if other.name != art.name:
            # promotion assigns the candidate's version string to the champion's artifact: another
            # artifact's v0.0.1 would put this one's v0.0.1, a different model, in the stage
            raise RegistryError(
                f"the candidate {text!r} is a version of {other.name!r}, not of the champion's artifact {art.name!r}",
                f"compare two versions of one artifact: `{art.name}@VERSION`, or a git revision or experiment",
            )
        return v.commit, v.version if v.registered else None
    if semver.is_version(text):
        v = art.version(text)
        return v.commit, v.version
    try:
        from cairn.repo.experiments import Experiments

        commit = Experiments(repo).get(text).commit
    except (CairnError, ImportError):
        commit = str(git.resolve(text).id)
    held = art.by_commit(commit)
    return commit, held.version if held and held.registered else None


def compare(
    repo: Repo,
    champion: str,
    candidate: str,
    stage: str = "evaluate",
    data: str | None = None,
    promote: str | None = None,
) -> dict[str, Any]:
    """Evaluate the champion (`NAME@STAGE`) and the candidate on the same data, side by side,
    with paired bootstrap intervals where the evaluation writes per-row results and the checks
    of cairn.yaml applied with the champion as baseline; with `promote`, assign the candidate to
    that stage when every check passes."""
    from cairn.errors import StageFailedError
    from cairn.registry.compare import pair, paired_bootstrap, side_by_side
    from cairn.registry.evaluate import evaluate
    from cairn.scm.commits import delete_ref

    git = repo._need_git("model compare")
    arts = state(git)
    art_state, champ, _ = pick(arts, champion)
    cand_commit, cand_version = _candidate(repo, git, arts, art_state, candidate)
    if promote is not None:
        tagnames.check_stage(promote)
        if cand_version is None:
            raise RegistryError(
                f"the candidate {candidate!r} is not a registered version of {art_state.name!r}; it cannot be promoted",
                f"register it first (`cairn model register {art_state.name} REV`) and compare that version",
            )
    data_commit = str(git.resolve(data).id) if data else cand_commit
    art = declared_artifact(git, data_commit, art_state.name, f"at {data or candidate}")
    runs: dict[str, dict[str, Any]] = {}
    fetch = repo.fetch if repo.remotes.default() else None
    env = repo.environment
    try:
        for label, commit in (("champion", champ.commit), ("challenger", cand_commit)):
            try:
                runs[label] = evaluate(
                    git,
                    repo.ws,
                    repo.dot / "tmp" / "compare" / label,
                    art,
                    commit,
                    data_commit,
                    stage,
                    label,
                    fetch,
                    env,
                )
            except StageFailedError as e:
                # which model's evaluation failed, and not `cairn repro`'s hint: nothing here is recorded
                who = f"{champion} = {champ.version}" if label == "champion" else candidate
                e.message = f"the {label}'s evaluation ({who}, commit {commit[:7]}) failed: {e.message}"
                e.hint = f"fix stage {stage!r} at the data revision {data_commit[:7]}, commit it and compare again"
                raise
        a, b = runs["champion"], runs["challenger"]
        paired = paired_bootstrap(pair(a["rows"], b["rows"])) if a["rows"] and b["rows"] else []
        checks = _compare_checks(repo, b["eval_commit"], a["eval_commit"])
    finally:
        for run in runs.values():
            delete_ref(git, run["ref"])
    passed = checks is None or checks["passed"]
    doc: dict[str, Any] = {
        "artifact": art_state.name,
        "champion": {"spec": champion, "version": champ.version, "commit": champ.commit},
        "challenger": {"spec": candidate, "version": cand_version, "commit": cand_commit},
        "data": data_commit,
        "stage": stage,
        "metrics": side_by_side(a["metrics"], b["metrics"]),
        "paired": paired,
        "checks": checks,
        "passed": passed,
        "promoted": None,
    }
    if promote is not None and passed:
        message = f"promoted by `cairn model compare {champion} {candidate}`: every check passed"
        doc["promoted"] = assign(repo, f"{art_state.name}@{cand_version}", promote, message)
    return doc


def _compare_checks(repo: Repo, rev: str, baseline: str) -> dict[str, Any] | None:
    """The checks of cairn.yaml on the challenger's evaluation, the champion's as baseline; None
    when there are none (or no checks capability)."""
    try:
        from cairn.repo.checks import run_checks
    except ImportError:
        return None
    report = run_checks(repo, rev, baseline)
    if not report.results:
        return None
    return report.to_dict()
