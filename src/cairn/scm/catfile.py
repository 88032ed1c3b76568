"""Files at a commit read through one `git cat-file --batch` process kept open for the
command's few reads: a command that reads three files of one commit (`cairn model get`) should
not pay for importing pygit2, which takes longer than the reads and the process together."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cairn.errors import MissingDependencyError, RevisionError

_HEADER = re.compile(rb"([0-9a-f]{40,64}) (blob|tree|commit|tag) (\d+)\n")


class CatFile:
    """Read-only git at `root` (a work tree or a bare repository), as Git.read_file reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _process(self) -> subprocess.Popen:
        if self._proc is None:
            try:
                self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"],
                    cwd=self.root,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except FileNotFoundError:
                raise MissingDependencyError(
                    "reading files at a git revision needs the git CLI, and `git` is not on PATH", "install git"
                ) from None
        return self._proc

    def read_file(self, rev: str, rel: str) -> bytes | None:
        """The blob at `rel` in commit `rev`; None when there is none (or it is a folder)."""
        if "\n" in rev or "\n" in rel:
            return None  # the batch protocol is line-based; no tracked path holds a newline here
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(f"{rev}:{rel}\n".encode())
            proc.stdin.flush()
            header = proc.stdout.readline()
        except BrokenPipeError:
            header = b""  # git exited (not a repository, or killed): said below
        m = _HEADER.fullmatch(header)
        if m is None:
            if not header:
                raise RevisionError(f"git cat-file stopped reading {rel} at {rev}", "check the repository: git fsck")
            return None  # "<rev>:<rel> missing"
        data = proc.stdout.read(int(m.group(3)) + 1)[:-1]
        return data if m.group(2) == b"blob" else None

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.close()
            self._proc.wait()
            self._proc.stdout.close()
            self._proc = None
