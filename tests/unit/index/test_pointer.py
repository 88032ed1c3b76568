"""Pointer files: the YAML committed to git for each tracked path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.errors import PointerError
from cairn.index import pointer as ptr
from cairn.index.pointer import POINTER_VERSION, Pointer, parse

OID = "0123456789abcdef" * 4


def _text(**overrides: object) -> str:
    doc: dict[str, object] = {"version": 1, "path": "data", "kind": "tree", "oid": OID, "size": 10, "files": 2}
    doc.update(overrides)
    return yaml.safe_dump({k: v for k, v in doc.items() if v is not ...}, sort_keys=False)


def test_dump_has_stable_key_order_and_content() -> None:
    text = Pointer("images", "tree", OID, 1234, 56).to_yaml()
    assert text == f"version: 1\npath: images\nkind: tree\noid: {OID}\nsize: 1234\nfiles: 56\n"
    exe = Pointer("run.sh", "file", OID, 3, 1, exec=True, follow_symlinks=True).to_yaml()
    assert exe.splitlines()[-2:] == ["exec: true", "follow_symlinks: true"]
    assert [line.split(":")[0] for line in exe.splitlines()] == list(ptr._KEYS)


def test_parse_accepts_bytes_and_text() -> None:
    p = Pointer("images", "tree", OID, 1234, 56)
    assert parse(p.to_yaml(), "x") == p
    assert parse(p.to_yaml().encode(), "x") == p


def test_files_defaults_to_one() -> None:
    assert parse(_text(kind="file", files=...), "x").files == 1


# Names a user can give a file or folder: anything but separators and NUL; never "." or "..",
# nor the folders git and cairn keep for themselves (a pointer at those is refused).
file_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"), min_size=1, max_size=40
).filter(lambda s: s not in (".", "..", ".git", ".cairn"))


@settings(max_examples=200, deadline=None)
@given(
    name=file_names,
    kind=st.sampled_from(["file", "tree"]),
    oid=st.text("0123456789abcdef", min_size=64, max_size=64),
    size=st.integers(0, 2**63),
    files=st.integers(0, 2**40),
    exe=st.booleans(),
    follow=st.booleans(),
)
def test_round_trip(name: str, kind: str, oid: str, size: int, files: int, exe: bool, follow: bool) -> None:
    p = Pointer(name, kind, oid, size, files, exe, follow)
    text = p.to_yaml()
    assert parse(text, "x.cairn") == p
    assert parse(text, "x.cairn").to_yaml() == text  # stable: dumping again changes nothing


plain_names = st.text("abcXYZ_019.-", min_size=1, max_size=12) | st.sampled_from(["yes", "No", "ON", "null", "x1"])


@settings(max_examples=200, deadline=None)
@given(
    name=plain_names | file_names,
    oid=st.text("0123456789abcdef", min_size=64, max_size=64) | st.text("01234567", min_size=64, max_size=64),
    size=st.integers(0, 2**63),
    exe=st.booleans(),
    follow=st.booleans(),
)
def test_written_text_is_what_pyyaml_writes(name: str, oid: str, size: int, exe: bool, follow: bool) -> None:
    p = Pointer(name, "file", oid, size, 1, exe, follow)
    doc = {"version": 1, "path": name, "kind": "file", "oid": oid, "size": size, "files": 1}
    if exe:
        doc["exec"] = True
    if follow:
        doc["follow_symlinks"] = True
    assert p.to_yaml() == yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


pointer_lines = st.sampled_from(
    [
        "version: 1",
        "version: 01",
        "version: 2",
        "path: data",
        "path: yes",
        "path: 12",
        "path: a b",
        "path: 'q'",
        "kind: tree",
        "kind: file",
        "kind: blob",
        f"oid: {OID}",
        f"oid: {'1' * 64}",
        f"oid: {'0' * 63}7",
        "size: 0",
        "size: 010",
        "size: 1_000",
        "size: 0x10",
        "files: 3",
        "exec: true",
        "exec: false",
        "follow_symlinks: true",
        "follow_symlinks: no",
        "path:data",
        "size:  5",
        "# comment",
        "path: data # note",
        "- x",
        "oid: ",
        "path: é",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(pointer_lines, max_size=9), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_fast_reader_agrees_with_pyyaml(lines: list[str], newline: str, as_bytes: bool) -> None:
    text = newline.join(lines) + newline
    fast = ptr._fast_load(text.encode() if as_bytes else text)
    if fast is not None:
        assert fast == yaml.safe_load(text)


@pytest.mark.parametrize("name", ["true", "null", "123", "1e3", "0o17", "~", "- x", "a: b", "#x", "yes", "'q'"])
def test_names_that_look_like_other_yaml_values_stay_strings(name: str) -> None:
    assert parse(Pointer(name, "file", OID, 1, 1).to_yaml(), "x").path == name


def test_broken_yaml_names_line_and_column() -> None:
    text = "version: 1\npath: data\nkind: [tree\noid: x\n"
    with pytest.raises(PointerError) as e:
        parse(text, "data.cairn")
    assert "data.cairn is not valid YAML at line" in e.value.message
    assert "column" in e.value.message
    assert "git checkout -- data.cairn" in (e.value.hint or "")


def test_broken_yaml_points_at_the_right_line() -> None:
    text = "version: 1\npath: data\nkind: tree\noid: : :\n  bad: indent\n"
    with pytest.raises(PointerError, match=r"at line [45], column \d+"):
        parse(text, "p.cairn")


@pytest.mark.parametrize("text", ["", "just a string", "- a\n- b\n", "42"])
def test_not_a_mapping(text: str) -> None:
    with pytest.raises(PointerError, match="is not a mapping of keys to values"):
        parse(text, "p.cairn")


@pytest.mark.parametrize("version", [2, 0, "1", None, ...])
def test_unknown_version(version: object) -> None:
    with pytest.raises(PointerError) as e:
        parse(_text(version=version), "p.cairn")
    assert f"has format version {version if version is not ... else None!r}" in e.value.message
    assert f"understands version {POINTER_VERSION}" in e.value.message
    assert "upgrade cairn" in (e.value.hint or "")


def test_unknown_keys_are_named() -> None:
    with pytest.raises(PointerError, match="has unknown keys: md5, remote"):
        parse(_text(md5="x", remote="y"), "p.cairn")


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../b", "..", "\\windows", "./../x", "a/b/../../.."])
def test_paths_outside_are_refused(path: str) -> None:
    with pytest.raises(PointerError) as e:
        parse(_text(path=path), "sub/p.cairn")
    assert "sub/p.cairn" in e.value.message
    assert "points outside the repository" in e.value.message or "must name the file or folder beside it" in (
        e.value.message
    )


@pytest.mark.parametrize("path", ["a/b", ".", "a/..", "x\\y"])
def test_paths_not_beside_the_pointer_are_refused(path: str) -> None:
    with pytest.raises(PointerError, match="must name the file or folder beside it"):
        parse(_text(path=path), "p.cairn")


@pytest.mark.parametrize("path", [None, "", 5, ["a"]])
def test_missing_path(path: object) -> None:
    with pytest.raises(PointerError):
        parse(_text(path=path), "p.cairn")


@pytest.mark.parametrize("oid", ["", "abc", "A" * 64, "g" * 64, None, 12, OID + "0"])
def test_invalid_oid(oid: object) -> None:
    with pytest.raises(PointerError, match="has an invalid oid"):
        parse(_text(oid=oid), "p.cairn")


@pytest.mark.parametrize("oid", ["0x" + "a" * 62, "a_" + "a" * 62, "-" + "a" * 63])
def test_oids_int_would_parse_are_refused(oid: str) -> None:
    with pytest.raises(PointerError, match="has an invalid oid"):
        parse(_text(oid=oid), "p.cairn")


@pytest.mark.parametrize("kind", ["blob", None, 1, "FILE"])
def test_invalid_kind(kind: object) -> None:
    with pytest.raises(PointerError, match="expected file or tree"):
        parse(_text(kind=kind), "p.cairn")


@pytest.mark.parametrize("field,value", [("size", -1), ("size", "10"), ("size", None), ("files", -3), ("files", 1.5)])
def test_invalid_size_or_count(field: str, value: object) -> None:
    with pytest.raises(PointerError, match="invalid size or file count"):
        parse(_text(**{field: value}), "p.cairn")


@pytest.mark.parametrize(
    "overrides",
    [{"size": True}, {"files": False}, {"version": True}, {"exec": "false"}, {"exec": 0.5}, {"follow_symlinks": 1}],
    ids=["size-true", "files-false", "version-true", "exec-string", "exec-float", "follow-int"],
)
def test_wrongly_typed_values_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(PointerError):
        parse(_text(**overrides), "p.cairn")


def test_follow_symlinks_must_be_a_boolean() -> None:
    with pytest.raises(PointerError, match=r"has `follow_symlinks: 'yes please'`; it must be true or false"):
        parse(_text(follow_symlinks="yes please"), "p.cairn")


# -- files -------------------------------------------------------------------------------------
def test_save_and_load(tmp_path: Path) -> None:
    pfile = tmp_path / "data.cairn"
    p = Pointer("data", "tree", OID, 10, 2)
    ptr.save(pfile, p)
    assert ptr.load(pfile) == p
    assert pfile.read_text() == p.to_yaml()
    assert sorted(os.listdir(tmp_path)) == ["data.cairn"]  # no temp file left


def test_save_replaces_atomically(tmp_path: Path) -> None:
    pfile = tmp_path / "data.cairn"
    ptr.save(pfile, Pointer("data", "tree", OID, 10, 2))
    old_inode = pfile.stat().st_ino
    with open(pfile, "rb") as reader:  # a reader holding the old file keeps seeing it whole
        new = Pointer("data", "tree", "f" * 64, 11, 3)
        ptr.save(pfile, new)
        assert parse(reader.read(), "old") == Pointer("data", "tree", OID, 10, 2)
    assert ptr.load(pfile) == new
    assert pfile.stat().st_ino != old_inode  # renamed into place, not rewritten in place
    assert sorted(os.listdir(tmp_path)) == ["data.cairn"]


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    pfile = tmp_path / "broken.cairn"
    pfile.write_text("version: 1\npath: [\n")
    with pytest.raises(PointerError, match=r"broken\.cairn is not valid YAML"):
        ptr.load(pfile)


def test_path_helpers(tmp_path: Path) -> None:
    data = tmp_path / "sub" / "images"
    pfile = ptr.pointer_file_for(data)
    assert pfile == tmp_path / "sub" / "images.cairn"
    assert ptr.data_path_for(pfile, Pointer("images", "tree", OID, 0, 0)) == data
