"""Property tests of every parser that reads what someone else wrote (a teammate's commit, a
shared remote): whatever the input, the parser returns a value that is safe to act on, or
raises its CairnError naming the file; never another exception, never a path that leaves the
repository. Each test states the rule independently of the code (an oracle) where it can."""

from __future__ import annotations

import json
import posixpath
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from blake3 import blake3
from hypothesis import given
from hypothesis import strategies as st

from cairn.errors import CorruptObjectError, PipelineError, PointerError
from cairn.index import pointer
from cairn.objects import pack
from cairn.objects.tree import Tree
from cairn.pipelines import lock, params, spec, yamlfile
from hostile.strategies import (
    GOOD_OID,
    canonical,
    damaged,
    field,
    good_names,
    mutated,
    names,
    oids,
    sizes,
    wrong_types,
)
from hostile.tally import HOSTILE, count

HEX64 = re.compile("[0-9a-f]{64}").fullmatch
MISSING = object()


def is_int(v: object) -> bool:
    return type(v) is int


def good_oid(v: object) -> bool:
    return isinstance(v, str) and bool(HEX64(v))


def stays_inside(rel: str) -> bool:
    """Independent rule for a repo-relative path cairn may write to."""
    if not rel or "\0" in rel or rel.startswith(("/", "\\")):
        return False
    parts = rel.split("/")
    return not ({"", ".", ".."} & set(parts)) and parts[0].lower() not in (".git", ".cairn")


def joined_inside(base: str, name: str) -> bool:
    return posixpath.normpath(posixpath.join(base, name)).startswith(base + "/")


# -- pointer files ----------------------------------------------------------------------------
POINTER_FIELDS = {
    "version": st.one_of(st.just(1), st.integers(-2, 3)),
    "path": names,
    "kind": st.sampled_from(["file", "tree", "link", "FILE"]),
    "oid": oids,
    "size": sizes,
    "files": sizes,
    "exec": st.booleans(),
}


@st.composite
def pointer_docs(draw) -> dict:
    good = {
        "version": 1,
        "path": draw(good_names),
        "kind": draw(st.sampled_from(["file", "tree"])),
        "oid": GOOD_OID,
        "size": draw(st.integers(0, 2**40)),
        "files": draw(st.integers(0, 10**6)),
        "exec": draw(st.booleans()),
    }
    return draw(mutated(good, POINTER_FIELDS))


def pointer_ok(doc: dict) -> bool:
    path = doc.get("path")
    return (
        set(doc) <= set(POINTER_FIELDS)
        and is_int(doc.get("version"))
        and doc["version"] == 1
        and isinstance(path, str)
        and path not in ("", ".", "..", ".git", ".cairn")
        and not any(c in path for c in "/\\\0")
        and doc.get("kind") in ("file", "tree")
        and good_oid(doc.get("oid"))
        and is_int(doc.get("size"))
        and doc["size"] >= 0
        and is_int(doc.get("files", 1))
        and doc.get("files", 1) >= 0
        and type(doc.get("exec", False)) is bool
    )


def parse_pointer(data: str | bytes, parser: str) -> pointer.Pointer | None:
    where = "team/data.cairn"
    try:
        p = pointer.parse(data, where)
    except PointerError as e:
        assert where in e.message and e.hint
        count(parser, True)
        return None
    count(parser, False)
    assert joined_inside("team", p.path), p.path
    return p


@HOSTILE
@given(pointer_docs())
def test_pointer_accepts_exactly_the_valid_documents(doc):
    p = parse_pointer(yaml.safe_dump(doc, allow_unicode=True), "pointer (documents)")
    assert (p is not None) == pointer_ok(doc), doc
    if p is not None:
        assert (p.path, p.kind, p.oid, p.size) == (doc["path"], doc["kind"], doc["oid"], doc["size"])


@HOSTILE
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_pointer_survives_any_bytes(data):
    parse_pointer(data, "pointer (any bytes)")


VALID_POINTER = pointer.Pointer("images", "tree", GOOD_OID, 12345, 10).to_yaml().encode()


