"""Progress reporting through callbacks. The library calls these; the CLI decides whether to
draw bars (on a terminal) or nothing (when piped). The default does nothing."""

from __future__ import annotations

from typing import Protocol


class Task(Protocol):
    """Counts items (`unit`); a task made with `total_bytes` also counts the bytes they hold."""

    def advance(self, n: int = 1, nbytes: int = 0) -> None: ...
    def add_total(self, n: int, nbytes: int = 0) -> None: ...
    def close(self) -> None: ...


class Progress(Protocol):
    def task(
        self, description: str, total: int | None = None, unit: str = "files", total_bytes: int | None = None
    ) -> Task: ...

    def notice(self, message: str) -> None:
        """A one-line message for the person waiting (the CLI shows it on stderr)."""


class _NullTask:
    __slots__ = ()

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        pass

    def add_total(self, n: int, nbytes: int = 0) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    """Reports nothing; the default everywhere."""

    _task = _NullTask()

    def task(
        self, description: str, total: int | None = None, unit: str = "files", total_bytes: int | None = None
    ) -> Task:
        return self._task

    def notice(self, message: str) -> None:
        pass


NULL = NullProgress()
