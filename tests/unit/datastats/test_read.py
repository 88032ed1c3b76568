"""Reading tables: every format, folders, and the messages of bad input."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cairn.datastats.columns import table_stats
from cairn.datastats.read import Source, format_of, need_format, read_table, read_tables
from cairn.errors import DataStatsError


def src(path: Path, name: str | None = None) -> Source:
    return Source(name or path.name, str(path), need_format(path.name))


def test_formats_by_extension() -> None:
    assert [format_of(n) for n in ("a.csv", "b.TSV", "c.parquet", "d.jsonl", "e.ndjson", "f.png")] == [
        "csv",
        "tsv",
        "parquet",
        "jsonl",
        "jsonl",
        None,
    ]


def test_csv_tsv_jsonl_parquet_read_alike(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    df.write_csv(tmp_path / "t.csv")
    df.write_csv(tmp_path / "t.tsv", separator="\t")
    df.write_ndjson(tmp_path / "t.jsonl")
    df.write_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.tsv", "t.jsonl", "t.parquet"):
        got = read_table(src(tmp_path / name))
        assert got.columns == ["a", "b"], name
        assert got["a"].to_list() == [1, 2, 3], name
        assert got["b"].null_count() == 1, name


def test_folder_files_concatenate_with_missing_columns_as_nulls(tmp_path: Path) -> None:
    pl.DataFrame({"a": [1, 2]}).write_csv(tmp_path / "p1.csv")
    pl.DataFrame({"a": [3], "b": ["z"]}).write_parquet(tmp_path / "p2.parquet")
    df = read_tables([src(tmp_path / "p1.csv"), src(tmp_path / "p2.parquet")])
    assert df.height == 3
    assert df["b"].null_count() == 2


def test_unparseable_csv_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("a,b,c\n1,x,2.5\n2,y,3\n3,z,4,9\n")
    with pytest.raises(DataStatsError) as e:
        read_table(src(tmp_path / "bad.csv", "data/bad.csv"))
    assert e.value.message == "data/bad.csv line 4: 4 fields where the header has 3"
    assert e.value.hint == "fix that line (or quote the field)"


def test_unclosed_quote_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text('a,b\n1,"x\n2,y\n')
    with pytest.raises(DataStatsError, match=r"q\.csv line \d+: "):
        read_table(src(tmp_path / "q.csv"))


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(DataStatsError) as e:
        read_table(src(tmp_path / "e.csv"))
    assert e.value.message == "e.csv is empty (0 bytes): there is no table to describe"


def test_binary_file_named_csv(tmp_path: Path) -> None:
    (tmp_path / "img.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataStatsError) as e:
        read_table(src(tmp_path / "img.csv"))
    assert e.value.message == "img.csv is not a CSV file: it holds binary data"


def test_not_a_table_extension() -> None:
    with pytest.raises(DataStatsError) as e:
        need_format("models/model.bin")
    assert e.value.message == (
        "models/model.bin is not a table: cairn reads CSV/TSV (.csv, .tsv), Parquet (.parquet) and JSON Lines "
        "(.jsonl, .ndjson)"
    )


def test_parquet_that_is_not_parquet(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataStatsError, match=r"^x\.parquet cannot be read as Parquet: "):
        read_table(src(tmp_path / "x.parquet"))


def test_bad_json_lines(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"a": 1}\n{"a": 2\n')
    with pytest.raises(DataStatsError, match=r"^x\.jsonl cannot be read as JSON Lines: "):
        read_table(src(tmp_path / "x.jsonl"))


def test_mixed_types_past_the_inferred_rows_read_as_text(tmp_path: Path) -> None:
    lines = ["a,b"] + [f"{i},x" for i in range(20_050)] + ["oops,y"]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    df = read_table(src(tmp_path / "m.csv"))
    assert df.schema["a"] == pl.String
    st = table_stats(df)
    assert "column 'a' mixes numbers and text (20,050 numbers, text such as 'oops'): read as text" in st["warnings"]


def test_blank_lines_only(tmp_path: Path) -> None:
    (tmp_path / "blank.csv").write_text("\n\n\n")
    with pytest.raises(DataStatsError) as e:
        read_table(src(tmp_path / "blank.csv"))
    assert e.value.message == "blank.csv holds no header and no rows"


def test_folder_of_incompatible_files(tmp_path: Path) -> None:
    pl.DataFrame({"a": [1, 2]}).write_parquet(tmp_path / "p1.parquet")
    pl.DataFrame({"a": [[1], [2]]}).write_parquet(tmp_path / "p2.parquet")
    with pytest.raises(DataStatsError, match=r"^the files of the folder do not fit in one table: "):
        read_tables([src(tmp_path / "p1.parquet"), src(tmp_path / "p2.parquet")])
