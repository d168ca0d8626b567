"""Fingerprints of Arrow tables and polars frames: the schema, then each column as chunk-independent streams.

Owns the columnar encoding of pyarrow Tables and RecordBatches and of polars DataFrames and Series (through
their zero-copy Arrow export), so a table hashes the same however it is chunked.

Arrow and polars tables (``method`` ``"<algorithm>-arrow"`` / ``"<algorithm>-polars"``)
    pyarrow Tables and RecordBatches (kind ``"table"``), polars DataFrames and Series: all rows, and the schema in
    column order (Arrow: name, type and nullability, not schema metadata; polars: name and dtype). Each column's
    values go into a few sub-digests (a one-byte-per-row null mask; fixed-width values with null slots zeroed and
    every NaN one bit pattern; int64 lengths plus data bytes for strings and binary; lengths and child values for
    lists, maps and structs; dictionary columns as their decoded values) fed chunk by chunk, so a table hashes the
    same however it is chunked, sliced or rechunked, and a RecordBatch like the one-batch Table. Other Arrow types
    (unions, run-end encoded) go element by element through the pandas element encoding. Polars objects are
    hashed through their zero-copy Arrow export (pyarrow needed); ``Object`` columns and LazyFrames are refused.
    ``size_bytes`` is ``Table.nbytes`` / polars' ``estimated_size()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelver.data.arrays import Feed, as_bytes
from modelver.data.elements import ELEMENTS_PER_BLOCK, ElementEncoder
from modelver.data.fingerprint import Fingerprint
from modelver.errors import CaptureError
from modelver.serde import canonical_json
from modelver.store.digest import new_hasher

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from modelver.store.digest import Hasher

__all__ = ["fingerprint_arrow", "fingerprint_polars"]

# Arrow columns are hashed this many rows at a time (16 MiB of int64).
_ARROW_ROWS_PER_BLOCK = 1 << 21


def fingerprint_arrow(source: pa.Table | pa.RecordBatch, algorithm: str) -> Fingerprint:
    """The fingerprint of an Arrow Table or RecordBatch over all rows, independent of chunking."""
    import pyarrow as pa

    table = source if isinstance(source, pa.Table) else pa.Table.from_batches([source])
    hasher = new_hasher(algorithm)
    feed = Feed(hasher)
    feed.text(b"T", "modelver.arrow/1")
    feed.text(b"n", f"{table.num_rows},{table.num_columns}")
    # Names, types and nullability in column order; schema metadata (pandas' index notes...) is not content.
    feed.record(b"l", canonical_json([[field.name, str(field.type), field.nullable] for field in table.schema]))
    for column in table.columns:
        _feed_arrow_column(feed, column.chunks, algorithm)
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=int(table.nbytes),
        files=1,
        kind="table",
        method=f"{algorithm}-arrow",
        uri="<pyarrow.Table>" if isinstance(source, pa.Table) else "<pyarrow.RecordBatch>",
        summary={
            "rows": table.num_rows,
            "columns": list(table.column_names),
            "dtypes": [str(field.type) for field in table.schema],
        },
    )


def fingerprint_polars(source: pl.DataFrame | pl.Series, algorithm: str) -> Fingerprint:
    """The fingerprint of a polars DataFrame or Series, through its Arrow form (needs pyarrow)."""
    import polars as pl

    try:
        import pyarrow  # noqa: F401 - polars' to_arrow() needs it
    except ImportError as exc:
        raise CaptureError("cannot fingerprint a polars object without pyarrow; pip install pyarrow") from exc
    hasher = new_hasher(algorithm)
    feed = Feed(hasher)
    if isinstance(source, pl.DataFrame):
        feed.text(b"T", "modelver.polars-frame/1")
        feed.text(b"n", f"{source.height},{source.width}")
        feed.record(b"l", canonical_json([[name, str(dtype)] for name, dtype in source.schema.items()]))
        for column in source.get_columns():
            _feed_arrow_column(feed, _polars_chunks(column), algorithm)
        kind, uri = "dataframe", "<polars.DataFrame>"
        summary: dict[str, Any] = {
            "rows": source.height,
            "columns": list(source.columns),
            "dtypes": [str(dtype) for dtype in source.dtypes],
        }
    else:
        feed.text(b"T", "modelver.polars-series/1")
        feed.text(b"n", str(len(source)))
        feed.record(b"l", canonical_json([source.name, str(source.dtype)]))
        _feed_arrow_column(feed, _polars_chunks(source), algorithm)
        kind, uri = "series", "<polars.Series>"
        summary = {"rows": len(source), "name": source.name, "dtype": str(source.dtype)}
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=int(source.estimated_size()),
        files=1,
        kind=kind,
        method=f"{algorithm}-polars",
        uri=uri,
        summary=summary,
    )


def _polars_chunks(series: pl.Series) -> list[pa.Array]:
    """The Arrow arrays of a polars Series, chunk by chunk, without copying (polars' own Arrow export)."""
    import polars as pl

    if series.dtype == pl.Object:
        raise CaptureError(
            f"cannot fingerprint polars column {series.name!r} of dtype Object: it holds Python objects with no stable "
            "encoding; cast it to a polars type"
        )
    exported = series.to_arrow()
    return list(exported.chunks) if hasattr(exported, "chunks") else [exported]


class _Streams:
    """Named sub-digests of one column: each stream is the concatenation of its pieces over all chunks.

    That is what makes a column's digest independent of its chunking: ``[1, 2] + [3]`` and ``[1, 2, 3]`` feed the
    same bytes to every stream. A stream that received no bytes is left out, so "no chunk" equals "an empty chunk".
    """

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.streams: dict[str, tuple[Hasher, list[int]]] = {}

    def update(self, name: str, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")  # hashers take bytes, not typed buffers
        if not view.nbytes:
            return
        if name not in self.streams:
            self.streams[name] = (new_hasher(self.algorithm), [0])
        hasher, count = self.streams[name]
        hasher.update(view)
        count[0] += view.nbytes

    def feed_into(self, feed: Feed) -> None:
        for name in sorted(self.streams):
            hasher, count = self.streams[name]
            feed.text(b"S", f"{name}|{count[0]}|{hasher.hexdigest()}")


def _feed_arrow_column(feed: Feed, chunks: list[pa.Array], algorithm: str) -> None:
    """Feed one Arrow column, given as its chunks, as streams of canonical bytes (see :class:`_Streams`)."""
    streams = _Streams(algorithm)
    encoder: list[ElementEncoder] = []  # made on first need: nested fallbacks only
    for chunk in chunks:
        # Zero-copy slices of a bounded number of rows: the copies made to zero null slots or canonicalize NaNs stay
        # small whatever the chunk size, and slicing cannot change the digest (that is the property above).
        for start in range(0, len(chunk), _ARROW_ROWS_PER_BLOCK):
            _feed_arrow_array(streams, "", chunk.slice(start, _ARROW_ROWS_PER_BLOCK), encoder)
    streams.feed_into(feed)


def _feed_arrow_array(streams: _Streams, path: str, array: pa.Array, encoder: list[ElementEncoder]) -> None:
    """Add one Arrow array's values to the streams under ``path``, by type (module docstring)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if len(array) == 0 or pa.types.is_null(kind):
        return  # nothing but a count, and counts are in the header (rows) or the parent's lengths stream
    if isinstance(kind, pa.ExtensionType):
        _feed_arrow_array(streams, path, array.storage, encoder)
        return
    if pa.types.is_dictionary(kind):
        # The values, not the codes: two chunks may carry different dictionaries for the same data.
        _feed_arrow_array(streams, path, array.dictionary_decode(), encoder)
        return
    for is_view, plain in (("is_string_view", pa.large_string()), ("is_binary_view", pa.large_binary())):
        if getattr(pa.types, is_view, lambda _: False)(kind):
            array, kind = array.cast(plain), plain
    nulls = array.null_count
    mask = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    streams.update(f"{path}m", mask.view(np.uint8).data)  # one byte per value, whatever the bitmap's offset
    if pa.types.is_boolean(kind):
        values = pc.fill_null(array, False).to_numpy(zero_copy_only=False)
        streams.update(f"{path}v", np.asarray(values, dtype=np.bool_).view(np.uint8).data)
    elif _fixed_width(kind):
        width = kind.bit_width // 8
        raw = np.frombuffer(array.buffers()[1], dtype=np.uint8, count=len(array) * width, offset=array.offset * width)
        if nulls or pa.types.is_floating(kind):
            raw = raw.reshape(len(array), width).copy()
            raw[mask] = 0  # what sits under a null slot is not data
            if pa.types.is_floating(kind):
                floats = raw.view(f"<f{width}").reshape(-1)
                floats[np.isnan(floats)] = np.nan  # one NaN bit pattern, as for pandas
        streams.update(f"{path}v", as_bytes(raw.reshape(-1)))
    elif (
        pa.types.is_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_string(kind)
        or (pa.types.is_large_binary(kind))
    ):
        if nulls:
            array = pc.fill_null(
                array, pa.scalar(b"" if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) else "", type=kind)
            )
        offset_type = np.int64 if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind) else np.int32
        offsets = np.frombuffer(
            array.buffers()[1],
            dtype=offset_type,
            count=len(array) + 1,
            offset=array.offset * np.dtype(offset_type).itemsize,
        )
        streams.update(f"{path}l", np.diff(offsets).astype("<i8").data)  # int64 lengths: string == large_string
        data = array.buffers()[2]
        if data is not None:
            streams.update(f"{path}d", memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    elif (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_map(kind)
        or (pa.types.is_fixed_size_list(kind))
    ):
        lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
        streams.update(f"{path}l", np.asarray(lengths, dtype="<i8").data)
        _feed_arrow_array(streams, f"{path}[", array.flatten(), encoder)  # the values of non-null lists only
    elif pa.types.is_struct(kind):
        for index, child in enumerate(array.flatten()):  # children with the struct's offset and nulls applied
            _feed_arrow_array(streams, f"{path}{index}.", child, encoder)
    else:  # unions, run-end encoded, ...: element by element through the pandas element encoding
        if not encoder:
            try:
                encoder.append(ElementEncoder())
            except ImportError as exc:
                raise CaptureError(f"cannot fingerprint an Arrow column of type {kind} without pandas") from exc
        encode = encoder[0].encode
        values = array.to_pylist()
        for start in range(0, len(values), ELEMENTS_PER_BLOCK):
            streams.update(f"{path}o", b"".join(map(encode, values[start : start + ELEMENTS_PER_BLOCK])))


def _fixed_width(kind: pa.DataType) -> bool:
    """Whether values of this Arrow type are fixed-size byte strings in one buffer (numbers, times, decimals...)."""
    import pyarrow as pa

    if pa.types.is_nested(kind) or pa.types.is_boolean(kind):
        return False
    try:
        bits = kind.bit_width
    except ValueError:  # variable width
        return False
    return bool(bits) and bits % 8 == 0
