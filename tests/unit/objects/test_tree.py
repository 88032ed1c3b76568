"""Tree objects: canonical JSON, round trips, refusal of bad input, and diff_trees, which must
equal a naive diff of the flattened folders and never load a subtree that is equal on both sides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from blake3 import blake3
from hypothesis import given, settings
from hypothesis import strategies as st

import cairn.objects.tree as tree_module
from cairn.errors import CorruptObjectError
from cairn.objects.tree import FILE, TREE, TREE_VERSION, Change, Entry, Tree, diff_trees, walk_files, walk_trees

OID_A = "a" * 64
OID_B = "b" * 64


def _entries() -> list[Entry]:
    return [
        Entry("zeta.bin", FILE, OID_A, 10, True),
        Entry("alpha", TREE, OID_B, 5),
        Entry("Beta.txt", FILE, OID_A, 10),
    ]


# -- format ---------------------------------------------------------------------------------------
def test_canonical_bytes() -> None:
    data = Tree(_entries()).to_bytes()
    assert data == (
        b'{"entries":['
        b'{"exec":false,"kind":"file","name":"Beta.txt","oid":"' + OID_A.encode() + b'","size":10},'
        b'{"exec":false,"kind":"tree","name":"alpha","oid":"' + OID_B.encode() + b'","size":5},'
        b'{"exec":true,"kind":"file","name":"zeta.bin","oid":"' + OID_A.encode() + b'","size":10}'
        b'],"version":1}'
    )
    doc = json.loads(data)
    assert doc["version"] == TREE_VERSION
    assert list(doc) == sorted(doc)
    assert all(list(e) == sorted(e) for e in doc["entries"])


def test_bytes_do_not_depend_on_entry_order() -> None:
    forward = Tree(_entries())
    backward = Tree(list(reversed(_entries())))
    assert forward.to_bytes() == backward.to_bytes()
    assert forward.encode() == backward.encode()
    assert [e.name for e in forward.entries] == ["Beta.txt", "alpha", "zeta.bin"]


def test_encode_id_is_blake3_of_the_bytes() -> None:
    oid, data = Tree(_entries()).encode()
    assert oid == blake3(data).hexdigest()


def test_non_ascii_names_are_utf8_and_sorted_by_code_point() -> None:
    tree = Tree([Entry("é", FILE, OID_A, 1), Entry("z", FILE, OID_A, 1), Entry("日本", FILE, OID_A, 1)])
    data = tree.to_bytes()
    assert "é".encode() in data and "日本".encode() in data  # not \\u escapes
    # code point order equals the UTF-8 byte order that independent tools sort by
    names = [e.name for e in tree.entries]
    assert names == ["z", "é", "日本"]
    assert [n.encode() for n in names] == sorted(n.encode() for n in names)


def test_round_trip() -> None:
    tree = Tree(_entries())
    back = Tree.from_bytes(tree.to_bytes())
    assert back.entries == tree.entries
    assert back.to_bytes() == tree.to_bytes()
    assert back.get("alpha") == Entry("alpha", TREE, OID_B, 5)
    assert back.get("missing") is None


def test_empty_tree_round_trip() -> None:
    tree = Tree([])
    assert tree.to_bytes() == b'{"entries":[],"version":1}'
    assert Tree.from_bytes(tree.to_bytes()).entries == ()


@pytest.mark.parametrize("version", [2, 0, None, "1"])
def test_unknown_version_is_refused(version: object) -> None:
    doc = {"entries": [], "version": version} if version is not None else {"entries": []}
    with pytest.raises(CorruptObjectError) as e:
        Tree.from_bytes(json.dumps(doc).encode(), "cafe")
    assert "cafe" in e.value.message
    assert f"format version {version!r}" in e.value.message
    assert e.value.hint == "upgrade cairn"


def test_boolean_version_is_refused() -> None:
    with pytest.raises(CorruptObjectError):
        Tree.from_bytes(b'{"entries":[],"version":true}')


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"\xff\xfe binary",
        b"[1, 2]",
        b'"a string"',
        b'{"version": 1}',
        b'{"version": 1, "entries": 5}',
        b'{"version": 1, "entries": [{"name": "x"}]}',
        b'{"version": 1, "entries": [5]}',
    ],
)
def test_corrupt_bytes_raise_corrupt_object_error(data: bytes) -> None:
    with pytest.raises(CorruptObjectError) as e:
        Tree.from_bytes(data, "beef")
    assert "beef" in e.value.message
    assert "cairn fsck" in (e.value.hint or "")


def test_every_truncation_of_a_tree_is_refused() -> None:
    data = Tree(_entries()).to_bytes()
    for n in range(len(data)):
        with pytest.raises(CorruptObjectError):
            Tree.from_bytes(data[:n])


def _tree_doc(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"version": 1, "entries": list(entries)}).encode()


def _e(name: Any = "x", kind: Any = FILE, oid: Any = OID_A, size: Any = 1, exec: Any = False) -> dict[str, Any]:
    return {"name": name, "kind": kind, "oid": oid, "size": size, "exec": exec}


@pytest.mark.parametrize(
    "data",
    [
        _tree_doc(_e(name="../escape")),
        _tree_doc(_e(name="a/b")),
        _tree_doc(_e(name="..")),
        _tree_doc(_e(name="")),
        _tree_doc(_e(name="x"), _e(name="x", oid=OID_B)),
        _tree_doc(_e(kind="blob")),
        _tree_doc(_e(oid="not-an-oid")),
        _tree_doc(_e(size=-1)),
        _tree_doc(_e(name=1), _e(name="a")),
    ],
    ids=["dotdot-name", "slash-name", "dotdot", "empty-name", "duplicate", "kind", "oid", "size", "int-name"],
)
def test_invalid_entries_are_refused(data: bytes) -> None:
    with pytest.raises(CorruptObjectError):
        Tree.from_bytes(data, "bad")


@pytest.mark.parametrize(
    "bad",
    [
        _e(name="a\0b"),
        _e(name="."),
        _e(name=["x"]),
        _e(kind=["file"]),
        _e(oid="A" * 64),
        _e(oid="a" * 63),
        _e(oid="a" * 65),
        _e(oid="a" * 32 + "\n" + "a" * 31),
        _e(oid="é" * 64),
        _e(oid=None),
        _e(size=True),
        _e(size=1.0),
        _e(exec=1),
        _e(exec="false"),
        {"name": "x", "kind": FILE, "oid": OID_A, "size": 1},
        ["x", FILE, OID_A, 1, False],
        "x",
    ],
)
@pytest.mark.parametrize("at", [0, 500, 999])
def test_one_bad_row_among_many_is_refused_with_its_own_message(bad: Any, at: int) -> None:
    # big trees are checked column by column; the message must still be the first bad row's
    rows: list[Any] = [_e(name=f"f{i:04d}", oid=OID_B) for i in range(999)]
    rows.insert(at, bad)
    with pytest.raises(CorruptObjectError) as many:
        Tree.from_bytes(_tree_doc(*rows), "bad")
    with pytest.raises(CorruptObjectError) as alone:
        Tree.from_bytes(_tree_doc(bad), "bad")
    assert many.value.message == alone.value.message


def test_many_valid_rows_parse_to_the_same_entries() -> None:
    entries = [Entry(f"n{i:04d}", TREE if i % 7 == 0 else FILE, f"{i:064x}", i, i % 3 == 0) for i in range(1000)]
    back = Tree.from_bytes(Tree(list(reversed(entries))).to_bytes())
    assert back.entries == tuple(entries)
    assert back.get("n0007") == Entry("n0007", TREE, f"{7:064x}", 7, False)


# -- diff_trees against a naive diff ------------------------------------------------------------
Folder = dict[str, Any]  # name -> (content, exec) for files, or a nested Folder


class MemTrees:
    """Builds tree objects for nested dicts; a loader that records what it loads."""

    def __init__(self) -> None:
        self.trees: dict[str, Tree] = {}
        self.loaded: list[str] = []

    def build(self, folder: Folder) -> str:
        return self._build(folder)[0]

    def _build(self, folder: Folder) -> tuple[str, int]:
        entries, total = [], 0
        for name, value in folder.items():
            if isinstance(value, dict):
                oid, size = self._build(value)
                entries.append(Entry(name, TREE, oid, size))
            else:
                content, exe = value
                oid, size = blake3(content).hexdigest(), len(content)
                entries.append(Entry(name, FILE, oid, size, exe))
            total += size
        oid, _ = Tree(entries).encode()
        self.trees[oid] = Tree(entries)
        return oid, total

    def load(self, oid: str) -> Tree:
        self.loaded.append(oid)
        return self.trees[oid]


def flatten(folder: Folder, prefix: str = "") -> dict[str, tuple[str, bool]]:
    out = {}
    for name, value in folder.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{name}/"))
        else:
            out[prefix + name] = (blake3(value[0]).hexdigest(), value[1])
    return out


def tree_ids_by_path(folder: Folder, trees: MemTrees, prefix: str = "") -> dict[str, str]:
    """path of every folder (root: "") -> its tree id."""
    out = {prefix.rstrip("/"): trees.build(folder)}
    for name, value in folder.items():
        if isinstance(value, dict):
            out.update(tree_ids_by_path(value, trees, f"{prefix}{name}/"))
    return out


def naive_diff(a: Folder, b: Folder) -> set[tuple[str, str, str | None, str | None]]:
    fa, fb = flatten(a), flatten(b)
    out = set()
    for path in fa.keys() | fb.keys():
        x, y = fa.get(path), fb.get(path)
        if x == y:
            continue
        status = "added" if x is None else "deleted" if y is None else "modified"
        out.add((path, status, x[0] if x else None, y[0] if y else None))
    return out


def as_set(changes: Iterator[Change]) -> set[tuple[str, str, str | None, str | None]]:
    out = set()
    for ch in changes:
        out.add((ch.path, ch.status, ch.old.oid if ch.old else None, ch.new.oid if ch.new else None))
    return out


# A small alphabet, so that the two sides share names, files and whole subtrees often.
names = st.sampled_from(["a", "b", "c", "d.txt", "é"])
files = st.tuples(st.sampled_from([b"", b"1", b"2", b"22"]), st.booleans())
folders = st.recursive(
    st.dictionaries(names, files, max_size=4),
    lambda inner: st.dictionaries(names, st.one_of(files, inner), max_size=4),
    max_leaves=20,
)


def _mutate(folder: Folder, data: st.DataObject) -> Folder:
    """B derived from A: mostly the same, so equal subtrees are common."""
    out: Folder = {}
    for name, value in folder.items():
        roll = data.draw(st.integers(0, 9))
        if roll == 0:
            continue  # deleted
        if roll == 1:
            out[name] = data.draw(st.one_of(files, folders))  # replaced, maybe by another kind
        elif isinstance(value, dict) and roll <= 4:
            out[name] = _mutate(value, data)
        else:
            out[name] = value
    if data.draw(st.booleans()):
        out[data.draw(names)] = data.draw(st.one_of(files, folders))
    return out


def _check_diff(a: Folder, b: Folder) -> None:
    trees = MemTrees()
    ra, rb = trees.build(a), trees.build(b)
    trees.loaded.clear()
    got = list(diff_trees(ra, rb, trees.load))
    assert as_set(iter(got)) == naive_diff(a, b)
    assert len(got) == len(as_set(iter(got)))  # no change reported twice

    # Never load a subtree whose id is the same on both sides at that path (unless the same
    # id also sits at a path where the two sides differ).
    ids_a, ids_b = tree_ids_by_path(a, trees), tree_ids_by_path(b, trees)
    differing = {ids_a.get(p) for p in ids_a.keys() | ids_b.keys() if ids_a.get(p) != ids_b.get(p)}
    differing |= {ids_b.get(p) for p in ids_a.keys() | ids_b.keys() if ids_a.get(p) != ids_b.get(p)}
    assert set(trees.loaded) <= differing - {None}


@settings(max_examples=150, deadline=None)
@given(folders, folders)
def test_diff_trees_equals_naive_diff_of_unrelated_folders(a: Folder, b: Folder) -> None:
    _check_diff(a, b)


@settings(max_examples=150, deadline=None)
@given(folders, st.data())
def test_diff_trees_equals_naive_diff_of_related_folders(a: Folder, data: st.DataObject) -> None:
    _check_diff(a, _mutate(a, data))


def test_diff_of_identical_trees_loads_nothing() -> None:
    trees = MemTrees()
    root = trees.build({"a": {"b": (b"1", False)}})
    trees.loaded.clear()
    assert list(diff_trees(root, root, trees.load)) == []
    assert trees.loaded == []


def test_equal_subtree_is_never_loaded() -> None:
    big = {f"f{i}": (str(i).encode(), False) for i in range(50)}
    a = {"shared": {"deep": big}, "x": (b"1", False)}
    b = {"shared": {"deep": big}, "x": (b"2", False)}
    trees = MemTrees()
    ra, rb = trees.build(a), trees.build(b)
    shared = trees.trees[ra].get("shared")
    assert shared is not None

    def load(oid: str) -> Tree:
        assert oid != shared.oid, "the subtree equal on both sides was loaded"
        return trees.trees[oid]

    changes = list(diff_trees(ra, rb, load, prefix="data/"))
    assert [(c.path, c.status) for c in changes] == [("data/x", "modified")]


def test_kind_changes_and_exec_bit() -> None:
    a = {"p": (b"file", False), "q": {"inner": (b"1", False)}, "r": (b"same", False)}
    b = {"p": {"now": (b"a folder", False)}, "q": (b"now a file", False), "r": (b"same", True)}
    trees = MemTrees()
    got = {(c.path, c.status) for c in diff_trees(trees.build(a), trees.build(b), trees.load)}
    assert got == {
        ("p", "deleted"),
        ("p/now", "added"),
        ("q/inner", "deleted"),
        ("q", "added"),
        ("r", "modified"),  # only the executable bit changed
    }


def test_diff_against_nothing() -> None:
    trees = MemTrees()
    root = trees.build({"a": (b"1", False), "d": {"b": (b"2", True)}})
    assert {(c.path, c.status) for c in diff_trees(None, root, trees.load)} == {("a", "added"), ("d/b", "added")}
    assert {(c.path, c.status) for c in diff_trees(root, None, trees.load)} == {("a", "deleted"), ("d/b", "deleted")}
    assert list(diff_trees(None, None, trees.load)) == []


def test_walk_files_and_trees() -> None:
    trees = MemTrees()
    folder = {"a": (b"1", False), "d": {"b": (b"2", True), "e": {"c": (b"3", False)}}}
    root = trees.build(folder)
    files = {path: e.oid for path, e in walk_files(root, trees.load, "data/")}
    assert files == {f"data/{p}": oid for p, (oid, _) in flatten(folder).items()}
    assert len(list(walk_trees(root, trees.load))) == 3


# -- the hand-written encoder snapshots use must give the same bytes (and so the same ids) -------
# what a POSIX file name can be: no NUL, no "/", not "." or ".."
tree_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"), min_size=1, max_size=12
).filter(lambda n: n not in (".", ".."))
rows = st.dictionaries(
    tree_names,
    st.tuples(
        st.sampled_from([FILE, TREE]), st.text("0123456789abcdef", min_size=64, max_size=64), st.integers(0, 2**62)
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(rows, st.lists(st.booleans(), min_size=8, max_size=8))
def test_encode_rows_equals_to_bytes(by_name: dict[str, tuple[str, str, int]], execs: list[bool]) -> None:
    encode_rows = getattr(tree_module, "encode_rows", None)
    if encode_rows is None:
        pytest.skip("tree.encode_rows is gone")
    entries = [
        Entry(name, kind, oid, size, execs[i] and kind == FILE)
        for i, (name, (kind, oid, size)) in enumerate(by_name.items())
    ]
    tree = Tree(list(entries))
    sorted_rows = [(e.name, e.kind, e.oid, e.size, e.exec) for e in tree.entries]
    assert encode_rows(sorted_rows) == tree.to_bytes()
    assert Tree.from_bytes(tree.to_bytes()).entries == tree.entries
