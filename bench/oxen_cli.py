"""`oxen` for the bench: the few Oxen CLI commands the bench times, over liboxen's Python binding.

PyPI's `oxenai` ships Oxen's Rust library as a Python extension module and no `oxen` executable,
so bench/envs.py installs this file as `bin/oxen` in the oxen venv. It loads the extension module
alone (~70 ms) instead of `import oxen` (~0.6 s, most of it pandas and polars), so a timed command
is Oxen's own work plus one interpreter start. Commands chain with `+` in one process, as one
`oxen add data && oxen commit -m data` of the Rust CLI pays its start-up twice but this would pay
the interpreter's twice:

    oxen config --name NAME --email EMAIL | init | add PATH | commit -m MSG | status | restore PATH

Standard library only, besides the extension module.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
from types import ModuleType

USAGE = "usage: oxen {config --name N --email E | init | add PATH | commit -m MSG | status | restore PATH} [+ ...]"


def _liboxen() -> ModuleType:
    pattern = os.path.join(sys.prefix, "lib", "python*", "site-packages", "oxen", "oxen_py*.so")
    found = glob.glob(pattern)
    if not found:
        raise SystemExit(f"oxen: no oxen_py extension module under {sys.prefix} (pip install oxenai)")
    spec = importlib.util.spec_from_file_location("oxen_py", found[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(lib: ModuleType, args: list[str]) -> None:
    cwd = os.getcwd()
    match args:
        case ["config", "--name", name, "--email", email]:
            lib.user.config_user(name, email, os.path.join(lib.util.get_oxen_config_dir(), "user_config.toml"))
        case ["init"]:
            lib.PyRepo(cwd).init()
        case ["add", path]:
            lib.PyRepo(cwd).add(os.path.abspath(path))
        case ["commit", "-m", message]:
            lib.PyRepo(cwd).commit(message)
        case ["status"]:
            print(lib.PyRepo(cwd).status())
        case ["restore", path]:
            lib.PyRepo(cwd).restore(path, False, None)
        case _:
            raise SystemExit(USAGE)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        _liboxen()  # so `oxen --help` times the start-up every command pays
        print(USAGE)
        return 0
    lib = _liboxen()
    if argv == ["--version"]:
        print(f"oxen {lib.__version__}")
        return 0
    command: list[str] = []
    for arg in [*argv, "+"]:
        if arg != "+":
            command.append(arg)
            continue
        try:
            _run(lib, command)
        except (ValueError, OSError) as exc:  # liboxen raises ValueError with its message
            print(f"oxen {' '.join(command)}: {exc}", file=sys.stderr)
            return 1
        command = []
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
