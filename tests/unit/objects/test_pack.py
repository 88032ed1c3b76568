"""Pack indexes (cairn.objects.pack): the one-pass encoding is the canonical one."""

from __future__ import annotations

from blake3 import blake3

from cairn.objects import pack


def test_index_of_gives_the_id_and_index_of_the_canonical_encoding():
    rows = [(blake3(bytes([i])).hexdigest(), i * 10, 10) for i in range(50)]
    pid, index = pack.index_of(list(reversed(rows)))
    assert pid == pack.pack_id(rows)
    assert index == pack.encode_index(pid, rows)
    assert pack.parse_index(index, "x.idx") == (pid, sorted(rows))
