"""The tools under test (cairn, DVC, and the peers Oxen and git-lfs), behind one small interface.

Each tool knows its executable, its file names and how to do the untimed setup steps (init,
cache link type, remotes). Timed commands are built by the workloads with `Tool.argv`, with the
same arguments for cairn and DVC; the peers' own setups and commands are in peers.py (their Tool
only names the executable, its folder and version). Standard library only.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path


class SetupError(Exception):
    """An untimed setup step failed; the message carries the command and its output's tail."""


def run_checked(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> str:
    """Run an untimed step; return its stdout; raise SetupError on a non-zero exit."""
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    with log.open("a") as fh:
        fh.write(f"$ (cd {cwd} && {' '.join(argv)})  # exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise SetupError(
            f"`{' '.join(Path(a).name if i == 0 else a for i, a in enumerate(argv))}` exited {proc.returncode}: {tail}"
        )
    return proc.stdout


@dataclass(frozen=True)
class Tool:
    name: str  # "cairn", "dvc", "oxen" or "git-lfs"
    bin_dir: Path
    pointer_suffix: str  # ".cairn" / ".dvc"
    pipeline_file: str  # "cairn.yaml" / "dvc.yaml"
    local_config: str  # uncommitted config file, copied into clones
    endpoint_option: str  # name of the S3 endpoint option of `remote modify`
    init_args: tuple[str, ...]
    version: str = "?"
    _implemented: dict[tuple[str, ...], bool] = field(default_factory=dict, compare=False, repr=False)

    @property
    def exe(self) -> Path:
        return self.bin_dir / self.name

    def argv(self, *args: str) -> list[str]:
        return [str(self.exe), *args]

    def implements(self, command: str, env: dict[str, str], cwd: Path) -> bool:
        """Whether `<tool> <command> --help` exits 0 (so later issues light up by themselves)."""
        key = tuple(command.split())
        if key not in self._implemented:
            proc = subprocess.run(self.argv(*key, "--help"), cwd=cwd, env=env, capture_output=True, check=False)
            self._implemented[key] = proc.returncode == 0
        return self._implemented[key]

    # -- untimed setup steps -------------------------------------------------------------
    def init(self, repo: Path, env: dict[str, str], log: Path, cache_type: str) -> None:
        """`git init` + tool init + cache.type, committed, as a user would start."""
        repo.mkdir(parents=True, exist_ok=True)
        run_checked(["git", "init", "-q"], cwd=repo, env=env, log=log)
        run_checked(self.argv(*self.init_args), cwd=repo, env=env, log=log)
        self.config(repo, env, log, "cache.type", cache_type)
        commit_all(repo, env, log, f"{self.name} init")

    def config(self, repo: Path, env: dict[str, str], log: Path, key: str, value: str) -> None:
        run_checked(self.argv("config", key, value), cwd=repo, env=env, log=log)

    def add_remote(
        self, repo: Path, env: dict[str, str], log: Path, url: str, endpoint: str | None = None, name: str = "bench"
    ) -> None:
        """Add a remote and make it the default."""
        run_checked(self.argv("remote", "add", "-d", name, url), cwd=repo, env=env, log=log)
        if endpoint:
            run_checked(self.argv("remote", "modify", name, self.endpoint_option, endpoint), cwd=repo, env=env, log=log)


def commit_all(repo: Path, env: dict[str, str], log: Path, message: str) -> None:
    run_checked(["git", "add", "-A"], cwd=repo, env=env, log=log)
    run_checked(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=repo, env=env, log=log)


def cairn_tool(bin_dir: Path, version: str) -> Tool:
    return Tool(
        name="cairn",
        bin_dir=bin_dir,
        pointer_suffix=".cairn",
        pipeline_file="cairn.yaml",
        local_config=".cairn/config.local.toml",
        endpoint_option="endpoint_url",
        init_args=("init",),
        version=version,
    )


def dvc_tool(bin_dir: Path, version: str) -> Tool:
    return Tool(
        name="dvc",
        bin_dir=bin_dir,
        pointer_suffix=".dvc",
        pipeline_file="dvc.yaml",
        local_config=".dvc/config.local",
        endpoint_option="endpointurl",
        init_args=("init", "-q"),
        version=version,
    )


def peer_tool(name: str, bin_dir: Path, version: str) -> Tool:
    """Oxen or git-lfs: no pointer files, pipelines or DVC-style remotes (peers.py drives them)."""
    return Tool(
        name=name,
        bin_dir=bin_dir,
        pointer_suffix="",
        pipeline_file="",
        local_config="",
        endpoint_option="",
        init_args=(),
        version=version,
    )


def tool_home_files(home: Path) -> dict[Path, str]:
    """The per-run HOME: git identity, and DVC's global config (no analytics, no update check,
    its site cache (index and state databases) inside this run's HOME so every run starts cold)."""
    return {
        home / ".gitconfig": (
            "[user]\n\tname = bench\n\temail = bench@example.invalid\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        ),
        home / ".config" / "dvc" / "config": (
            f"[core]\n    analytics = false\n    check_update = false\n"
            f"    site_cache_dir = {home / '.dvc-site-cache'}\n"
        ),
    }
