"""The local index of a remote (cairn.remotes.index): what invalidates the root sets a push
trusts, and how damaged copies stay listed but stop counting as held."""

from __future__ import annotations

import pytest

from cairn.remotes.index import RemoteIndex

A, B, C = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def index(tmp_path):
    idx = RemoteIndex(tmp_path / "state" / "remote.db")
    yield idx
    idx.close()


def test_generation_and_complete_root_sets_persist(tmp_path):
    path = tmp_path / "remote.db"
    idx = RemoteIndex(path)
    idx.set_generation("g1")
    idx.set_complete("roots", 3)
    idx.close()
    idx = RemoteIndex(path)
    assert (idx.generation(), idx.complete("roots"), idx.complete("other")) == ("g1", 3, None)
    idx.clear()
    assert (idx.generation(), idx.complete("roots")) == (None, None)
    idx.close()


@pytest.mark.parametrize(
    "loses",
    [
        lambda i: i.drop_packs(["p1"]),
        lambda i: i.forget([A]),
        lambda i: i.set_loose({}),  # the loose object C is gone from the listing
        lambda i: i.mark_damaged([B]),
    ],
    ids=["pack dropped", "object forgotten", "loose object gone", "copy found damaged"],
)
def test_anything_the_index_loses_forgets_the_complete_root_sets(index, loses):
    index.add_pack("p1", 100, [(A, 0, 10), (B, 10, 5)])
    index.add_loose(C, 7)
    index.set_complete("roots", 3)
    loses(index)
    assert index.complete("roots") is None


def test_what_only_adds_keeps_the_complete_root_sets(index):
    index.add_pack("p1", 100, [(A, 0, 10)])
    index.set_complete("roots", 1)
    index.add_pack("p2", 100, [(B, 0, 10)])
    index.add_loose(C, 7)
    index.set_loose({C: 7, "d" * 64: 1})
    index.drop_packs([])
    assert index.complete("roots") == 1


def test_a_damaged_copy_stays_listed_but_is_not_held(index):
    index.add_pack("p1", 100, [(A, 0, 10), (B, 10, 5)])
    index.mark_damaged([A])
    assert index.all_oids() == {B}
    assert index.locate([A]) == {A: ("p1", 0, 10)}  # a fetch tries it again
    assert index.damaged() == {A: "p1"}
    index.mark_good([A])  # read intact after all (repaired in place)
    assert index.all_oids() == {A, B}


def test_a_good_copy_replaces_a_damaged_one(index):
    index.add_pack("p1", 100, [(A, 0, 10), (B, 10, 5)])
    index.add_pack("p2", 100, [(A, 0, 10)])  # a second copy: the first location is kept
    assert index.locate([A]) == {A: ("p1", 0, 10)}
    index.mark_damaged([A])
    index.add_pack("p3", 50, [(A, 40, 10)])  # a push sent a good copy
    assert index.locate([A]) == {A: ("p3", 40, 10)}
    assert index.all_oids() == {A, B} and index.damaged() == {}


def test_a_damaged_loose_copy_overwritten_by_a_push(index):
    index.add_loose(C, 7)
    index.mark_damaged([C])
    assert index.damaged() == {C: None} and C not in index.all_oids()
    index.add_loose(C, 7)
    assert C in index.all_oids() and index.damaged() == {}


def test_dropping_a_pack_drops_its_damaged_marks(index):
    index.add_pack("p1", 100, [(A, 0, 10)])
    index.mark_damaged([A])
    index.drop_packs(["p1"])
    assert index.damaged() == {} and index.locate([A]) == {}


def test_damaged_marks_survive_reading_the_index_anew_where_the_copy_still_is(index):
    index.add_pack("p1", 100, [(A, 0, 10), (B, 10, 5)])
    index.add_loose(C, 7)
    index.mark_damaged([A, B, C])
    saved = index.damaged()
    index.clear()
    index.add_pack("p1", 100, [(A, 0, 10)])  # A is still in p1
    index.add_pack("p2", 100, [(B, 0, 5)])  # B was repacked: a new copy
    index.add_loose(C, 7)
    index.restore_damaged(saved)
    assert index.damaged() == {A: "p1", C: None}