@HOSTILE
@given(damaged(VALID_POINTER))
def test_pointer_survives_damage(data):
    p = parse_pointer(data, "pointer (damaged)")
    if p is not None:  # damage that still parses must still be a valid pointer
        assert good_oid(p.oid) and p.kind in ("file", "tree") and p.size >= 0


def test_pointer_refuses_a_nul_in_its_path():
    with pytest.raises(PointerError, match="holds a NUL character no file name can hold"):
        pointer.parse(f'version: 1\npath: "a\\0b"\nkind: file\noid: {GOOD_OID}\nsize: 1\n', "x.cairn")


def test_pointer_errors_quote_huge_or_nested_values_briefly():
    with pytest.raises(PointerError) as e:
        pointer.parse(f"version: 1\npath: x\nkind: file\noid: {'f' * 100000}\nsize: 1\n", "x.cairn")
    assert len(e.value.message) < 300 and "..." in e.value.message
    with pytest.raises(PointerError, match="has kind a list; expected file or tree"):
        pointer.parse(f"version: 1\npath: x\nkind: [a, b]\noid: {GOOD_OID}\nsize: 1\n", "x.cairn")
    with pytest.raises(PointerError, match="unknown keys: 1, zz"):
        pointer.parse(f"version: 1\npath: x\nkind: file\noid: {GOOD_OID}\nsize: 1\n1: a\nzz: b\n", "x.cairn")


# -- tree objects -----------------------------------------------------------------------------
ENTRY_FIELDS = {
    "name": names,
    "kind": st.sampled_from(["file", "tree", "link"]),
    "oid": oids,
    "size": sizes,
    "exec": st.booleans(),
}


@st.composite
def tree_docs(draw) -> dict:
    rows: list = []
    for _ in range(draw(st.integers(0, 4))):
        if not draw(st.integers(0, 14)):
            rows.append(draw(wrong_types))  # a row that is not an object
            continue
        good = {
            "name": draw(good_names),
            "kind": draw(st.sampled_from(["file", "tree"])),
            "oid": GOOD_OID,
            "size": draw(st.integers(0, 2**40)),
            "exec": draw(st.booleans()),
        }
        rows.append(draw(mutated(good, ENTRY_FIELDS)) if draw(st.booleans()) else good)
    if rows and not draw(st.integers(0, 5)):
        rows.append(dict(rows[0]) if isinstance(rows[0], dict) else rows[0])  # a duplicate entry
    return draw(mutated({"entries": rows, "version": 1}, {"entries": wrong_types, "version": st.integers(-1, 3)}))


def entry_ok(row: object) -> bool:
    if not isinstance(row, dict) or not set(ENTRY_FIELDS) <= set(row):
        return False
    name = row["name"]
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\0" not in name
        and row["kind"] in ("file", "tree")
        and good_oid(row["oid"])
        and is_int(row["size"])
        and row["size"] >= 0
        and type(row["exec"]) is bool
    )


def tree_ok(doc: dict) -> bool:
    rows = doc.get("entries")
    return (
        is_int(doc.get("version"))
        and doc["version"] == 1
        and isinstance(rows, list)
        and all(entry_ok(r) for r in rows)
        and len({r["name"] for r in rows}) == len(rows)
    )


def parse_tree(data: bytes, parser: str) -> Tree | None:
    try:
        t = Tree.from_bytes(data, "ab" * 32)
    except CorruptObjectError as e:
        assert "ab" * 32 in e.message and e.hint
        count(parser, True)
        return None
    count(parser, False)
    for e in t.entries:  # every name is one path component below the folder
        assert joined_inside("data", e.name) and "/" not in e.name and "\0" not in e.name
    return t


@HOSTILE
@given(tree_docs())
def test_tree_accepts_exactly_the_valid_objects(doc):
    t = parse_tree(canonical(doc), "tree (objects)")
    assert (t is not None) == tree_ok(doc), doc


@HOSTILE
@given(st.binary(max_size=300))
def test_tree_survives_any_bytes(data):
    parse_tree(data, "tree (any bytes)")


