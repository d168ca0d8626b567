"""Fingerprints of in-memory tables: pyarrow Tables and RecordBatches, polars DataFrames and Series.

The property that matters: equal content gives an equal digest whatever the chunking, and any change in a value,
a null, a column name, a column order or a type gives a different one.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelver.data.sources import fingerprint
from modelver.errors import CaptureError

pl = pytest.importorskip("polars")

# Column kinds: an Arrow type and a strategy for one (nullable) value of it.
COLUMN_KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "int": (pa.int64(), st.none() | st.integers(-(2**63), 2**63 - 1)),
    "float": (pa.float64(), st.none() | st.floats(allow_nan=True, allow_infinity=True)),
    "str": (pa.string(), st.none() | st.text(max_size=6)),
    "bytes": (pa.large_binary(), st.none() | st.binary(max_size=6)),
    "bool": (pa.bool_(), st.none() | st.booleans()),
    "date": (pa.date32(), st.none() | st.dates()),
    "ts": (pa.timestamp("us", tz="UTC"), st.none() | st.datetimes(timezones=st.just(dt.UTC))),
    "list": (pa.list_(pa.int32()), st.none() | st.lists(st.none() | st.integers(-100, 100), max_size=3)),
    "struct": (
        pa.struct([("a", pa.int16()), ("b", pa.string())]),
        st.none()
        | st.fixed_dictionaries({"a": st.none() | st.integers(-100, 100), "b": st.none() | st.text(max_size=3)}),
    ),
}


@st.composite
def tables(draw: st.DrawFn, min_rows: int = 0) -> pa.Table:
    """A table of 1 to 4 columns of the kinds above (dictionary-encoded strings too) and 0 to 12 rows."""
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMN_KINDS)), min_size=1, max_size=4))
    rows = draw(st.integers(min_rows, 12))
    columns = {}
    for position, kind in enumerate(kinds):
        arrow_type, values = COLUMN_KINDS[kind]
        column = pa.array(draw(st.lists(values, min_size=rows, max_size=rows)), type=arrow_type)
        if kind == "str" and draw(st.booleans()):
            column = column.dictionary_encode()
        columns[f"{kind}{position}"] = column
    return pa.table(columns)


@st.composite
def rechunked(draw: st.DrawFn, table: pa.Table) -> pa.Table:
    """The same table cut into chunks at random rows (possibly empty chunks)."""
    cuts = sorted(draw(st.lists(st.integers(0, table.num_rows), max_size=4)))
    bounds = [0, *cuts, table.num_rows]
    pieces = [table.slice(start, stop - start) for start, stop in itertools.pairwise(bounds)]
    return pa.concat_tables(pieces)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arrow_digest_does_not_depend_on_chunking(data: st.DataObject) -> None:
    """A table, the same rows in other chunks, and its single RecordBatch all hash alike."""
    table = data.draw(tables())
    other = data.draw(rechunked(table))
    assert repr(table.to_pylist()) == repr(other.to_pylist())  # same content (repr: NaN is not equal to itself)

    expected = fingerprint(table).digest
    assert expected == fingerprint(other).digest
    assert expected == fingerprint(table.combine_chunks().to_batches()[0] if table.num_rows else table).digest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arrow_any_value_change_changes_the_digest(data: st.DataObject) -> None:
    """Replacing one value by a different one (a null included) changes the digest, chunked or not."""
    table = data.draw(tables(min_rows=1))
    position = data.draw(st.integers(0, table.num_columns - 1))
    row = data.draw(st.integers(0, table.num_rows - 1))
    column = table.column(position).combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    kind = table.column_names[position].rstrip("0123456789")
    values = column.to_pylist()
    replacement = data.draw(COLUMN_KINDS[kind][1].filter(lambda value: not _same(value, values[row])))
    values[row] = replacement
    changed = table.set_column(position, table.field(position).name, pa.array(values, type=column.type))

    assert fingerprint(table).digest != fingerprint(data.draw(rechunked(changed))).digest


def _same(a: object, b: object) -> bool:
    """Equal as table content: NaN equals NaN, -0.0 differs from 0.0 (their bytes differ)."""
    if isinstance(a, float) and isinstance(b, float):
        return (a != a and b != b) or (a == b and str(a) == str(b))
    return type(a) is type(b) and a == b


def test_arrow_schema_counts() -> None:
    """Column names, column order, types and nullability each change the digest; schema metadata does not."""
    table = pa.table({"a": pa.array([1, 2], pa.int64()), "b": pa.array(["x", "y"])})
    variants = [
        table,
        table.select(["b", "a"]),
        table.rename_columns(["a", "c"]),
        table.cast(pa.schema([("a", pa.int32()), ("b", pa.string())])),
        table.cast(pa.schema([pa.field("a", pa.int64(), nullable=False), ("b", pa.string())])),
        table.cast(pa.schema([("a", pa.int64()), ("b", pa.large_string())])),
    ]

    assert len(variants) == len({fingerprint(v).digest for v in variants})
    assert fingerprint(table).digest == fingerprint(table.replace_schema_metadata({"pandas": "{}"})).digest


def test_arrow_summary_and_kind() -> None:
    """A table's fingerprint records rows, column names and Arrow types; a RecordBatch says so in its uri."""
    table = pa.table({"a": [1, 2, 3], "when": pa.array([0, 1, 2], pa.timestamp("ns")), "d": [decimal.Decimal(1)] * 3})

    result = fingerprint(table)

    expected = ("table", "blake3-arrow", "<pyarrow.Table>", 1)
    assert expected == (result.kind, result.method, result.uri, result.files)
    summary = {"rows": 3, "columns": ["a", "when", "d"], "dtypes": ["int64", "timestamp[ns]", "decimal128(1, 0)"]}
    assert summary == result.summary
    assert "<pyarrow.RecordBatch>" == fingerprint(table.to_batches()[0]).uri


