"""`.cairnignore` at the repository root, in gitignore syntax (matched by pathspec)."""

from __future__ import annotations

from pathlib import Path

IGNORE_FILE = ".cairnignore"


class Ignore:
    def __init__(self, lines: list[str]) -> None:
        import pathspec  # only when a .cairnignore exists: it costs start-up time

        self._spec = pathspec.GitIgnoreSpec.from_lines(lines)

    def match(self, rel: str, is_dir: bool) -> bool:
        return self._spec.match_file(rel + "/" if is_dir else rel)

    @classmethod
    def load(cls, root: Path) -> Ignore | None:
        try:
            text = (root / IGNORE_FILE).read_text()
        except FileNotFoundError:
            return None
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        return cls(lines) if lines else None