VALID_TREE = Tree.from_bytes(
    canonical(
        {
            "entries": [
                {"exec": False, "kind": "file", "name": "a.bin", "oid": GOOD_OID, "size": 3},
                {"exec": True, "kind": "tree", "name": "sub", "oid": GOOD_OID, "size": 9},
            ],
            "version": 1,
        }
    )
).to_bytes()


@HOSTILE
@given(damaged(VALID_TREE))
def test_tree_survives_damage(data):
    parse_tree(data, "tree (damaged)")


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
        (b'{"version":1,"entries":' + b"[" * 50000 + b"]" * 50000 + b"}", "nested too deeply"),
        (b'{"version":1}', "missing 'entries'"),
        (b'{"version":1,"entries":[{"name":"a"}]}', "missing 'kind'"),
        (
            b'{"version":1,"entries":[{"name":"../../evil","kind":"file","oid":"x","size":1,"exec":false}]}',
            "../../evil",
        ),
    ],
)
def test_tree_refuses_deep_or_incomplete_json(data, reason):
    with pytest.raises(CorruptObjectError, match=re.escape(reason)):
        Tree.from_bytes(data, "t")


# -- pack indexes (packs/*.idx on a remote) ---------------------------------------------------
@st.composite
def index_docs(draw) -> dict:
    rows: list = []
    for i in range(draw(st.integers(0, 4))):
        if not draw(st.integers(0, 9)):
            rows.append(draw(st.one_of(wrong_types, st.lists(st.integers(0, 9), max_size=4))))
            continue
        good = {"oid": blake3(bytes([i])).hexdigest(), "offset": draw(st.integers(0, 2**30)), "size": draw(sizes)}
        row = draw(mutated(good, {"oid": oids, "offset": sizes, "size": sizes})) if draw(st.booleans()) else good
        rows.append([row.get("oid", None), row.get("offset", None), row.get("size", None)][: len(row)])
    if rows and not draw(st.integers(0, 5)):
        rows.append(list(rows[0]) if isinstance(rows[0], list) else rows[0])
    hostile = {"objects": wrong_types, "pack": oids, "version": st.integers(-1, 3)}
    return draw(mutated({"objects": rows, "pack": GOOD_OID, "version": 1}, hostile))


def index_ok(doc: dict) -> bool:
    rows = doc.get("objects")
    return (
        is_int(doc.get("version"))
        and doc["version"] == 1
        and good_oid(doc.get("pack"))
        and isinstance(rows, list)
        and all(
            isinstance(r, list)
            and len(r) == 3
            and good_oid(r[0])
            and is_int(r[1])
            and is_int(r[2])
            and 0 <= r[1] < 2**48
            and 0 <= r[2] < 2**32
            for r in rows
        )
        and len({r[0] for r in rows}) == len(rows)
    )


def parse_index(data: bytes, parser: str):
    try:
        pid, rows = pack.parse_index(data, "packs/x.idx")
    except CorruptObjectError as e:
        assert "packs/x.idx" in e.message and e.hint
        count(parser, True)
        return None
    count(parser, False)
    assert good_oid(pid) and all(good_oid(o) and off >= 0 and size >= 0 for o, off, size in rows)
    return pid, rows


@HOSTILE
@given(index_docs())
def test_pack_index_accepts_exactly_the_valid_indexes(doc):
    assert (parse_index(canonical(doc), "pack index (documents)") is not None) == index_ok(doc), doc


@HOSTILE
@given(st.one_of(st.binary(max_size=200), damaged(pack.encode_index(GOOD_OID, [(GOOD_OID, 0, 5)]))))
def test_pack_index_survives_any_bytes(data):
    parse_index(data, "pack index (bytes)")


