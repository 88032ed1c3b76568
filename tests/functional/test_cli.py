"""The command line itself: help for every command, version, shell completion, lazy start-up,
unknown commands, and the documented exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cairn
import cairn.errors
from cairn.cli.main import COMMANDS as REGISTERED

# The data commands this suite covers; others register more (remotes, pipelines...), and every
# registered command gets the help test below.
CORE = ["init", "add", "status", "diff", "checkout", "gc", "fsck", "unprotect", "install-hooks", "config", "completion"]
COMMANDS = list(REGISTERED)
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_help_lists_every_command(tmp_path, run_cairn):
    proc = run_cairn("--help", cwd=tmp_path)

    assert proc.stdout.startswith("Usage: cairn [OPTIONS] COMMAND [ARGS]...")
    listed = re.findall(r"^  ([a-z-]+)  ", proc.stdout.split("Commands:")[1], flags=re.M)
    assert listed == COMMANDS
    assert set(CORE) <= set(listed)
    assert "\x1b[" not in proc.stdout  # no colour codes when piped / NO_COLOR
    assert run_cairn("-h", cwd=tmp_path).stdout == proc.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(tmp_path, run_cairn, command):
    proc = run_cairn(command, "--help", cwd=tmp_path)  # works outside any repository

    first, _, rest = proc.stdout.partition("\n")
    assert first.startswith(f"Usage: cairn {command} ")
    assert len(rest.strip().splitlines()[0]) > 20, "a one-line description follows the usage"
    assert "-h, --help" in proc.stdout
    assert proc.stderr == ""


def test_version(tmp_path, run_cairn):
    assert run_cairn("--version", cwd=tmp_path).stdout == f"cairn, version {cairn.__version__}\n"
    assert run_cairn("-V", cwd=tmp_path).stdout == f"cairn, version {cairn.__version__}\n"


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "_CAIRN_COMPLETE=bash_complete"), ("zsh", "#compdef cairn"), ("fish", "_CAIRN_COMPLETE=fish_complete")],
)
def test_completion_prints_a_script(tmp_path, run_cairn, shell, marker):
    script = run_cairn("completion", shell, cwd=tmp_path).stdout

    assert marker in script
    if shell == "bash":
        checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("prefix", ["stat", "i", "ch"])
def test_completion_completes_lazily_registered_commands(tmp_path, run_cairn, prefix):
    env = {"_CAIRN_COMPLETE": "bash_complete", "COMP_WORDS": f"cairn {prefix}", "COMP_CWORD": "1"}

    offered = run_cairn(cwd=tmp_path, env=env).stdout.split()

    expected = [f"plain,{c}" for c in COMMANDS if c.startswith(prefix)]
    assert expected  # "status", "init"/"install-hooks", "checkout"
    assert sorted(offered) == sorted(expected)


def test_completion_of_an_unknown_shell(tmp_path, run_cairn):
    proc = run_cairn("completion", "tcsh", cwd=tmp_path, expect=2)
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in proc.stderr


def imported_modules(argv: list[str], cwd: Path) -> set[str]:
    code = (
        "import sys\n"
        f"sys.argv = {argv!r}\n"
        "from cairn.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('\\n'.join(sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    return set(proc.stderr.splitlines())


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_no_heavy_modules(tmp_path):
    modules = imported_modules(["cairn", "--help"], tmp_path)

    assert "click" in modules  # the probe works
    assert not top_level(modules) & {"rich", "pygit2", "yaml", "blake3", "filelock", "pathspec"}
    # and no command module: commands are registered lazily
    assert {m for m in modules if m.startswith("cairn.")} <= {"cairn.cli", "cairn.cli.main", "cairn.errors"}


def test_status_does_not_import_git(repo):
    # docs/decisions.md: pygit2 is imported only by commands that need history, never by status.
    repo.write({"f.bin": b"f"})
    repo.cairn("add", "f.bin")

    modules = imported_modules(["cairn", "status"], repo.root)

    assert "cairn.workspace.status" in modules
    assert "cairn.index.snapshot" in modules  # status really ran
    assert "yaml" not in top_level(modules)  # a pointer cairn wrote is read without PyYAML
    assert "pygit2" not in top_level(modules)
    assert "rich" not in top_level(modules)  # no terminal, no progress bars


def test_status_of_a_folder_of_folders_imports_only_what_it_uses(repo):
    # bench W2: the walk lists folders ahead on plain threads (no concurrent.futures, logging),
    # a reader takes no lock, and the merge state is read only when a merge left one
    repo.write({f"data/d{d}/f{i}.bin": f"{d}{i}".encode() for d in range(4) for i in range(3)})
    repo.cairn("add", "data")

    modules = imported_modules(["cairn", "status"], repo.root)

    assert "cairn.index.snapshot" in modules  # status really walked
    assert not modules & {"concurrent.futures", "logging", "cairn.repo.lock", "cairn.repo.mergestate"}


def test_pipeline_status_and_repro_with_nothing_to_do_import_only_what_they_use(repo):
    # bench W11/W20: with nothing to do, these read a few small files; merging, data statistics,
    # thread pools, subprocesses and OpenSSL belong to other work (each import costs every run)
    (repo.root / "in.txt").write_text("x\n")
    (repo.root / "cairn.yaml").write_text(
        "stages:\n  copy:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n"
    )
    repo.cairn("repro")
    imported_modules(["cairn", "status"], repo.root)  # measures this interpreter's environment once
    heavy = {
        "concurrent.futures",  # thread pools: folder walks and chunked files only
        "cairn.workspace.merge",  # only while a merge of tracked data is unfinished
        "cairn.datastats.describe",  # only for a cairn.yaml with `schema:`
        "csv",
        "socket",  # the lock's host name comes from uname
        "hashlib",  # the environment cache key is a BLAKE3
        "importlib.metadata",  # the environment comes from the per-user cache after the first run
    }

    status = imported_modules(["cairn", "status"], repo.root)
    repro = imported_modules(["cairn", "repro"], repo.root)

    assert "cairn.repo.environment" in status and "cairn.pipelines.runner" in status  # status ran
    assert "cairn.repo.lock" in repro and "cairn.pipelines.lifeline" in repro  # repro ran
    assert status & heavy == set()
    assert repro & heavy == set()
    assert "subprocess" not in status | repro  # no stage runs, nvidia-smi is not asked
    assert json.loads(repo.cairn("status", "--json").stdout)["stages"] == {}  # nothing was stale


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("stauts", "Did you mean `cairn status`?"),
        ("chekout", "Did you mean `cairn checkout`?"),
        ("ad", "Did you mean `cairn add`?"),
    ],
)
def test_unknown_command_suggests_the_nearest(tmp_path, run_cairn, typo, suggestion):
    proc = run_cairn(typo, cwd=tmp_path, expect=2)

    assert f"Error: no such command '{typo}'. {suggestion}" in proc.stderr
    assert proc.stdout == ""


def test_unknown_command_without_a_near_match(tmp_path, run_cairn):
    proc = run_cairn("xyzzy", cwd=tmp_path, expect=2)
    assert "Error: no such command 'xyzzy'. See `cairn --help`." in proc.stderr


def test_usage_errors(tmp_path, run_cairn):
    assert "No such option '--bogus'" in run_cairn("status", "--bogus", cwd=tmp_path, expect=2).stderr
    assert "Missing argument 'PATHS...'" in run_cairn("add", cwd=tmp_path, expect=2).stderr
    bare = run_cairn(cwd=tmp_path, expect=2)
    assert "Usage: cairn [OPTIONS] COMMAND [ARGS]..." in bare.stdout + bare.stderr


def test_quiet_and_verbose(repo):
    repo.write({"f.bin": b"f"})
    assert repo.cairn("-q", "add", "f.bin").stdout == ""
    assert repo.cairn("-q", "status").stdout == ""
    assert repo.cairn("-v", "checkout").stdout == "f.bin: up to date\nWorkspace already matches the pointers.\n"


def test_documented_exit_codes_match_the_error_classes():
    table = (DOCS / "errors.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| `([\w-]+)` \|", table, flags=re.M)
    assert len(rows) >= 15
    for exit_code, name, code in rows:
        cls = getattr(cairn.errors, name)
        assert (cls.exit_code, cls.code) == (int(exit_code), code), name
    documented = {name for _, name, _ in rows}
    core = {
        "CairnError",
        "UserInputError",
        "PathError",
        "OverlapError",
        "RevisionError",
        "ConfigError",
        "RepoStateError",
        "NotARepoError",
        "AlreadyInitializedError",
        "PointerError",
        "DataError",
        "ObjectMissingError",
        "CorruptObjectError",
        "WouldLoseDataError",
        "LockedError",
        "PermissionDeniedError",
    }
    assert core <= documented


def test_the_program_runs_commands_with_the_gc_on_and_start_up_objects_frozen(repo):
    # cli/entry.py keeps the cyclic GC off only while modules load
    code = (
        "import gc, sys\n"
        "import cairn.cli.data as data\n"
        "from cairn.cli import entry\n"
        "real = data.status.callback\n"
        "def spy(*args, **kwargs):\n"
        "    print('gc on:', gc.isenabled(), 'frozen:', gc.get_freeze_count() > 0)\n"
        "    return real(*args, **kwargs)\n"
        "data.status.callback = spy\n"
        "sys.argv = ['cairn', 'status']\n"
        "entry.run()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo.root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "gc on: True frozen: True"
