"""What cannot be converted, collected from every file before anything is written, so that one
run lists every problem of a project (and a project with any is left as it was)."""

from __future__ import annotations

from cairn.errors import DvcImportError


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []  # unconvertible: the import stops
        self.notes: list[str] = []  # converted, with a difference worth knowing

    def add(self, where: str, message: str) -> None:
        item = f"{where}: {message}"
        if item not in self.items:
            self.items.append(item)

    def note(self, where: str, message: str) -> None:
        item = f"{where}: {message}"
        if item not in self.notes:
            self.notes.append(item)

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise DvcImportError(
                f"this DVC project has {n} thing{'s' if n > 1 else ''} cairn cannot convert; nothing was "
                "written:\n  " + "\n  ".join(self.items),
                "change them in the DVC project (or remove them) and run `cairn import-dvc` again; "
                "docs/dvc.md lists what converts and how",
                list(self.items),
            )
