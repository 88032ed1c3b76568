"""The benchmark's own virtual environments under bench/.venvs/.

Three venvs, all made with the interpreter that runs bench/run.py:

- ``dvc``: ``dvc[s3]`` at a pinned version; reused while its marker matches.
- ``moto``: ``moto[server]`` for the local S3 endpoint; reused while its marker matches.
- ``cairn``: a non-editable install of the current checkout, reinstalled on every run
  (``pip install --no-deps --force-reinstall <root>``); its dependencies are (re)installed
  only when pyproject.toml changed.

Standard library only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"

DVC_REQUIREMENTS = ("dvc[s3]==3.67.1",)
MOTO_REQUIREMENTS = ("moto[server]==5.2.5",)
MARKER = "bench-venv.json"


class EnvError(Exception):
    """A venv could not be made or a package not installed."""


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def version_of(self, distribution: str) -> str | None:
        """The installed version of a distribution in this venv, or None."""
        code = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
        proc = subprocess.run(
            [str(self.python), "-c", code, distribution],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip() if proc.returncode == 0 else None


@dataclass(frozen=True)
class CairnInstall:
    """The outcome of installing the checkout: a venv, or the reason there is none."""

    venv: Venv | None
    version: str | None
    problem: str | None


def _interpreter_id() -> dict[str, str]:
    """The base interpreter (the same whether run.py runs under it or under a venv made from it)."""
    return {"base_prefix": sys.base_prefix, "version": sys.version}


def _read_marker(path: Path) -> dict[str, object] | None:
    try:
        return json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _pip(env: Venv, args: list[str], log: Path) -> None:
    argv = [str(env.python), "-m", "pip", "--disable-pip-version-check", *args]
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise EnvError(f"pip {' '.join(args[:2])} failed (exit {proc.returncode}); see {log}\n{tail}")


def _create(path: Path) -> Venv:
    if path.exists():
        shutil.rmtree(path)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return Venv(path)


def ensure_venv(name: str, requirements: tuple[str, ...], log_dir: Path) -> Venv:
    """Return the venv NAME with REQUIREMENTS, making it only when absent or stale."""
    path = VENVS_DIR / name
    wanted: dict[str, object] = {**_interpreter_id(), "requirements": list(requirements)}
    env = Venv(path)
    if _read_marker(path) == wanted and env.python.exists():
        return env
    print(f"[bench] creating venv {path} ({', '.join(requirements)})", flush=True)
    env = _create(path)
    log = log_dir / f"venv-{name}.log"
    _pip(env, ["install", *requirements], log)
    (path / MARKER).write_text(json.dumps(wanted, indent=2))
    return env


BENCH_EXTRAS = ("s3", "web", "stats")  # cairn's extras the workloads need (S3, serving, data stats), if defined


def _project(root: Path) -> dict[str, object]:
    with (root / "pyproject.toml").open("rb") as fh:
        return dict(tomllib.load(fh).get("project", {}))


def install_cairn(root: Path, log_dir: Path) -> CairnInstall:
    """Install the checkout at ROOT (non-editable, with the s3 extra) into the cairn venv."""
    pyproject = root / "pyproject.toml"
    if not pyproject.exists():
        return CairnInstall(None, None, f"no {pyproject} yet: the cairn package does not exist")
    try:
        project = _project(root)
    except (OSError, ValueError) as exc:
        return CairnInstall(None, None, f"cannot read {pyproject}: {exc}")
    defined = project.get("optional-dependencies") or {}
    extras = [e for e in BENCH_EXTRAS if isinstance(defined, dict) and e in defined]
    target = f"{root}[{','.join(extras)}]" if extras else str(root)
    path = VENVS_DIR / "cairn"
    deps_id: dict[str, object] = {
        **_interpreter_id(),
        "pyproject_sha256": hashlib.sha256(pyproject.read_bytes()).hexdigest(),
        "target": target,
    }
    log = log_dir / "venv-cairn.log"
    log.write_text("")
    env = Venv(path)
    try:
        marker = _read_marker(path)
        if marker != deps_id or not env.python.exists():
            print(f"[bench] installing cairn and its dependencies into {path}", flush=True)
            same_python = marker is not None and all(marker.get(k) == v for k, v in _interpreter_id().items())
            if not env.python.exists() or not same_python:
                env = _create(path)
            _pip(env, ["install", target], log)
            (path / MARKER).write_text(json.dumps(deps_id, indent=2))
        print("[bench] reinstalling cairn from the checkout (non-editable)", flush=True)
        _pip(env, ["install", "--no-deps", "--force-reinstall", str(root)], log)
    except EnvError as exc:
        first = str(exc).splitlines()[0]
        return CairnInstall(None, None, f"`pip install {target}` failed: {first}")
    if not (env.bin / "cairn").exists():
        return CairnInstall(None, None, "the installed package has no `cairn` console script")
    return CairnInstall(env, env.version_of(str(project.get("name", "cairn"))), None)


@contextmanager
def venvs_lock() -> Iterator[None]:
    """Hold bench/.venvs/.lock for the whole run: two runs would reinstall cairn under each other."""
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    with (VENVS_DIR / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EnvError(f"another bench run holds {VENVS_DIR / '.lock'}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
