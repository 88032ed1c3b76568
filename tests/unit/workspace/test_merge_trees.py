"""Three-way tree merge (workspace/merge.py) on trees built in memory."""

from __future__ import annotations

import pytest
from blake3 import blake3

from cairn.errors import ObjectMissingError
from cairn.objects.tree import FILE, TREE, Entry, Tree, walk_files
from cairn.workspace.merge import (
    BOTH_ADDED,
    BOTH_MODIFIED,
    FILE_VS_FOLDER,
    MODIFY_DELETE,
    apply_edits,
    merge_trees,
)


class Objects:
    """An object store in a dict, counting the trees read."""

    def __init__(self) -> None:
        self.trees: dict[str, bytes] = {}
        self.loaded: list[str] = []

    def store(self, data: bytes, oid: str) -> None:
        assert blake3(data).hexdigest() == oid
        self.trees[oid] = data

    def load(self, oid: str) -> Tree:
        self.loaded.append(oid)
        if oid not in self.trees:
            raise ObjectMissingError(f"object {oid} is not in the cache", None, [oid])
        return Tree.from_bytes(self.trees[oid], oid)

    def build(self, spec: dict) -> str:
        """A tree from {name: bytes | (bytes, exec) | dict}."""
        entries = []
        for name, v in spec.items():
            if isinstance(v, dict):
                oid = self.build(v)
                entries.append(Entry(name, TREE, oid, sum(e.size for e in self.load(oid).entries)))
            else:
                data, exe = v if isinstance(v, tuple) else (v, False)
                entries.append(Entry(name, FILE, blake3(data).hexdigest(), len(data), exe))
        oid, data = Tree(entries).encode()
        self.trees[oid] = data
        return oid

    def files(self, oid: str) -> dict[str, tuple[str, bool]]:
        return {p: (e.oid, e.exec) for p, e in walk_files(oid, self.load)}

    def merge(self, base, ours, theirs):
        return merge_trees(base, ours, theirs, self.load, self.store)


def h(data: bytes) -> str:
    return blake3(data).hexdigest()


@pytest.fixture
def objs() -> Objects:
    return Objects()


def test_adds_on_both_sides_merge(objs):
    base = objs.build({"a": b"1", "sub": {"x": b"x"}})
    ours = objs.build({"a": b"1", "o": b"ours", "sub": {"x": b"x"}})
    theirs = objs.build({"a": b"1", "t": b"theirs", "sub": {"x": b"x", "y": b"y"}})
    m = objs.merge(base, ours, theirs)
    assert m.clean
    assert set(objs.files(m.oid)) == {"a", "o", "t", "sub/x", "sub/y"}
    assert m.files_delta == 2  # t and sub/y beyond ours
    assert m.size == sum(len(d) for d in (b"1", b"ours", b"theirs", b"x", b"y"))
    # the merged tree is what adding the merged folder would give
    assert m.oid == objs.build({"a": b"1", "o": b"ours", "t": b"theirs", "sub": {"x": b"x", "y": b"y"}})


def test_deletes_and_modifications_of_different_files_merge(objs):
    base = objs.build({"a": b"1", "b": b"2", "c": b"3"})
    ours = objs.build({"a": b"1 ours", "b": b"2", "c": b"3"})
    theirs = objs.build({"a": b"1", "c": b"3 theirs"})
    m = objs.merge(base, ours, theirs)
    assert m.clean and m.files_delta == -1
    assert objs.files(m.oid) == {"a": (h(b"1 ours"), False), "c": (h(b"3 theirs"), False)}


def test_same_bytes_on_both_sides_is_not_a_conflict(objs):
    base = objs.build({"a": b"1"})
    ours = objs.build({"a": b"2", "n": b"new"})
    theirs = objs.build({"a": b"2", "n": b"new", "t": b"t"})
    m = objs.merge(base, ours, theirs)
    assert m.clean and objs.files(m.oid)["a"] == (h(b"2"), False)


def test_identical_subtrees_are_not_loaded(objs):
    big = {f"d{i}": {f"f{j}": f"{i}-{j}".encode() for j in range(5)} for i in range(20)}
    base = objs.build(big)
    ours = objs.build({**big, "o": b"o"})
    theirs = objs.build({**big, "t": b"t"})
    objs.loaded.clear()
    m = objs.merge(base, ours, theirs)
    assert m.clean and m.written == 1
    assert sorted(objs.loaded) == sorted([base, ours, theirs])  # the 20 subtrees were never read


