"""The one error tree. Every error the library raises is a CairnError with a stable code,
a message saying what is wrong and a hint saying how to fix it. The CLI maps them to exit
codes in one place (cairn.cli.render)."""

from __future__ import annotations


class CairnError(Exception):
    """Base of every error cairn raises on purpose."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UserInputError(CairnError):
    """The command was asked for something that cannot be done as stated."""

    code = "bad-input"
    exit_code = 2


class PathError(UserInputError):
    code = "bad-path"


class OverlapError(PathError):
    code = "overlapping-paths"


class RevisionError(UserInputError):
    code = "bad-revision"


class ConfigError(UserInputError):
    code = "bad-config"


class MergeError(UserInputError):
    """A merge of tracked data cannot go on as asked: no conflict at the path given, a way of
    settling it that does not apply, or a merge state cairn cannot read."""

    code = "merge"


class RepoStateError(CairnError):
    """The repository is not in a state the command can work with."""

    code = "repo-state"
    exit_code = 3


class NotARepoError(RepoStateError):
    code = "not-a-repo"


class AlreadyInitializedError(RepoStateError):
    code = "already-initialized"


class PointerError(RepoStateError):
    code = "bad-pointer"


class DataError(CairnError):
    """Data is missing or damaged."""

    code = "data"
    exit_code = 4


class ObjectMissingError(DataError):
    code = "missing-object"

    def __init__(self, message: str, hint: str | None = None, oids: list[str] | None = None):
        super().__init__(message, hint)
        self.oids = oids or []


class CorruptObjectError(DataError):
    code = "corrupt-object"


class WouldLoseDataError(CairnError):
    """The command would destroy data that exists nowhere else."""

    code = "would-lose-data"
    exit_code = 5

    def __init__(self, message: str, hint: str | None = None, paths: list[str] | None = None):
        super().__init__(message, hint)
        self.paths = paths or []


class LockedError(CairnError):
    code = "locked"
    exit_code = 6


class RemoteLockedError(LockedError):
    """Another clone holds a lock on a shared remote that this command cannot share
    (`gc --remote` against a push, or the other way round)."""

    code = "remote-locked"


class PermissionDeniedError(CairnError):
    code = "permission-denied"
    exit_code = 7


class DiskFullError(CairnError):
    """A write failed for lack of space (no space left on device, or a disk quota); nothing
    half-written was kept."""

    code = "disk-full"
    exit_code = 10

    def __init__(self, message: str, hint: str | None = None, path: str | None = None):
        super().__init__(message, hint)
        self.path = path


class MissingDependencyError(UserInputError):
    """An optional extra is needed (`pip install cairn[s3]`)."""

    code = "missing-dependency"


class RemoteError(CairnError):
    """A remote storage could not do what was asked."""

    code = "remote"
    exit_code = 8


class RemoteUnreachableError(RemoteError):
    code = "remote-unreachable"


class RemoteAuthError(RemoteError):
    code = "remote-auth"


class RemoteNotFoundError(RemoteError):
    """The remote location itself (bucket, folder) does not exist."""

    code = "remote-not-found"


class RemoteKeyMissingError(RemoteError):
    """A file the remote should hold is not there."""

    code = "remote-key-missing"


class PipelineError(UserInputError):
    """cairn.yaml (or a params file it names) is wrong; the message lists every problem."""

    code = "bad-pipeline"

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


class StageFailedError(CairnError):
    """A stage's command failed, was not found, or did not produce a declared output."""

    code = "stage-failed"
    exit_code = 9

    def __init__(self, message: str, hint: str | None = None, stages: list[str] | None = None):
        super().__init__(message, hint)
        self.stages = stages or []


class HelperProcessError(CairnError):
    """A helper process that took a share of the work (the split walk of a big folder, the split
    hashing of a big add: see index/forked.py) failed, was killed, or ended without sending its
    result."""

    code = "helper-failed"


class StoppedError(CairnError):
    """The user stopped the command (Ctrl-C); nothing half-done was recorded."""

    code = "interrupted"
    exit_code = 130


def shown(value: object, limit: int = 80) -> str:
    """A value read from a file, as an error message quotes it: cut short (a crafted file may
    hold a megabyte in one value), and a container only named (its repr could be huge, or
    exponential for YAML aliases)."""
    if value is None or isinstance(value, (str, bytes, int, float, bool)):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return f"a {type(value).__name__}"


# registry (model registry, bundles, serving)
class RegistryError(UserInputError):
    """A registry request cannot be done as stated: an unknown artifact or version, a name or
    version that is not valid, a version or tag that exists already."""

    code = "registry"


class ServingError(UserInputError):
    """A model's serving entry point (`serve: module:function`) cannot be loaded or used."""

    code = "serving"


# checks and reports (cairn check, cairn report)
class CheckError(CairnError):
    """A check could not be evaluated: its metric is not there or not a number, its baseline is
    unknown. The check counts as failed; `cairn check` exits 1 as for any failed check."""

    code = "check"


# dvcimport and the everyday commands (import-dvc, remove, move, commit, freeze, exp save)
class DvcImportError(UserInputError):
    """A DVC project holds something `cairn import-dvc` cannot convert; the message lists every
    such thing with its reason, and nothing was written."""

    code = "dvc-import"

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


# datastats (data statistics, schema checks, drift, monitors)
class DataStatsError(UserInputError):
    """A file cannot be read as a table (unparseable, empty, not tabular), or a batch does not
    match what it is compared with."""

    code = "bad-data"


class SchemaViolationError(CairnError):
    """A dataset breaks the `schema:` cairn.yaml declares for it; the message names each column."""

    code = "schema"

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


# dashboard (cairn ui)
class PortInUseError(UserInputError):
    """The address `cairn ui` was asked to listen on is taken or not this machine's."""

    code = "port-in-use"


# cluster (issue 21): queued experiments on a Ray cluster
class ClusterError(UserInputError):
    """The cluster cannot run the queue as asked: no git or cairn remote the nodes can use, a
    resource request no node has, a bad cluster address."""

    code = "cluster"


class ClusterUnreachableError(ClusterError):
    code = "cluster-unreachable"
    exit_code = 8


# notebooks (issue 24)
class NotebookError(UserInputError):
    """A notebook cannot be used as asked: not a valid .ipynb, no `parameters` cell for the
    params a stage injects, no executed version at a revision."""

    code = "notebook"


class NotebookKernelError(NotebookError):
    """The Jupyter kernel a notebook asks for is not installed."""

    code = "kernel-missing"


class NotebookFailedError(CairnError):
    """A cell raised while the notebook ran; the partial executed notebook is kept."""

    code = "notebook-failed"
    exit_code = 9
