import random
import struct

import pytest

from cairn.objects.columns import columns


@pytest.mark.parametrize("count", [0, 1, 4095, 4096, 4097, 9000])
def test_columns_match_rows_across_blocks(count: int) -> None:
    rnd = random.Random(count)
    row = struct.Struct("<32sIQ")
    rows = [(rnd.randbytes(32), rnd.randrange(2**32), rnd.randrange(2**64)) for _ in range(count)]
    head = b"HEAD"  # the rows start past a header, as in the multi-pack index
    buf = head + b"".join(row.pack(*r) for r in rows) + b"TAIL"
    ids, numbers, offsets = columns(buf, len(head), count, "<", ("32s12x", "32xI8x", "36xQ"))
    assert list(zip(ids, numbers, offsets, strict=True)) == rows


def test_columns_use_the_byte_order() -> None:
    buf = struct.pack(">4sI", b"abcd", 7) * 3
    assert columns(buf, 0, 3, ">", ("4s4x", "4xI")) == [[b"abcd"] * 3, [7] * 3]
    assert columns(buf, 0, 3, "<", ("4xI",)) == [[7 << 24] * 3]