@pytest.mark.parametrize(
    "doc, reason",
    [
        ({"version": 1, "pack": "../../x", "objects": []}, "the pack id is not 64 lowercase hex digits"),
        ({"version": 1, "pack": GOOD_OID, "objects": [["zz", 0, 1]]}, "invalid object id 'zz'"),
        ({"version": 1, "pack": GOOD_OID, "objects": [[GOOD_OID, -5, 1]]}, "invalid offset or size"),
        ({"version": 1, "pack": GOOD_OID, "objects": [[GOOD_OID, 0, True]]}, "invalid offset or size"),
        ({"version": 1, "pack": GOOD_OID, "objects": [[GOOD_OID, 0, 1], [GOOD_OID, 1, 1]]}, "listed twice"),
        ({"version": 1, "pack": GOOD_OID, "objects": [[GOOD_OID, 0]]}, "a row is not [oid, offset, size]"),
        ({"version": 1, "pack": GOOD_OID, "objects": {}}, "`objects` is not a list"),
        ({"version": 1, "objects": []}, "missing 'pack'"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_pack_index_says_what_is_wrong(doc, reason):
    with pytest.raises(
        CorruptObjectError,
        match=re.escape("pack index packs/x.idx on the remote is damaged (") + ".*" + re.escape(reason),
    ):
        pack.parse_index(json.dumps(doc).encode(), "packs/x.idx")


def test_pack_index_refuses_unknown_versions_and_deep_nesting():
    with pytest.raises(CorruptObjectError, match="has format version True; this cairn reads 1"):
        pack.parse_index(b'{"version":true,"pack":"x","objects":[]}', "packs/x.idx")
    with pytest.raises(CorruptObjectError, match=r"damaged \(nested too deeply\)"):
        pack.parse_index(b"[" * 100000 + b"]" * 100000, "packs/x.idx")


# -- cairn.lock -------------------------------------------------------------------------------
@st.composite
def path_states(draw, path_strategy=names) -> dict:
    d = {
        "path": draw(field(path_strategy)),
        "kind": draw(field(st.sampled_from(["file", "tree"]))),
        "oid": draw(field(oids)),
        "size": draw(field(sizes)),
        "files": draw(field(sizes)),
    }
    return {k: v for k, v in d.items() if draw(st.integers(0, 24))}


@st.composite
def lock_docs(draw) -> dict:
    stages = {}
    for _ in range(draw(st.integers(0, 3))):
        body = {
            "cmd": draw(field(st.text(min_size=1, max_size=10))),
            "deps": draw(st.lists(path_states(), max_size=2)),
            "outs": draw(st.lists(path_states(), max_size=2)),
        }
        if not draw(st.integers(0, 9)):
            body[draw(st.sampled_from(["deps", "outs", "params", "cmd"]))] = draw(wrong_types)
        stages[draw(st.text(max_size=8))] = body if draw(st.integers(0, 14)) else draw(wrong_types)
    doc = {"version": draw(field(st.just(1))), "stages": stages}
    if not draw(st.integers(0, 14)):
        doc["stages"] = draw(wrong_types)
    return doc


def parse_lock(text: str, parser: str) -> dict | None:
    try:
        stages = lock.parse(text, "cairn.lock")
    except PipelineError as e:
        assert "cairn.lock" in e.message and e.hint
        count(parser, True)
        return None
    count(parser, False)
    for entry in stages.values():
        for out in entry.outs:
            assert stays_inside(out.path), out.path
            assert good_oid(out.oid) and out.kind in ("file", "tree") and out.size >= 0 and out.files >= 0
        for dep in entry.deps:
            assert "\0" not in dep.path and not dep.path.startswith("/") and ".." not in dep.path.split("/")
    return stages


@HOSTILE
@given(lock_docs())
def test_lock_never_yields_an_out_outside_the_repository(doc):
    parse_lock(yaml.safe_dump(doc, allow_unicode=True), "cairn.lock (documents)")


@HOSTILE
@given(names)
def test_lock_accepts_an_out_path_exactly_when_it_stays_inside(path):
    doc = {
        "version": 1,
        "stages": {"s": {"cmd": "x", "outs": [{"path": path, "kind": "file", "oid": GOOD_OID, "size": 1}]}},
    }
    stages = parse_lock(yaml.safe_dump(doc, allow_unicode=True), "cairn.lock (out paths)")
    assert (stages is not None) == stays_inside(path), path


@HOSTILE
@given(st.one_of(st.text(max_size=300), damaged(b"version: 1\nstages:\n  s:\n    cmd: x\n    outs:\n    - path: o\n")))
def test_lock_survives_any_text(data):
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    parse_lock(text, "cairn.lock (any text)")


def test_lock_messages_say_what_is_wrong():
    base = "version: 1\nstages:\n  s:\n    cmd: x\n"
    out = "    outs:\n    - {path: %s, kind: %s, oid: " + GOOD_OID + ", size: %s}\n"
    cases = [
        ("version: 1\nstages: [a]\n", "`stages` is not a mapping"),
        ("version: 1\nstages: {s: 3}\n", "stage 's' is not a mapping"),
        ("version: 1\nstages: {s: {cmd: 3}}\n", "the cmd of stage 's' is not a command"),
        (base + "    deps: 3\n", "`deps` is not a list"),
        (base + out % ("../../evil", "file", 1), "the path '../../evil' points outside the repository"),
        (base + out % ("/etc/x", "file", 1), "the path '/etc/x' is an absolute path"),
        (base + out % ("a//b", "file", 1), "the path 'a//b' is not a normalized path"),
        (
            base + out % ("'.git/hooks/pre-commit'", "file", 1),
            "'.git/hooks/pre-commit' is inside .git/, which git or cairn manages",
        ),
        (base + out % ('"a\\0b"', "file", 1), "the path 'a\\x00b' holds a NUL character"),
        (base + out % ("o", "link", 1), "invalid kind 'link' for o"),
        (base + out % ("o", "file", -1), "invalid size or file count for o"),
    ]
    for text, message in cases:
        with pytest.raises(PipelineError, match=re.escape("cairn.lock is damaged (") + ".*" + re.escape(message)):
            lock.parse(text, "cairn.lock")


def test_lock_that_is_not_utf8_is_named(tmp_path):
    (tmp_path / "cairn.lock").write_bytes(b"version: 1\nstages: {s: {cmd: \xff}}\n")
    with pytest.raises(PipelineError, match=r"cairn.lock is not UTF-8 text \(byte 29\)"):
        lock.read(tmp_path)


# -- cairn.yaml -------------------------------------------------------------------------------
ROOT = Path(tempfile.mkdtemp(prefix="cairn-hostile-"))  # empty: no params.yaml to interpolate


@st.composite
def pipeline_docs(draw) -> dict:
    stages = {}
    for _ in range(draw(st.integers(1, 3))):
        body: dict = {"cmd": draw(field(st.text(min_size=1, max_size=8)))}
        for key in ("deps", "outs", "metrics", "plots"):
            if draw(st.booleans()):
                body[key] = draw(st.one_of(st.lists(names, max_size=3), wrong_types))
        if draw(st.integers(0, 3)) == 0:
            body["wdir"] = draw(field(names))
        stages[draw(st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), st.text(max_size=6)))] = body
    return {"stages": stages}


@HOSTILE
@given(pipeline_docs())
def test_pipeline_never_yields_an_output_outside_the_repository(doc):
    text = yaml.safe_dump(doc, allow_unicode=True)
    try:
        pipe = spec.build(yamlfile.parse(text, "cairn.yaml"), ROOT)
    except PipelineError as e:
        assert "cairn.yaml" in e.message and e.hint
        count("cairn.yaml (documents)", True)
        return
    count("cairn.yaml (documents)", False)
    for stage in pipe.stages.values():
        for out in stage.outs:
            assert stays_inside(out.path), out.path
        for dep in stage.deps:
            assert "\0" not in dep and not dep.startswith("/") and ".." not in dep.split("/"), dep


@HOSTILE
@given(st.text(max_size=300))
def test_pipeline_survives_any_text(text):
    try:
        spec.build(yamlfile.parse(text, "cairn.yaml"), ROOT)
    except PipelineError as e:
        assert "cairn.yaml" in e.message
        count("cairn.yaml (any text)", True)
        return
    count("cairn.yaml (any text)", False)


@pytest.mark.parametrize(
    "out, message",
    [
        ("../sentinel/x", "'../sentinel/x' points outside the repository"),
        ("/etc/x", "'/etc/x' is an absolute path"),
        (".git/hooks/post-checkout", "'.git/hooks/post-checkout' is inside .git/, which git or cairn manages itself"),
        (".cairn/config.toml", "'.cairn/config.toml' is inside .cairn/, which git or cairn manages itself; an output"),
        ('"a\\0b"', "'a\\x00b' holds a NUL character, which no path can hold"),
        ("'.'", "'.' is the repository itself; an output is a file or folder inside it"),
        ("a/..", "'a/..' is the repository itself"),
    ],
)
def test_pipeline_refuses_outputs_that_would_leave_the_repository(out, message):
    text = f"stages:\n  s:\n    cmd: x\n    outs:\n    - {out}\n"
    with pytest.raises(PipelineError) as e:
        spec.build(yamlfile.parse(text, "cairn.yaml"), ROOT)
    assert "cairn.yaml:5:7: " + message in e.value.message


# -- params files -----------------------------------------------------------------------------
@HOSTILE
@given(st.sampled_from(["params.yaml", "params.json", "params.toml"]), st.text(max_size=300))
def test_params_survive_any_text(name, text):
    try:
        doc = params.parse(text, name)
    except PipelineError as e:
        assert name in e.message and e.hint
        count(f"params ({name.rpartition('.')[2]})", True)
        return
    count(f"params ({name.rpartition('.')[2]})", False)
    assert isinstance(doc, dict)
    params.flatten(doc)  # every reader flattens: it must not blow up


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=20,
)