BIG = 100_000


@pytest.fixture(scope="module")
def big() -> pa.Table:
    """A 100,000-row table with ints, floats, strings, datetimes and booleans, in 7 chunks."""
    rows = range(BIG)
    table = pa.table(
        {
            "id": pa.array(rows, pa.int64()),
            "x": pa.array([i / 7 for i in rows]),
            "name": pa.array([f"n{i % 1000}" for i in rows]),
            "when": pa.array([i * 1_000_000 for i in rows], pa.timestamp("us")),
            "flag": pa.array([i % 3 == 0 for i in rows]),
        }
    )
    return pa.Table.from_batches(table.to_batches(max_chunksize=BIG // 7 + 1))


@pytest.mark.parametrize("column", ["id", "x", "name", "when", "flag"])
def test_arrow_and_polars_row_50000_counts(big: pa.Table, column: str) -> None:
    """Changing one value at row 50,000, in any column (the datetime one too), changes both digests."""
    values = big.column(column).to_pylist()
    value = values[50_000]
    values[50_000] = {
        "when": lambda v: v + dt.timedelta(microseconds=1),
        "name": lambda v: v + "!",
        "flag": lambda v: not v,
    }.get(column, lambda v: v + 1)(value)
    changed = big.set_column(
        big.schema.get_field_index(column), column, pa.array(values, big.schema.field(column).type)
    )

    assert fingerprint(big).digest != fingerprint(changed).digest
    assert fingerprint(pl.from_arrow(big)).digest != fingerprint(pl.from_arrow(changed)).digest


def test_polars_frame_equal_whatever_the_chunking(big: pa.Table) -> None:
    """A polars frame, the same frame rechunked, built from pieces, and after a no-op unique(), hash alike."""
    frame = pl.from_arrow(big)
    pieces = pl.concat([frame.slice(0, 30_000), frame.slice(30_000, 1), frame.slice(30_001)], rechunk=False)
    assert 1 < pieces.n_chunks()
    variants = [frame.rechunk(), pieces, frame.unique(maintain_order=True), frame.clone()]

    assert [fingerprint(frame).digest] * len(variants) == [fingerprint(v).digest for v in variants]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_polars_digest_does_not_depend_on_chunking(data: st.DataObject) -> None:
    """Random frames: the digest is the same for any chunking, and differs from a frame with one value changed."""
    table = data.draw(tables())
    frame = pl.from_arrow(table)
    other = pl.from_arrow(data.draw(rechunked(table)), rechunk=False)

    assert fingerprint(frame).digest == fingerprint(other).digest


def test_polars_summary_schema_and_series() -> None:
    """A frame records rows, columns and polars dtypes; order, names, dtypes count; a Series is not a frame."""
    frame = pl.DataFrame(
        {"a": [1, 2, None], "s": ["x", None, "z"], "c": pl.Series(["u", "v", "u"], dtype=pl.Categorical)}
    )

    result = fingerprint(frame)

    expected = ("dataframe", "blake3-polars", "<polars.DataFrame>")
    assert expected == (result.kind, result.method, result.uri)
    assert {"rows": 3, "columns": ["a", "s", "c"], "dtypes": ["Int64", "String", "Categorical"]} == result.summary
    variants = [
        frame,
        frame.select(["s", "a", "c"]),
        frame.rename({"a": "b"}),
        frame.with_columns(pl.col("a").cast(pl.Int32)),
        frame.with_columns(pl.col("c").cast(pl.String)),
        frame.with_columns(pl.col("a").fill_null(0)),
        frame.select("a"),
    ]
    series = fingerprint(frame["a"])
    assert ("series", {"rows": 3, "name": "a", "dtype": "Int64"}) == (series.kind, series.summary)
    assert len(variants) + 1 == len({fingerprint(v).digest for v in variants} | {series.digest})


def test_polars_object_and_lazy_frames_are_refused() -> None:
    """Object columns have no stable encoding and a LazyFrame is a query, not data: both are a CaptureError."""
    with pytest.raises(CaptureError, match="Object"):
        fingerprint(pl.DataFrame({"o": pl.Series([object()], dtype=pl.Object)}))
    with pytest.raises(CaptureError, match="LazyFrame"):
        fingerprint(pl.DataFrame({"a": [1]}).lazy())