def test_taking_one_sides_change_in_a_big_subtree_walks_only_what_changed(objs):
    big = {f"d{i}": {f"f{j}": f"{i}-{j}".encode() for j in range(5)} for i in range(20)}
    base = objs.build({"big": big})
    ours = objs.build({"big": big, "o": b"o"})
    changed = {**big, "d3": {**big["d3"], "new": b"n"}}
    theirs = objs.build({"big": changed})
    objs.loaded.clear()
    m = objs.merge(base, ours, theirs)
    assert m.clean and m.files_delta == 1
    assert len(objs.loaded) < 10  # root trees, big on two sides, d3 on two sides


def test_executable_bits_merge_like_git(objs):
    base = objs.build({"s": (b"v1", False), "t": (b"t", False)})
    ours = objs.build({"s": (b"v1", True), "t": (b"t", True)})  # ours: chmod +x
    theirs = objs.build({"s": (b"v2", False), "t": (b"t", False)})  # theirs: edits s
    m = objs.merge(base, ours, theirs)
    assert m.clean
    assert objs.files(m.oid) == {"s": (h(b"v2"), True), "t": (h(b"t"), True)}


def test_conflicts_are_reported_with_the_three_entries(objs):
    base = objs.build({"both": b"b", "md": b"m", "ff": b"f", "keep": b"k", "sub": {"x": b"x"}})
    ours = objs.build({"both": b"b-ours", "md": b"m-ours", "ff": {"in": b"i"}, "keep": b"k", "new": b"n1"})
    theirs = objs.build({"both": b"b-theirs", "ff": b"f2", "keep": b"k", "new": b"n2", "sub": {"x": b"x2"}})
    m = objs.merge(base, ours, theirs)
    kinds = {c.path: c.kind for c in m.conflicts}
    assert kinds == {
        "both": BOTH_MODIFIED,
        "md": MODIFY_DELETE,
        "ff": FILE_VS_FOLDER,
        "new": BOTH_ADDED,
        "sub/x": MODIFY_DELETE,  # ours deleted sub, theirs changed sub/x
    }
    both = next(c for c in m.conflicts if c.path == "both")
    assert (both.base.oid, both.ours.oid, both.theirs.oid) == (h(b"b"), h(b"b-ours"), h(b"b-theirs"))
    # the clean part holds ours at each conflicting path
    files = objs.files(m.oid)
    assert files["both"][0] == h(b"b-ours") and files["md"][0] == h(b"m-ours") and "sub/x" not in files


def test_no_base_merges_distinct_adds_and_conflicts_on_same_names(objs):
    ours = objs.build({"a": b"a", "same": b"s", "clash": b"1"})
    theirs = objs.build({"b": b"b", "same": b"s", "clash": b"2"})
    m = objs.merge(None, ours, theirs)
    assert [(c.path, c.kind) for c in m.conflicts] == [("clash", BOTH_ADDED)]
    assert set(objs.files(m.oid)) == {"a", "b", "same", "clash"}


def test_a_missing_tree_raises_naming_it(objs):
    base = objs.build({"sub": {"x": b"x"}})
    ours = objs.build({"sub": {"x": b"x", "o": b"o"}})
    theirs = objs.build({"sub": {"x": b"x", "t": b"t"}})
    sub_theirs = objs.load(theirs).get("sub").oid
    del objs.trees[sub_theirs]
    with pytest.raises(ObjectMissingError) as e:
        objs.merge(base, ours, theirs)
    assert e.value.oids == [sub_theirs]


def test_apply_edits_settles_conflicts_and_creates_folders(objs):
    root = objs.build({"a": b"a", "d": {"x": b"x", "y": b"y"}})
    edits = {
        "a": Entry("a", FILE, h(b"a2"), 2),
        "d/x": None,
        "d/y": None,  # d becomes empty: dropped
        "new/deep/f": Entry("f", FILE, h(b"f"), 1),
    }
    oid, size, delta = apply_edits(root, edits, objs.load, objs.store)
    assert objs.files(oid) == {"a": (h(b"a2"), False), "new/deep/f": (h(b"f"), False)}
    assert size == 3 and delta == -1


def test_a_rename_on_one_side_is_kept_when_the_other_side_changed_the_folder(objs):
    # the merged listing has ours' length and the same contents pairwise: it is still a new tree
    base = objs.build({"a": b"1", "k": b"k"})
    ours = objs.build({"a": b"1", "k": b"k ours"})
    theirs = objs.build({"b": b"1", "k": b"k"})
    m = objs.merge(base, ours, theirs)
    assert m.clean and m.files_delta == 0
    assert objs.files(m.oid) == {"b": (h(b"1"), False), "k": (h(b"k ours"), False)}