@HOSTILE
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5), st.sampled_from(["params.yaml", "params.json"]))
def test_params_read_back_what_was_written(doc, name):
    text = json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc)
    assert params.parse(text, name) == doc
    count(f"params (round trip, {name.rpartition('.')[2]})", False)


def _bomb(levels: int, fanout: int = 9) -> str:
    keys = [f"k{i}" for i in range(fanout)]
    lines = ["l0: &l0 {" + ", ".join(f"{k}: 1" for k in keys) + "}"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} {{" + ", ".join(f"{k}: *l{i - 1}" for k in keys) + "}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["params.yaml", "cairn.lock", "cairn.yaml"])
def test_yaml_bombs_and_self_reference_are_refused_before_they_expand(name):
    def load(text: str):
        if name == "params.yaml":
            return params.parse(text, name)
        if name == "cairn.lock":
            return lock.parse(text, name)
        return yamlfile.parse(text, name)

    # 9**9 values once expanded: parsing would take hours and all memory
    with pytest.raises(PipelineError, match=r"refused: its aliases expand to more than 1,000,000 values"):
        load(_bomb(9))
    with pytest.raises(PipelineError, match="refused: an alias refers to a value that contains it"):
        load("a: &a [1, *a]\n")
    # aliases that expand a little are fine (729 values)
    assert load(("version: 1\n" if name == "cairn.lock" else "") + _bomb(3)) is not None


