"""Shared fixtures: real git repositories in temp folders, the real `cairn` console script run as
a subprocess with a clean environment (as a user at a shell would run it, minus the terminal), and
a small deterministic dataset generator.

Helpers are handed to tests as fixtures (factories), so test modules import nothing from here.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import pty
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from blake3 import blake3

VENV_BIN = Path(sys.executable).parent
CAIRN = VENV_BIN / "cairn"
GIT = shutil.which("git")
# A fixed, old mtime for generated files: the stat cache does not remember files modified in the
# last 20 ms ("racily clean"), and tests that count re-read files must not depend on timing.
OLD_MTIME_NS = 1_600_000_000 * 10**9

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


# -- environment and processes ---------------------------------------------------------------


def clean_env(home: Path, venv_first: bool = False, **extra: str) -> dict[str, str]:
    """A minimal environment: no colour, no inherited git or cairn settings, git on PATH.

    With `venv_first`, the venv's bin comes first on PATH, so `cairn` itself can be found (git
    hooks need that)."""
    path = [os.path.dirname(GIT or "/usr/bin/git"), "/usr/bin", "/bin"]
    if venv_first:
        path.insert(0, str(VENV_BIN))
    env = {
        "PATH": os.pathsep.join(dict.fromkeys(path)),
        "HOME": str(home),
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
    }
    env.update(extra)
    return env


def _default_sigint() -> None:
    # A process started from a non-interactive job may inherit SIGINT as ignored; a user's
    # shell gives cairn the default handler, so restore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _drop_dac_capabilities() -> None:
    """Make root subject to file permissions (as every other user is) in the child process."""
    _default_sigint()
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def chmod_000_blocks_reads(scratch: Path) -> bool:
    """True when a child started with drop_dac=True cannot read a chmod 000 file (false for root
    without CAP_SETPCAP, e.g. in some containers)."""
    probe = scratch / "chmod-000-probe"
    probe.write_bytes(b"x")
    probe.chmod(0)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}, 'rb').read()"],
            preexec_fn=_drop_dac_capabilities if os.geteuid() == 0 else None,
            capture_output=True,
        )
    except subprocess.SubprocessError:
        return False
    finally:
        probe.chmod(0o644)
        probe.unlink()
    return proc.returncode != 0 and b"PermissionError" in proc.stderr


def _fail_message(proc: subprocess.CompletedProcess, expect: int) -> str:
    return (
        f"`{' '.join(map(str, proc.args))}` exited {proc.returncode}, expected {expect}\n"
        f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    )


@pytest.fixture(scope="session")
def permissions_enforced(tmp_path_factory: pytest.TempPathFactory) -> bool:
    """Whether run_cairn(..., drop_dac=True) makes chmod 000 block reads (see above)."""
    return chmod_000_blocks_reads(tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty HOME: no global git config, no user config of any tool."""
    if not CAIRN.exists():
        pytest.fail(f"the cairn console script is not at {CAIRN}; run `pip install -e .` in this venv")
    if GIT is None:
        pytest.fail("git is not on PATH; the functional tests drive real git repositories")
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory: pytest.TempPathFactory):
    """Tests that call the library in this process (environment capture) write their per-user
    cache into a temp folder, not the real ~/.cache; subprocesses get a temp HOME already."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


RunCairn = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="session")
def on_terminal(home: Path) -> Callable[..., tuple[int, str]]:
    """on_terminal(*args, cwd) -> (exit code, all it wrote): the real console script with its
    stdout and stderr on a pseudo-terminal (160 columns), as at a person's shell."""

    def run(*args: str, cwd: Path, timeout: float = 120) -> tuple[int, str]:
        main, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        proc = subprocess.Popen(
            [str(CAIRN), *map(str, args)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=child,
            stderr=child,
            env=clean_env(home, TERM="xterm-256color"),
            preexec_fn=_default_sigint,
        )
        os.close(child)
        out = bytearray()
        try:
            while select.select([main], [], [], timeout)[0]:
                try:
                    data = os.read(main, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not data:
                    break
                out += data
            return proc.wait(timeout=timeout), out.decode(errors="replace")
        finally:
            os.close(main)
            if proc.poll() is None:
                proc.kill()

    return run


@pytest.fixture(scope="session")
def run_cairn(home: Path) -> RunCairn:
    """run_cairn(*args, cwd, input=None, expect=0, env=None, venv_first=False, drop_dac=False).

    drop_dac: as root, run without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, so chmod 000 blocks
    reads as it does for everyone else (check the permissions_enforced fixture first).

    Runs the real console script with a clean env, stdin not a TTY, and asserts the exit code
    (pass expect=None to skip that). Returns the CompletedProcess (text stdout/stderr)."""

    def run(
        *args: str,
        cwd: Path,
        input: str | None = None,
        expect: int | None = 0,
        env: dict[str, str] | None = None,
        venv_first: bool = False,
        drop_dac: bool = False,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(CAIRN), *map(str, args)],
            cwd=cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=clean_env(home, venv_first, **(env or {})),
            preexec_fn=_drop_dac_capabilities if drop_dac and os.geteuid() == 0 else _default_sigint,
            timeout=timeout,
        )
        if expect is not None:
            assert proc.returncode == expect, _fail_message(proc, expect)
        return proc

    return run


@pytest.fixture(scope="session")
def start_cairn(home: Path) -> Callable[..., subprocess.Popen]:
    """start_cairn(*args, cwd) -> Popen, for tests that interrupt a running command."""

    def start(*args: str, cwd: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [str(CAIRN), *map(str, args)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(home),
            preexec_fn=_default_sigint,
        )

    return start


@pytest.fixture(scope="session")
def git(home: Path) -> Callable[..., str]:
    """git(*args, cwd, venv_first=False, full=False) -> stdout (the CompletedProcess with full=True);
    fails the test on a non-zero exit."""

    def run(*args: str, cwd: Path, venv_first: bool = False, full: bool = False):
        proc = subprocess.run(
            [GIT, *map(str, args)],
            cwd=cwd,
            capture_output=True,
            text=True,
            env=clean_env(home, venv_first),
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        assert proc.returncode == 0, _fail_message(proc, 0)
        return proc if full else proc.stdout

    return run


# -- errors ----------------------------------------------------------------------------------


def check_error(proc: subprocess.CompletedProcess, error: type, message: str, hint: str | None = None) -> None:
    """Assert that `proc` failed as `error` (a cairn.errors class) would make the CLI fail: its
    exit code, `error: ...message...` and `  hint: ...hint...` on stderr, nothing on stdout."""
    assert proc.returncode == error.exit_code, _fail_message(proc, error.exit_code)
    lines = proc.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert errors, f"no `error:` line on stderr:\n{proc.stderr}"
    assert message in errors[0], f"{message!r} not in {errors[0]!r}"
    if hint is not None:
        hints = [ln for ln in lines if ln.startswith("  hint: ")]
        assert hints, f"no `  hint:` line on stderr:\n{proc.stderr}"
        assert hint in hints[0], f"{hint!r} not in {hints[0]!r}"
    assert proc.stdout == "", f"an error printed to stdout:\n{proc.stdout}"


@pytest.fixture(scope="session")
def assert_error() -> Callable[..., None]:
    """assert_error(proc, ErrorClass, message, hint=None); see check_error."""
    return check_error


# -- data ------------------------------------------------------------------------------------


def write_files(root: Path, files: dict[str, bytes], mtime_ns: int | None = OLD_MTIME_NS) -> None:
    """Write `files` (relative path -> bytes) under `root`, with an old fixed mtime by default."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not os.access(path, os.W_OK):
            path.chmod(0o644)
        path.write_bytes(data)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))


def dataset(count: int = 12, size: int = 256, seed: int = 0, depth: int = 2, fanout: int = 3) -> dict[str, bytes]:
    """`count` files of ~`size` random bytes (fixed by `seed`) spread over nested folders.

    File i goes into folders s{i % fanout}/s{(i // fanout) % fanout}/... down to `depth`."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for i in range(count):
        parts = [f"s{(i // fanout**d) % fanout}" for d in range(depth)]
        files["/".join([*parts, f"f{i:05d}.bin"])] = rng.randbytes(size + i % 7)
    return files


@pytest.fixture
def dontneed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The inode numbers given POSIX_FADV_DONTNEED from now on, in order (the real call made too)."""
    advised: list[int] = []
    real = os.posix_fadvise

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        if advice == os.POSIX_FADV_DONTNEED:
            advised.append(os.fstat(fd).st_ino)
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", fadvise)
    return advised


@pytest.fixture(scope="session")
def make_dataset() -> Callable[..., dict[str, bytes]]:
    """make_dataset(root, count=12, size=256, seed=0, depth=2, fanout=3) writes a deterministic
    dataset under `root` and returns {path relative to root: bytes}."""

    def make(root: Path, **kwargs) -> dict[str, bytes]:
        files = dataset(**kwargs)
        write_files(root, files)
        return files

    return make


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def tree_bytes(entries: Iterable[dict]) -> bytes:
    """A tree object as docs/formats.md specifies it, encoded independently of cairn."""
    doc = {"entries": sorted(entries, key=lambda e: e["name"]), "version": 1}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def expected_oid(path: Path) -> tuple[str, int, int]:
    """(oid, size, files) of a workspace file or folder per docs/formats.md, computed with the
    blake3 package only (no cairn code)."""
    return _expected(path, {})


def expected_trees(path: Path) -> dict[str, bytes]:
    """Every tree object of folder `path` by id, computed as in `expected_oid`."""
    trees: dict[str, bytes] = {}
    _expected(path, trees)
    return trees


def _expected(path: Path, trees: dict[str, bytes]) -> tuple[str, int, int]:
    if path.is_file():
        return b3(path.read_bytes()), path.stat().st_size, 1
    entries, size, files = [], 0, 0
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            oid, csize, cfiles = _expected(child, trees)
            entries.append({"exec": False, "kind": "tree", "name": child.name, "oid": oid, "size": csize})
        elif child.is_file():
            oid, csize, cfiles = b3(child.read_bytes()), child.stat().st_size, 1
            exe = bool(child.stat().st_mode & 0o100)
            entries.append({"exec": exe, "kind": "file", "name": child.name, "oid": oid, "size": csize})
        else:
            continue
        size += csize
        files += cfiles
    data = tree_bytes(entries)
    oid = b3(data)
    trees[oid] = data
    return oid, size, files


# -- repositories ----------------------------------------------------------------------------


class Project:
    """A temp git repository with cairn initialized and committed, plus shortcuts."""

    def __init__(self, root: Path, run_cairn: RunCairn, git: Callable[..., str]) -> None:
        self.root = root
        self._run_cairn = run_cairn
        self._git = git

    def cairn(self, *args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
        return self._run_cairn(*args, cwd=cwd or self.root, **kwargs)

    def json(self, *args: str, expect: int | None = 0) -> object:
        return json.loads(self.cairn(*args, "--json", expect=expect).stdout)

    def git(self, *args: str, **kwargs) -> str:
        return self._git(*args, cwd=self.root, **kwargs)

    def commit(self, message: str, *paths: str) -> str:
        self.git("add", "-A", *paths)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def write(self, files: dict[str, bytes], under: str = "", mtime_ns: int | None = None) -> None:
        """Write files as an editor would (mtime now); make_dataset gives old mtimes instead."""
        write_files(self.root / under if under else self.root, files, mtime_ns)

    @property
    def objects_dir(self) -> Path:
        return self.root / ".cairn" / "cache" / "objects"

    def cache_oids(self) -> set[str]:
        """Every object in the cache, loose or in a local pack."""
        return self.loose_oids() | set(self.packed())

    def loose_oids(self) -> set[str]:
        if not self.objects_dir.exists():
            return set()
        return {f"{fan.name}{obj.name}" for fan in self.objects_dir.iterdir() for obj in fan.iterdir()}

    def packed(self) -> dict[str, tuple[str, int, int]]:
        """Packed objects -> (pack id, offset, size), read from the indexes as docs/formats.md
        describes them (no cairn code)."""
        out: dict[str, tuple[str, int, int]] = {}
        packs = self.root / ".cairn" / "cache" / "packs"
        for idx in sorted(packs.glob("*.idx")) if packs.is_dir() else ():
            for oid, off, size in json.loads(idx.read_bytes())["objects"]:
                out.setdefault(oid, (idx.stem, off, size))
        return out

    def _unpack(self, pid: str) -> None:
        """Turn every object of a local pack into a loose object and remove the pack, so a test
        can delete, damage or inspect one object as a file (what loose objects are)."""
        packs = self.root / ".cairn" / "cache" / "packs"
        data = (packs / f"{pid}.pack").read_bytes()
        for oid, off, size in json.loads((packs / f"{pid}.idx").read_bytes())["objects"]:
            path = self.objects_dir / oid[:2] / oid[2:]
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data[off : off + size])
                path.chmod(0o444)
        (packs / f"{pid}.idx").unlink()
        (packs / f"{pid}.pack").unlink()

    def expected(self, rel: str) -> tuple[str, int, int]:
        """(oid, size, files) that `cairn add rel` should record, computed without cairn."""
        return expected_oid(self.root / rel)

    def expected_trees(self, rel: str) -> dict[str, bytes]:
        return expected_trees(self.root / rel)

    tree_bytes = staticmethod(tree_bytes)

    def object_path(self, oid: str) -> Path:
        """The loose object's path; a packed object's pack is unpacked first (see _unpack)."""
        path = self.objects_dir / oid[:2] / oid[2:]
        if not path.exists():
            where = self.packed().get(oid)
            if where is not None:
                self._unpack(where[0])
        return path

    def pointer(self, rel: str) -> dict:
        import yaml

        doc = yaml.safe_load((self.root / f"{rel}.cairn").read_text())
        assert isinstance(doc, dict)
        return doc

    def corrupt_object(self, oid: str, data: bytes = b"bit rot") -> None:
        """Damage a cache object the way a disk or a careless user would."""
        path = self.object_path(oid)
        path.chmod(0o644)
        path.write_bytes(data)
        path.chmod(0o444)

    def assert_cache_sound(self) -> None:
        """Every cache object's BLAKE3 equals its name: nothing partial or damaged."""
        for oid in self.loose_oids():
            assert b3(self.object_path(oid).read_bytes()) == oid, f"object {oid} does not match its id"
        packs = self.root / ".cairn" / "cache" / "packs"
        for oid, (pid, off, size) in self.packed().items():
            with open(packs / f"{pid}.pack", "rb") as f:
                f.seek(off)
                assert b3(f.read(size)) == oid, f"packed object {oid} does not match its id"


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory, run_cairn: RunCairn, git: Callable[..., str]):
    """Built once per session and copied per test: a fresh copy costs milliseconds, a fresh
    `git init && cairn init && git commit` several subprocesses."""
    base = tmp_path_factory.mktemp("templates")
    plain = base / "git"
    plain.mkdir()
    git("init", "-q", "-b", "main", cwd=plain)
    for key, value in (
        ("user.name", "Cairn Tester"),
        ("user.email", "tester@example.com"),
        ("commit.gpgsign", "false"),
        ("advice.detachedHead", "false"),
    ):
        git("config", key, value, cwd=plain)
    initialized = base / "cairn"
    shutil.copytree(plain, initialized, symlinks=True)
    run_cairn("init", cwd=initialized)
    git("add", "-A", cwd=initialized)
    git("commit", "-q", "-m", "Initialize cairn", cwd=initialized)
    return plain, initialized


@pytest.fixture
def git_repo(tmp_path: Path, _templates) -> Path:
    """An empty git repository (branch main, no commits) with user.name and user.email set."""
    root = tmp_path / "proj"
    shutil.copytree(_templates[0], root, symlinks=True)
    return root


@pytest.fixture
def repo(tmp_path: Path, _templates, run_cairn: RunCairn, git: Callable[..., str]) -> Project:
    """`git init && cairn init`, with .cairn committed."""
    root = tmp_path / "proj"
    shutil.copytree(_templates[1], root, symlinks=True)
    return Project(root, run_cairn, git)


# -- parallel runs (pytest-xdist, `--dist loadgroup` as scripts/test.sh runs it) -----------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each module on one worker, as `--dist loadscope` would, so module-scoped fixtures
    (a Ray cluster, a browser, a built project) are made once; a test or module that names its
    own xdist_group keeps it. The Ray modules share one: ray.cluster_utils writes the address of
    the newest cluster to one per-machine file, so two clusters must never run at once."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            module = item.nodeid.partition("::")[0]
            item.add_marker(pytest.mark.xdist_group("ray" if "/cluster/" in module else module))
