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
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise PipelineError(f"{name} is not UTF-8 text (byte {e.start})", "save it as UTF-8") from None

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
            if node is not None:
                check_nodes(node, name)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = getattr(e, "problem", None) or str(e)
        raise PipelineError(f"{at}: invalid YAML: {problem}", "fix the syntax at that position") from None
    return node, data


# A YAML file cairn reads is a few hundred values; these bounds only stop crafted ones: nesting
# that would overflow the stack of every recursive reader, and aliases that expand a small text
# into billions of values ("billion laughs").
MAX_DEPTH = 200
MAX_EXPANDED = 1_000_000


def load_data(text: str, name: str) -> Any:
    """yaml.safe_load of `text`, refusing (PipelineError) documents nested too deeply, that
    refer to themselves, or that aliases blow up. Syntax errors raise yaml.YAMLError."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_nodes(node, name)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def check_nodes(root: yaml.Node, name: str) -> None:
    """Refuse a document whose nesting or alias expansion no real file has, before anything
    builds or walks its data. Iterative: the check itself must not overflow the stack."""
    import yaml

    expanded: dict[int, int] = {}  # id(node) -> values at and below it, aliases expanded
    open_: set[int] = set()  # nodes whose children are still being counted
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        if done:
            open_.discard(key)
            total = expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            if total > MAX_EXPANDED:
                raise _shape(node, name, f"its aliases expand to more than {MAX_EXPANDED:,} values")
            continue
        if key in expanded:
            continue
        if key in open_:
            raise _shape(node, name, "an alias refers to a value that contains it")
        if depth > MAX_DEPTH:
            raise _shape(node, name, f"values are nested more than {MAX_DEPTH} levels deep")
        open_.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)


def _shape(node: yaml.Node, name: str, why: str) -> PipelineError:
    at = f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
    return PipelineError(
        f"{at}: refused: {why}", "simplify the file there (fewer levels or aliases), or restore it from git"
    )


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
