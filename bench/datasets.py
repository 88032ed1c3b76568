"""Deterministic (seeded) datasets, generated once per scale under WORK/datasets/ and reused.

- small: N files of 0.5-8 KiB (uniform) spread evenly over F folders, at data/dNN/fNNNNNN.bin
- big:   one file big.bin of random bytes
- huge:  the W14 scaling set, like small but 10x the files (full scale only)
- chain: params.yaml, input s00.txt and the text of a pipeline of `cp` stages (dvc.yaml schema)

Every file's bytes come from random.Random seeded with the dataset name and a fixed seed, so two
machines generate identical data. Standard library only.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

SEED = 20251124
GENERATOR_VERSION = 1
MIN_SIZE = 512
MAX_SIZE = 8 * 1024
CHUNK = 16 * 1024 * 1024
CHAIN_INPUT_BYTES = 1024 * 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class Scale:
    name: str
    small_files: int
    small_folders: int
    big_bytes: int
    chain_stages: int
    huge_files: int  # 0: W14 not run at this scale
    huge_folders: int


SCALES: dict[str, Scale] = {
    "full": Scale("full", 20_000, 20, 2048 * MIB, 30, 200_000, 200),
    # A tenth of full: 2,000 files, 204.8 MiB rounded up to 205 MiB, 3 stages.
    "quick": Scale("quick", 2_000, 20, 205 * MIB, 3, 0, 0),
    "smoke": Scale("smoke", 50, 5, 1 * MIB, 3, 0, 0),
}


@dataclass(frozen=True)
class Datasets:
    """Where the generated data lives; workloads copy from here, never use it in place."""

    root: Path
    scale: Scale

    @property
    def small(self) -> Path:
        """A folder holding `data/` with the small files."""
        return self.root / "small"

    @property
    def huge(self) -> Path:
        return self.root / "huge"

    @property
    def big(self) -> Path:
        """A folder holding big.bin."""
        return self.root / "big"

    @property
    def chain(self) -> Path:
        """A folder holding params.yaml and s00.txt."""
        return self.root / "chain"

    @property
    def changed_file(self) -> Path:
        """The file (relative to a repo) that W3 modifies."""
        return Path("data") / "d00" / "f000000.bin"

    def small_total_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.small / "data").rglob("*") if p.is_file())


def _rng(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def _write_many(dest: Path, name: str, files: int, folders: int) -> None:
    rng = _rng(name)
    per_folder = -(-files // folders)
    for i in range(files):
        folder = dest / "data" / f"d{i // per_folder:02d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.bin").write_bytes(rng.randbytes(rng.randint(MIN_SIZE, MAX_SIZE)))


def _write_big(dest: Path, size: int) -> None:
    rng = _rng("big")
    dest.mkdir(parents=True, exist_ok=True)
    with (dest / "big.bin").open("wb") as fh:
        left = size
        while left:
            n = min(CHUNK, left)
            fh.write(rng.randbytes(n))
            left -= n


def param_name(stage: int) -> str:
    return f"p{stage:02d}"


def stage_name(stage: int) -> str:
    return f"s{stage:02d}"


def params_yaml(stages: int, changed: dict[str, int] | None = None) -> str:
    values = {param_name(i): 1 for i in range(1, stages + 1)}
    values.update(changed or {})
    return "chain:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items())


def pipeline_yaml(stages: int) -> str:
    """A chain of `cp` stages, each depending on the previous output and one param.

    Same text for dvc.yaml and cairn.yaml (the schemas are the same).
    """
    lines = ["stages:"]
    for i in range(1, stages + 1):
        prev, cur = f"{stage_name(i - 1)}.txt", f"{stage_name(i)}.txt"
        lines += [
            f"  {stage_name(i)}:",
            f"    cmd: cp {prev} {cur}",
            "    deps:",
            f"    - {prev}",
            "    params:",
            f"    - chain.{param_name(i)}",
            "    outs:",
            f"    - {cur}",
        ]
    return "\n".join(lines) + "\n"


def _write_chain(dest: Path, stages: int) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "params.yaml").write_text(params_yaml(stages))
    (dest / "s00.txt").write_bytes(_rng("chain").randbytes(CHAIN_INPUT_BYTES))


def _ensure(path: Path, spec: dict[str, object], make: Callable[[Path], None]) -> None:
    marker = path.with_name(path.name + ".complete.json")
    if path.exists() and marker.exists() and json.loads(marker.read_text()) == spec:
        return
    print(f"[bench] generating dataset {path}", flush=True)
    if path.exists():
        shutil.rmtree(path)
    marker.unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    make(tmp)
    tmp.rename(path)
    marker.write_text(json.dumps(spec))


def prepare(work: Path, scale: Scale, *, small: bool, big: bool, chain: bool, huge: bool) -> Datasets:
    """Generate the datasets the selected workloads need (each only once per scale)."""
    ds = Datasets(work / "datasets" / scale.name, scale)
    base = {"generator": GENERATOR_VERSION, "seed": SEED, **asdict(scale)}
    if small:
        _ensure(
            ds.small,
            {**base, "kind": "small"},
            lambda d: _write_many(d, "small", scale.small_files, scale.small_folders),
        )
    if big:
        _ensure(ds.big, {**base, "kind": "big"}, lambda d: _write_big(d, scale.big_bytes))
    if chain:
        _ensure(ds.chain, {**base, "kind": "chain"}, lambda d: _write_chain(d, scale.chain_stages))
    if huge and scale.huge_files:
        _ensure(
            ds.huge, {**base, "kind": "huge"}, lambda d: _write_many(d, "huge", scale.huge_files, scale.huge_folders)
        )
    return ds
