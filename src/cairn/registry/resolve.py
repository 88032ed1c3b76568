"""Registry reads at the git level: the registry's events and state from a repository's tags,
`NAME@STAGE` / `NAME@vX.Y.Z` names resolved to versions, the artifacts cairn.yaml declares at a
commit, and where an artifact's data is recorded there (its pointer or cairn.lock entry)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cairn.errors import PipelineError, RegistryError
from cairn.registry import artifacts as art_mod
from cairn.registry import semver, tagnames
from cairn.registry.state import ArtifactState, Event, VersionState, build, find
from cairn.scm import tags as tags_mod

PIPELINE_FILE = "cairn.yaml"


class Git(Protocol):
    """What registry reads need of git: the repository's root (its tags are read with the git
    CLI) and files at a commit (scm.git.Git, or scm.catfile.CatFile without pygit2)."""

    root: Path

    def read_file(self, rev: str, rel: str) -> bytes | None: ...


def events(git: Git) -> list[Event]:
    out = []
    for t in tags_mod.annotated_tags(git, lambda n: "@" in n or "#" in n):
        name = tagnames.parse(t.name)
        if name is not None:
            out.append(Event(t.name, name, t.commit, t.tagger, t.email, t.time, t.message))
    return out


def state(git: Git) -> dict[str, ArtifactState]:
    return build(events(git))


# -- names ---------------------------------------------------------------------------------
def split_spec(spec: str) -> tuple[str, str | None, str | None]:
    """`NAME`, `NAME@vX.Y.Z`, `NAME@STAGE` or `NAME#STAGE` -> (name, version, stage)."""
    if "#" in spec:
        name, _, stage = spec.partition("#")
        return tagnames.check_name(name), None, tagnames.check_stage(stage)
    name, sep, rest = spec.rpartition("@")
    if not sep:
        return tagnames.check_name(spec), None, None
    tagnames.check_name(name)
    if rest in ("latest", "greatest"):
        return name, None, None
    if semver.is_version(rest):
        return name, str(semver.parse(rest)), None
    if rest[:1].isdigit() or (rest.startswith("v") and rest[1:2].isdigit()):
        semver.parse(rest)  # looks like a version but is not one: say so
    return name, None, tagnames.check_stage(rest)


def pick(artifacts: dict[str, ArtifactState], spec: str) -> tuple[ArtifactState, VersionState, str | None]:
    name, version, stage = split_spec(spec)
    art = find(artifacts, name)
    if stage is not None:
        return art, art.at_stage(stage), stage
    if version is not None:
        return art, art.version(version), None
    latest = art.latest()
    if latest is None:
        raise RegistryError(
            f"artifact {name!r} has no registered version", f"register one: cairn model register {name}"
        )
    return art, latest, None


def declared(git: Git, commit: str) -> dict[str, art_mod.Artifact]:
    from cairn.pipelines import yamldocs
    from cairn.pipelines.yamlfile import Located, parse

    data = git.read_file(commit, PIPELINE_FILE)
    if data is None:
        return {}
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise PipelineError(f"{PIPELINE_FILE} at {commit[:7]} is not UTF-8 text", "fix it in a new commit") from None
    name = f"{PIPELINE_FILE} at {commit[:7]}"

    def data_and_marks() -> tuple:
        located = parse(text, name)
        return located.data, located.marks

    # the text as any command here parsed it before (yamldocs: keyed by content, so exact): a get
    # of a version whose cairn.yaml this clone has seen does not even import PyYAML
    doc, marks = yamldocs.parsed(Path(git.root) / PIPELINE_FILE, text, "located", data_and_marks)
    return art_mod.parse(Located(doc, marks, name))


def declared_artifact(git: Git, commit: str, name: str, where: str) -> art_mod.Artifact:
    return art_mod.find(declared(git, commit), name, where)


def locate(git: Git, commit: str, art: art_mod.Artifact) -> tuple[str, str, int, int]:
    """(kind, oid, size, files) of the artifact's data at `commit`: its pointer file, or the
    cairn.lock entry of the stage that wrote it."""
    from cairn.index import pointer as ptr

    data = git.read_file(commit, art.path + ptr.SUFFIX)
    if data is not None:
        p = ptr.parse(data, f"{art.path}{ptr.SUFFIX} at {commit[:7]}")
        return p.kind, p.oid, p.size, p.files
    from cairn.pipelines import lock as lock_mod

    lock = git.read_file(commit, lock_mod.LOCK_FILE)
    entries = lock_mod.parse(lock.decode(), f"{lock_mod.LOCK_FILE} at {commit[:7]}").values() if lock else []
    for entry in entries:
        out = entry.out(art.path)
        if out is not None:
            return out.kind, out.oid, out.size, out.files
    # a file inside a tracked folder is not an artifact of its own: the folder is
    for folder in Path(art.path).parents:
        if str(folder) == ".":
            break
        if git.read_file(commit, f"{folder}{ptr.SUFFIX}") is not None or any(e.out(str(folder)) for e in entries):
            raise RegistryError(
                f"artifact {art.name!r} ({art.path}) is a file inside the tracked folder {folder} "
                f"at commit {commit[:7]}",
                f"an artifact's path is a whole tracked file or folder: declare `path: {folder}`",
            )
    raise RegistryError(
        f"artifact {art.name!r} ({art.path}) is not tracked by cairn at commit {commit[:7]}",
        f"track it there (`cairn add {art.path}`, or as an output of a stage) and register a new version",
    )
