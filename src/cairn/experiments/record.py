"""Recording an experiment: a commit on `refs/cairn/exps/<baseline>/<name>` whose tree is the
baseline plus what the run changed (params, cairn.lock, pointers, metrics), and whose message
carries the metadata (status, overrides, params and metric values, environment), so listing
experiments reads commit messages only."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.environment.capture import capture, user_cache_dir
from cairn.environment.packages import _header_fields, packages  # noqa: F401 (tests import them here)
from cairn.errors import CairnError
from cairn.pipelines import params as params_mod
from cairn.pipelines.spec import Pipeline, load_pipeline

EXP_REFS = "refs/cairn/exps/"
META_VERSION = 1
_HEADER = "cairn experiment: "


@dataclass
class ExpInfo:
    name: str
    baseline: str
    status: str  # success | failed | killed
    created: float
    overrides: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> flat key -> value
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> flat key -> value
    env: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    error: str | None = None
    log: str | None = None  # cache object id of the run's log
    commit: str = ""
    ref: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    def message(self) -> str:
        meta = {k: v for k, v in self.to_dict().items() if k not in ("commit", "ref")}
        meta["version"] = META_VERSION
        return f"{_HEADER}{self.name}\n\n{json.dumps(meta, sort_keys=True, default=str)}\n"


def ref_name(baseline: str, name: str) -> str:
    return f"{EXP_REFS}{baseline}/{name}"


def parse_message(message: str, commit: str, ref: str) -> ExpInfo | None:
    if not message.startswith(_HEADER):
        return None
    try:
        meta = json.loads(message.split("\n\n", 1)[1])
        if meta.pop("version", None) != META_VERSION:
            return None
        info = ExpInfo(**{k: v for k, v in meta.items() if k in ExpInfo.__dataclass_fields__})
    except (IndexError, ValueError, TypeError):
        return None
    info.commit, info.ref = commit, ref
    return info


def environment(baseline: str, dirty: bool) -> dict[str, Any]:
    """What ran it: Python, platform, installed distributions (with a fingerprint), code revision."""
    # the distributions as the per-user cache of the environment record has them: listing them
    # again costs ~0.1 s a run (every queued run on a cluster node, too)
    dists = capture((), user_cache_dir())["packages"]
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": Path(sys.executable).name,
        "packages": dists,
        "fingerprint": hashlib.sha256("\n".join(dists).encode()).hexdigest()[:16],
        "commit": baseline,
        "dirty": dirty,
    }


def metric_files(pipeline: Pipeline | None) -> list[str]:
    if pipeline is None:
        return []
    files = list(pipeline.metrics)
    files += [o.path for s in pipeline.stages.values() for o in s.outs if o.kind == "metrics"]
    return list(dict.fromkeys(files))


def read_metrics(root: Path, files: list[str]) -> dict[str, dict[str, Any]]:
    """Flat values of each metrics file that exists (json/yaml/toml, csv/tsv last row)."""
    out: dict[str, dict[str, Any]] = {}
    for rel in files:
        path = root / rel
        if not path.is_file():
            continue
        try:
            text = path.read_text()
            if path.suffix.lower() in (".csv", ".tsv"):
                rows = list(csv.DictReader(io.StringIO(text), delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
                out[rel] = {k: _number(v) for k, v in (rows[-1] if rows else {}).items()}
            else:
                out[rel] = params_mod.flatten(params_mod.parse(text, rel))
        except (CairnError, OSError, UnicodeDecodeError):
            continue  # a broken metrics file is the run's business; it is still recorded
    return out


def live_metrics(workspace: Path) -> dict[str, Any]:
    """The latest values of a run going on in `workspace`: its pipeline's metrics files as they
    are now (flat keys; `FILE:KEY` when several files have values), else what cairn.track
    logged in `track/` when the pipeline declares none or none is written yet."""
    try:
        pipeline = load_pipeline(workspace)
    except CairnError:
        pipeline = None  # a broken cairn.yaml fails the run; cairn.track may still have logged
    values = read_metrics(workspace, metric_files(pipeline))
    if not values:
        from cairn.track import latest  # a leaf module: no layer is crossed

        return latest(workspace)
    if len(values) == 1:
        return dict(next(iter(values.values())))
    return {f"{file}:{key}": v for file, flat in values.items() for key, v in flat.items()}


def params_files(root: Path, pipeline: Pipeline | None) -> set[str]:
    """params.yaml (when it exists) and every params file the pipeline names."""
    files = {params_mod.DEFAULT_PARAMS} if (root / params_mod.DEFAULT_PARAMS).exists() else set()
    if pipeline is not None:
        files |= set(pipeline.params)
        files |= {ref.file for s in pipeline.stages.values() for ref in s.params}
    return files


def read_params(root: Path, pipeline: Pipeline | None, extra: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Values of every params file; `extra` adds files no stage names (an override's)."""
    out = {}
    for rel in sorted(params_files(root, pipeline) | {f for f in extra if (root / f).exists()}):
        try:
            out[rel] = params_mod.flatten(params_mod.read(root / rel, rel))
        except CairnError:
            continue
    return out


def _number(v: str | None) -> Any:
    if v is None:
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def now() -> float:
    return time.time()
