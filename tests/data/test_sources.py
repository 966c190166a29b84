"""Bad input gets a clear error naming what, where and how to fix; good input reads."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from forgeml.data.ingest import load_source
from forgeml.errors import ConfigError, SourceError


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"empty \(0 bytes\)"):
        load_source(_write(tmp_path / "empty.csv", b""))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="header but no rows"):
        load_source(_write(tmp_path / "h.csv", b"a,b,c\n"))


def test_ragged_rows_are_named_by_line(tmp_path: Path) -> None:
    body = b"a,b\n1,2\n3,4,5\n6,7\n8\n"
    with pytest.raises(SourceError) as info:
        load_source(_write(tmp_path / "ragged.csv", body))
    message = str(info.value)
    assert "2 row(s) with the wrong number of fields" in message
    assert "line 3 has 3 fields" in message
    assert "line 5 has 1 fields" in message


def test_mixed_types_in_a_csv_column_become_text(tmp_path: Path) -> None:
    loaded = load_source(_write(tmp_path / "mixed.csv", b"x,y\n1,a\ntwo,b\n3.5,c\n"))
    assert loaded.table.column("x").to_pylist() == ["1", "two", "3.5"]


def test_mixed_python_types_in_a_frame_name_the_column() -> None:
    frame = pd.DataFrame({"ok": [1, 2, 3], "bad": pd.Series([1, "two", 3.0], dtype=object)})
    with pytest.raises(SourceError, match="column 'bad' mixes value types"):
        load_source(frame)


def test_non_utf8_bytes_point_at_the_byte_and_suggest_an_encoding(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin.csv", "name,city\nJosé,Köln\n".encode("latin-1"))
    with pytest.raises(SourceError) as info:
        load_source(path)
    assert "byte 0xE9" in str(info.value)
    assert "line 2" in str(info.value)
    assert "--encoding" in str(info.value)
    table = load_source(path, encoding="latin-1").table
    assert table.column("city").to_pylist() == ["Köln"]


def test_unicode_names_and_values_round_trip(tmp_path: Path) -> None:
    text = "名前,città,emoji 😀\nアリス,Zürich,✓\n"
    table = load_source(_write(tmp_path / "u.csv", text.encode())).table
    assert table.column_names == ["名前", "città", "emoji 😀"]
    assert table.column("città").to_pylist() == ["Zürich"]


def test_duplicate_column_names_are_refused_with_positions(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="'a' at positions 1, 3"):
        load_source(_write(tmp_path / "dup.csv", b"a,b,a\n1,2,3\n"))


def test_unnamed_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="position 1 have no name"):
        load_source(_write(tmp_path / "idx.csv", b",a\n0,1\n"))


def test_more_than_a_thousand_columns(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(1200))
    rows = "\n".join(",".join(str(r * i) for i in range(1200)) for r in range(5))
    table = load_source(_write(tmp_path / "wide.csv", f"{header}\n{rows}\n".encode())).table
    assert table.num_columns == 1200 and table.num_rows == 5


def test_csv_named_parquet(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a Parquet file: its content looks like CSV text"):
        load_source(_write(tmp_path / "data.parquet", b"a,b\n1,2\n"))


def test_parquet_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(SourceError, match="looks like Parquet"):
        load_source(path)
    assert load_source(path, file_format="parquet").table.num_rows == 1


def test_binary_file_named_csv(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(SourceError, match="binary file"):
        load_source(_write(tmp_path / "image.csv", png))


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(SourceError, match="not a readable Parquet file"):
        load_source(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_source(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="is a folder"):
        load_source(tmp_path)


def test_json_lines_nested_objects_are_flattened(tmp_path: Path) -> None:
    body = (
        b'{"id": 1, "address": {"city": "Oslo", "zip": "0150"}}\n'
        b'{"id": 2, "address": {"city": "Rome", "zip": "00100"}}\n'
    )
    table = load_source(_write(tmp_path / "people.jsonl", body)).table
    assert table.column_names == ["id", "address.city", "address.zip"]


def test_malformed_json_lines(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not valid JSON lines"):
        load_source(_write(tmp_path / "bad.jsonl", b'{"a": 1}\n{"a": 2,,}\n'))


def test_unsupported_column_types_are_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="column 'tags' has type list"):
        load_source(pa.table({"tags": [[1, 2], [3]]}))


def test_sql_source_needs_a_query() -> None:
    with pytest.raises(ConfigError, match="needs a query"):
        load_source("sqlite:///somewhere.db")


def test_sql_that_cannot_connect_hides_the_password() -> None:
    url = "postgresql+psycopg://analyst:pa55word@127.0.0.1:1/warehouse?connect_timeout=2"
    with pytest.raises(SourceError) as info:
        load_source(url, query="SELECT 1")
    message = str(info.value)
    assert "pa55word" not in message
    assert "cannot connect" in message and "***" in message


def test_sql_query_error_is_reported(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "x.db").close()
    with pytest.raises(SourceError, match="query failed"):
        load_source(f"sqlite:///{tmp_path / 'x.db'}", query="SELECT * FROM no_such_table")


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "shop.db"
    with pytest.raises(SourceError, match=r"does not exist; nothing was created"):
        load_source(f"sqlite:///{missing}", query="SELECT 1")
    assert not missing.exists() and not missing.parent.exists()


def test_sqlite_sources_are_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER, amount REAL)")
        connection.execute("INSERT INTO orders VALUES (1, 9.5), (2, 12.0)")
    connection.close()
    before = path.read_bytes()
    loaded = load_source(f"sqlite:///{path}", query="SELECT * FROM orders")
    assert loaded.table.column("amount").to_pylist() == [9.5, 12.0]
    with pytest.raises(SourceError, match="readonly"):
        load_source(f"sqlite:///{path}", query="DELETE FROM orders RETURNING id")
    assert path.read_bytes() == before


def test_polars_and_arrow_inputs() -> None:
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame({"a": [1, 2], "s": ["x", "y"]})
    assert load_source(frame).table.column("s").to_pylist() == ["x", "y"]
    assert load_source(pa.record_batch({"a": [1]})).table.num_rows == 1


def test_unknown_objects_are_refused() -> None:
    with pytest.raises(SourceError, match="cannot ingest an object of type dict"):
        load_source({"a": [1]})


def test_a_wrong_encoding_names_the_encoding_asked_for(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.csv", "name,city\nJosé,Zürich\n".encode())
    with pytest.raises(SourceError, match="does not decode as utf-16, the encoding asked for"):
        load_source(path, encoding="utf-16")
    with pytest.raises(SourceError, match="unknown text encoding 'klingon'"):
        load_source(path, encoding="klingon")


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            load_source(fifo)
        except SourceError as e:
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=60)
    if reader.is_alive():  # release the blocked reader before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO blocked instead of being refused")
    assert "not a regular file" in str(outcome[0])


def test_an_unterminated_quote_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.csv", b'a,b\n1,x\n2,"y\n3,z\n4,w\n5,v\n')
    with pytest.raises(SourceError, match="never closed, in the row that starts at line 3"):
        load_source(path)


def test_quoted_line_breaks_that_close_are_kept(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.csv", b'id,note\n1,"two\nlines"\n2,plain\n')
    loaded = load_source(path)
    assert loaded.table.column("note").to_pylist() == ["two\nlines", "plain"]


@pytest.mark.parametrize(
    ("content", "separator"),
    [
        (b"id;amount;city\n1;2.5;Oslo\n2;3.5;Rome\n", ";"),
        (b"id\tamount\tcity\n1\t2.5\tOslo\n2\t3.5\tRome\n", "\t"),
        (b"id|amount|city\n1|2.5|Oslo\n2|3.5|Rome\n", "|"),
        (b"id,amount,note\n1,2.5,a;b\n2,3.5,c;d\n", ","),
    ],
)
def test_the_separator_is_detected(tmp_path: Path, content: bytes, separator: str) -> None:
    loaded = load_source(_write(tmp_path / "data.csv", content))
    assert loaded.separator == separator
    assert loaded.table.column_names[:2] == ["id", "amount"]
    assert loaded.table.column("amount").to_pylist() == [2.5, 3.5]


def test_line_breaks_are_looked_for_only_inside_each_chunks_own_values() -> None:
    from forgeml.data.sources import _has_line_breaks

    values = pa.array(["a\nb", "plain", "x", "ünï\ncode"])
    assert _has_line_breaks(pa.table({"t": values}))
    assert not _has_line_breaks(pa.table({"t": values.slice(1, 2)}))
    assert _has_line_breaks(pa.table({"t": pa.chunked_array([values.slice(1, 2), values[3:]])}))
    assert not _has_line_breaks(pa.table({"t": pa.array([None, ""], pa.large_string())}))