@pytest.mark.parametrize("name", ["params.yaml", "params.json", "params.toml", "cairn.yaml"])
def test_deep_nesting_is_refused_with_the_file_named(name):
    def text(depth: int) -> str:
        if name.endswith(".json"):
            return '{"a": ' + "[" * depth + "]" * depth + "}"
        if name.endswith(".toml"):
            return "a = " + "[" * depth + "]" * depth
        return "a: " + "[" * depth + "]" * depth

    def load(t: str):
        return yamlfile.parse(t, name) if name == "cairn.yaml" else params.parse(t, name)

    load(text(150))  # deep, but within what any reader handles
    for depth in (250, 990, 5000):
        with pytest.raises(PipelineError, match=f"{re.escape(name)}.*(nested more than 200 levels deep|invalid)"):
            load(text(depth))


def test_params_file_that_is_not_utf8_or_a_folder_is_named(tmp_path):
    (tmp_path / "params.yaml").write_bytes(b"lr: \xff\n")
    with pytest.raises(PipelineError, match=r"params file params.yaml is not UTF-8 text \(byte 4\)"):
        params.read(tmp_path / "params.yaml", "params.yaml")
    (tmp_path / "p.json").mkdir()
    with pytest.raises(PipelineError, match=r"params file p\.json is a folder"):
        params.read(tmp_path / "p.json", "p.json")