def _first_format(path, generation="g1"):
    """An index as cairn wrote it before version 2: 64-hex text keys, the pack's id per row."""
    import sqlite3

    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE objects (oid TEXT PRIMARY KEY, pack TEXT, off INTEGER, size INTEGER) WITHOUT ROWID;
        CREATE TABLE packs (id TEXT PRIMARY KEY, size INTEGER) WITHOUT ROWID;
        CREATE INDEX objects_pack ON objects (pack);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
        CREATE TABLE complete (roots TEXT PRIMARY KEY, objects INTEGER) WITHOUT ROWID;
        CREATE TABLE damaged (oid TEXT PRIMARY KEY, pack TEXT) WITHOUT ROWID;
        CREATE TABLE recorded (key TEXT PRIMARY KEY, generation TEXT) WITHOUT ROWID;
        """
    )
    db.execute("INSERT INTO objects VALUES (?, 'p1', 0, 10)", (A,))
    db.execute("INSERT INTO packs VALUES ('p1', 100)")
    db.execute("INSERT INTO meta VALUES ('generation', ?)", (generation,))
    db.execute("INSERT INTO complete VALUES ('roots', 1)")
    db.execute("INSERT INTO damaged VALUES (?, 'p1')", (B,))
    db.execute("INSERT INTO recorded VALUES ('marker', ?)", (generation,))
    db.commit()
    db.close()


def test_an_index_of_the_first_format_is_listed_again(tmp_path):
    """Its locations are dropped (a refresh lists them again) and with them the generation and
    the complete root sets a push would trust; what only this clone knows is kept."""
    path = tmp_path / "remote.db"
    _first_format(path)
    idx = RemoteIndex(path)
    assert (idx.all_oids(), idx.packs(), idx.generation(), idx.complete("roots")) == (set(), {}, None, None)
    assert idx.damaged() == {B: "p1"}
    idx.set_generation("g1")
    assert idx.recorded("marker")
    idx.add_pack("p1", 100, [(A, 0, 10), (B, 10, 5)])
    assert idx.locate([A, B]) == {A: ("p1", 0, 10), B: ("p1", 10, 5)}
    assert idx.all_oids() == {A}  # B is still the copy a fetch found damaged
    idx.close()
    idx = RemoteIndex(path)  # the second open upgrades nothing
    assert idx.all_oids() == {A}
    idx.close()


def test_an_index_of_an_unknown_version_is_listed_again(tmp_path):
    import sqlite3

    path = tmp_path / "remote.db"
    idx = RemoteIndex(path)
    idx.add_pack("p1", 100, [(A, 0, 10)])
    idx.set_generation("g1")
    idx.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")  # written by a newer cairn
    db.close()
    idx = RemoteIndex(path)
    assert (idx.all_oids(), idx.generation()) == (set(), None)
    idx.close()


def test_names_in_the_loose_listing_that_are_no_object_ids_are_not_objects(index):
    index.set_loose({C: 7, "README": 3, "X" * 64: 1})
    assert index.all_oids() == {C}


@pytest.mark.parametrize("lookups", [True, False], ids=["by key", "one scan"])
def test_locate_finds_packed_and_loose_objects(index, monkeypatch, lookups):
    import cairn.remotes.index as mod

    if not lookups:
        monkeypatch.setattr(mod, "_LOOKUPS", 0)
    index.add_pack("p1", 100, [(A, 0, 10)])
    index.add_pack("p2", 100, [(B, 20, 5)])
    index.add_loose(C, 7)
    assert index.locate([A, B, C, "d" * 64]) == {A: ("p1", 0, 10), B: ("p2", 20, 5), C: (None, 0, 7)}


def test_packs_by_number_keep_their_own_rows(index):
    index.add_pack("p1", 100, [(A, 0, 10), (B, 10, 5)])
    index.add_pack("p2", 50, [(C, 0, 7)])
    index.add_pack("p1", 120, [(A, 0, 10)])  # listed again: its size is updated, its rows kept
    assert index.packs() == {"p1": 120, "p2": 50}
    assert sorted(index.pack_rows("p1")) == [(A, 0, 10), (B, 10, 5)] and index.pack_rows("p2") == [(C, 0, 7)]
    index.drop_packs(["p1"])
    assert index.all_oids() == {C} and index.packs() == {"p2": 50}


def _ids(n: int, salt: str) -> list[str]:
    from blake3 import blake3

    return [blake3(f"{salt}{i}".encode()).hexdigest() for i in range(n)]


@pytest.mark.parametrize("path", ["by key", "many keys a statement", "one scan"])
def test_locate_of_many_objects_finds_each_where_it_is(index, monkeypatch, path):
    import cairn.remotes.index as mod

    if path == "one scan":
        monkeypatch.setattr(mod, "_LOOKUPS", 0)
    packed1, packed2, loose, absent = _ids(700, "a"), _ids(600, "b"), _ids(30, "c"), _ids(50, "d")
    index.add_pack("p1", 10**6, [(o, i * 10, 10) for i, o in enumerate(packed1)])
    index.add_pack("p2", 10**6, [(o, i * 7, 7) for i, o in enumerate(packed2)])
    index.set_loose({o: 3 for o in loose})
    want = {**{o: ("p1", i * 10, 10) for i, o in enumerate(packed1)}}
    want.update({o: ("p2", i * 7, 7) for i, o in enumerate(packed2)})
    want.update({o: (None, 0, 3) for o in loose})
    asked = [*packed1, *packed2, *loose, *absent]
    if path == "by key":
        asked = asked[::40]  # a few: one statement each
        want = {o: want[o] for o in asked if o in want}
    assert index.locate(asked) == want


@pytest.mark.parametrize("bulk", [True, False], ids=["sorted bulk insert", "pack by pack"])
def test_packs_sent_together_keep_an_objects_first_location(index, bulk):
    """A push's packs go into the index in one sorted insert (many rows) or pack by pack: the
    same rows either way, and an object in two packs keeps the location listed first."""
    index.BULK = 0 if bulk else 10**9
    first, second = _ids(300, "x"), _ids(200, "y")
    both = first[:50]  # also in the second pack
    index.add_sent(
        [
            ("p1", 10**6, sorted((o, i * 10, 10) for i, o in enumerate(first))),
            ("p2", 10**6, sorted((o, 5000 + i, 1) for i, o in enumerate(second + both))),
        ],
        [(C, 7)],
    )
    where = index.locate([*first, *second, C])
    assert {o: where[o] for o in first} == {o: ("p1", i * 10, 10) for i, o in enumerate(first)}
    assert {o: where[o] for o in second} == {o: ("p2", 5000 + i, 1) for i, o in enumerate(second)}
    assert where[C] == (None, 0, 7)
    assert len(index.pack_rows("p1")) == 300 and len(index.pack_rows("p2")) == 200
    index.add_sent([("p3", 10, [(second[0], 0, 1)])], [])  # later: still the first location
    assert index.locate([second[0]])[second[0]] == ("p2", 5000, 1)
