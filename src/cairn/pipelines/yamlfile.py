"""YAML with positions: the data, plus the line and column of every value, so validation can
say where a problem is ("cairn.yaml:12:7")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import PipelineError
from cairn.pipelines import yamldocs

if TYPE_CHECKING:
    import yaml

Path_ = tuple[Any, ...]


class Located:
    """Parsed YAML and where each value came from."""

    def __init__(self, data: Any, marks: dict[Path_, tuple[int, int]], name: str) -> None:
        self.data = data
        self.marks = marks
        self.name = name

    def where(self, path: Path_) -> str:
        """`file:line:col` of the value at `path`, or of its nearest located parent."""
        while path and path not in self.marks:
            path = path[:-1]
        line, col = self.marks.get(path, (1, 1))
        return f"{self.name}:{line}:{col}"


def load(path: Path, name: str | None = None) -> Located:
    """Parse the file, or take what the same text parsed to before (pipelines/yamldocs.py)."""
    name = name or path.name
    text = path.read_text()

    def data_and_marks() -> tuple[Any, dict]:
        located = parse(text, name)
        return located.data, located.marks

    data, marks = yamldocs.parsed(path, text, "located", data_and_marks)
    return Located(data, marks, name)


def parse(text: str, name: str) -> Located:
    node, data = _load(text, name)
    marks: dict[Path_, tuple[int, int]] = {}
    if node is not None:
        _collect(node, (), marks)
    return Located(data, marks, name)


def compose(text: str, name: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (with the start and end of every node: text can be edited in
    place) and its data."""
    return _load(text, name)


def _load(text: str, name: str) -> tuple[yaml.Node | None, Any]:
    import yaml  # here, not above: a command whose YAML is all known never imports it

    try:
        # compose once, then build the data from the same nodes (not a second parse)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = getattr(e, "problem", None) or str(e)
        raise PipelineError(f"{at}: invalid YAML: {problem}", "fix the syntax at that position") from None
    return node, data


def _collect(node: yaml.Node, path: Path_, marks: dict[Path_, tuple[int, int]]) -> None:
    import yaml

    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value
            marks[(*path, k)] = (key.start_mark.line + 1, key.start_mark.column + 1)
            _collect(value, (*path, k), marks)
            marks[(*path, k)] = (key.start_mark.line + 1, key.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect(item, (*path, i), marks)
