"""The benchmark's own virtual environments under bench/.venvs/.

The venvs, all made with the interpreter that runs bench/run.py:

- ``dvc``: ``dvc[s3]`` at a pinned version; reused while its marker matches.
- ``moto``: ``moto[server]`` for the local S3 endpoint; reused while its marker matches.
- ``cairn``: a non-editable install of the current checkout, reinstalled when its sources
  changed (``pip install --no-deps --force-reinstall <root>``); its dependencies are
  (re)installed only when pyproject.toml changed.

Runs share the venvs (venvs_lock): they set up one at a time, then run side by side, each holding
the venvs it uses (a shared lock per venv). A run that must change a venv another run uses (new
cairn sources, say) waits until that run finishes; making a venv no running run uses (the dvc venv
while a cairn-only run goes on) waits for nobody. So the test suite's smoke runs go in parallel,
also on a fresh clone.

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
from typing import TextIO

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"

DVC_REQUIREMENTS = ("dvc[s3]==3.67.1",)
MOTO_REQUIREMENTS = ("moto[server]==5.2.5",)
MLFLOW_REQUIREMENTS = ("mlflow==3.17.2",)  # the peer of `cairn ui` (bench/ui_workloads.py, by hand)
OXEN_REQUIREMENTS = ("oxenai==0.65.1",)
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
        _hold(name)
        return env
    with _exclusive(name):
        print(f"[bench] creating venv {path} ({', '.join(requirements)})", flush=True)
        env = _create(path)
        log = log_dir / f"venv-{name}.log"
        _pip(env, ["install", *requirements], log)
        (path / MARKER).write_text(json.dumps(wanted, indent=2))
    return env


@dataclass(frozen=True)
class PeerInstall:
    """A peer's executable folder and version, or the reason it cannot run."""

    bin_dir: Path | None
    version: str | None
    problem: str | None


def ensure_oxen(log_dir: Path) -> PeerInstall:
    """The oxen venv, with bench/oxen_cli.py written as its `oxen` command on every run."""
    try:
        env = ensure_venv("oxen", OXEN_REQUIREMENTS, log_dir)
    except EnvError as exc:
        first = str(exc).splitlines()[0]
        return PeerInstall(None, None, f"`pip install {' '.join(OXEN_REQUIREMENTS)}` failed: {first}")
    exe, text = env.bin / "oxen", f"#!{env.python}\n" + (BENCH_DIR / "oxen_cli.py").read_text()
    if not exe.exists() or exe.read_text() != text:  # unchanged while another run may be using it
        exe.write_text(text)
        exe.chmod(0o755)
    return PeerInstall(env.bin, env.version_of("oxenai"), None)


def find_git_lfs() -> PeerInstall:
    """The system's git-lfs (never installed by the bench: it needs the system's package manager)."""
    exe = shutil.which("git-lfs")
    if exe is None:
        return PeerInstall(None, None, "git-lfs is not on the PATH (Debian: apt-get install git-lfs)")
    proc = subprocess.run([exe, "version"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return PeerInstall(None, None, f"`git-lfs version` exited {proc.returncode}")
    version = proc.stdout.split()[0].partition("/")[2] if proc.stdout.strip() else "?"
    return PeerInstall(Path(exe).parent, version, None)


# cairn's extras the workloads need (S3, serving, data stats, chunking), if defined
BENCH_EXTRAS = ("s3", "web", "stats", "chunks")


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
        _hold("cairn")
        if marker != deps_id or not env.python.exists():
            with _exclusive("cairn"):
                print(f"[bench] installing cairn and its dependencies into {path}", flush=True)
                same_python = marker is not None and all(marker.get(k) == v for k, v in _interpreter_id().items())
                if not env.python.exists() or not same_python:
                    env = _create(path)
                _pip(env, ["install", target], log)
                (path / MARKER).write_text(json.dumps(deps_id, indent=2))
        sources = _sources_id(root)
        installed = path / SOURCES_MARKER
        if not installed.exists() or installed.read_text() != sources:
            with _exclusive("cairn"):
                print("[bench] reinstalling cairn from the checkout (non-editable)", flush=True)
                installed.unlink(missing_ok=True)
                _pip(env, ["install", "--no-deps", "--force-reinstall", str(root)], log)
                installed.write_text(sources)
    except EnvError as exc:
        first = str(exc).splitlines()[0]
        return CairnInstall(None, None, f"`pip install {target}` failed: {first}")
    if not (env.bin / "cairn").exists():
        return CairnInstall(None, None, "the installed package has no `cairn` console script")
    return CairnInstall(env, env.version_of(str(project.get("name", "cairn"))), None)


SOURCES_MARKER = "bench-sources.sha256"
_locks: dict[str, TextIO] = {}  # the open lock files of the current run (venvs_lock)


def _sources_id(root: Path) -> str:
    """A digest of what the non-editable install copies: the package's files and pyproject.toml."""
    digest = hashlib.sha256()
    for path in sorted([root / "pyproject.toml", *(p for p in (root / "src").rglob("*") if p.is_file())]):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@contextmanager
def venvs_lock() -> Iterator[None]:
    """The run's hold on the venvs: one run at a time sets them up (.setup.lock, waited for);
    each venv the run uses stays held shared (.NAME.lock) until the run ends, so no other run
    changes it meanwhile (a change needs it alone: _exclusive)."""
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    with (VENVS_DIR / ".setup.lock").open("w") as setup:
        fcntl.flock(setup, fcntl.LOCK_EX)
        _locks["setup"] = setup
        try:
            yield
        finally:
            for name, fh in list(_locks.items()):
                if name != "setup":
                    fh.close()  # closing releases the lock
            _locks.clear()


def venvs_ready() -> None:
    """The venvs are set up: let the next run set up (this one keeps holding the venvs it uses)."""
    if "setup" in _locks:
        fcntl.flock(_locks["setup"], fcntl.LOCK_UN)


def _lock_file(name: str) -> TextIO | None:
    if "setup" not in _locks:  # called outside run.py's venvs_lock (a test of one helper)
        return None
    if name not in _locks:
        _locks[name] = (VENVS_DIR / f".{name}.lock").open("w")
    return _locks[name]


def _hold(name: str) -> None:
    """Use venv NAME for the rest of the run. Never waits: only a run holding .setup.lock (this
    one, now) changes a venv."""
    fh = _lock_file(name)
    if fh is not None:
        fcntl.flock(fh, fcntl.LOCK_SH)


@contextmanager
def _exclusive(name: str) -> Iterator[None]:
    """Venv NAME alone while it changes, waiting for the runs that use it to finish; held shared
    afterwards, as every venv the run uses."""
    fh = _lock_file(name)
    if fh is None:
        yield
        return
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(
            f"[bench] another bench run is using {VENVS_DIR / name}; waiting for it to finish to change it", flush=True
        )
        fcntl.flock(fh, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_SH)
