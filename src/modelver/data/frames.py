"""Fingerprints of pandas DataFrames and Series: index, column labels, and each column by its dtype.

Owns the pandas encoding: numeric columns through :mod:`.arrays`, object and other columns element by element
through :mod:`.elements`, so equal frames hash equal whatever their block layout.

pandas DataFrame and Series (``method`` ``"<algorithm>-pandas"``)
    All rows, the index (every level, with names), the column labels in order (with the columns' names) and, per
    column, its dtype and values, hashed column by column from ``df.iloc[:, i]``, so equal frames hash equal
    whatever their internal block layout. Numeric, boolean and datetime columns go in as their numpy bytes (every
    NaN written as the same canonical NaN; ``-0.0`` stays distinct from ``0.0``); nullable extension columns as
    a missing-value mask plus their values; categoricals as their categories, ordered flag and codes;
    time-zone-aware datetimes as UTC instants (the zone is in the dtype); object, string and other columns
    element by element, each element length-prefixed and tagged with its type so ``1`` and ``"1"`` differ.
    Element types are compared by kind: a numpy integer hashes like a Python ``int`` of the same value, but
    ``True`` differs from ``1``. ``None``, ``NaN``, ``pd.NA`` and ``NaT`` are four distinct, stable tags. Lists,
    tuples, dicts (key order ignored), sets, Decimals, dates, times, Timestamps, Timedeltas, Periods, Intervals and
    numpy arrays are supported as elements; any other element type raises
    :class:`~modelver.errors.CaptureError` rather than hash something unstable such as a ``repr`` with an
    address. ``size_bytes`` is pandas' deep ``memory_usage`` including the index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelver.data.arrays import BLOCK_BYTES, Feed, feed_array, feed_blocks
from modelver.data.elements import ELEMENTS_PER_BLOCK, ElementEncoder
from modelver.data.fingerprint import Fingerprint
from modelver.store.digest import new_hasher

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["fingerprint_pandas"]


def fingerprint_pandas(source: pd.DataFrame | pd.Series, algorithm: str) -> Fingerprint:
    """The fingerprint of a pandas DataFrame or Series over every row (see :mod:`.frames`)."""
    import pandas as pd

    hasher = new_hasher(algorithm)
    feed = Feed(hasher)
    encoder = ElementEncoder()
    if isinstance(source, pd.DataFrame):
        rows, columns = source.shape
        feed.text(b"T", "modelver.dataframe/1")
        feed.text(b"n", f"{rows},{columns}")
        _feed_index(feed, encoder, source.index)
        _feed_labels(feed, encoder, source.columns)
        for position in range(columns):
            _feed_column(feed, encoder, source.iloc[:, position])
        kind = "dataframe"
        summary: dict[str, Any] = {
            "rows": rows,
            "columns": [str(label) for label in source.columns],
            "dtypes": [str(dtype) for dtype in source.dtypes],
        }
        size = int(source.memory_usage(index=True, deep=True).sum())
    else:
        feed.text(b"T", "modelver.series/1")
        feed.text(b"n", str(len(source)))
        feed.record(b"N", encoder.encode(source.name))
        _feed_index(feed, encoder, source.index)
        _feed_column(feed, encoder, source)
        kind = "series"
        summary = {"rows": len(source), "name": None if source.name is None else str(source.name)}
        summary["dtype"] = str(source.dtype)
        size = int(source.memory_usage(index=True, deep=True))
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=size,
        files=1,
        kind=kind,
        method=f"{algorithm}-pandas",
        uri="<pandas.DataFrame>" if kind == "dataframe" else "<pandas.Series>",
        summary=summary,
    )


def _feed_index(feed: Feed, encoder: ElementEncoder, index: pd.Index) -> None:
    import numpy as np
    import pandas as pd

    feed.record(b"i", encoder.encode(list(index.names)))
    if isinstance(index, pd.RangeIndex):
        # A RangeIndex and an int64 Index with the same values are the same index, so it goes in exactly as
        # _feed_column would feed the int64 values, generated a block at a time instead of materialized whole.
        dtype = np.dtype(np.int64)
        feed.text(b"t", str(dtype))
        per_block = BLOCK_BYTES // dtype.itemsize
        blocks = (
            index.start + index.step * np.arange(offset, min(offset + per_block, len(index)), dtype=dtype)
            for offset in range(0, len(index), per_block)
        )
        feed_blocks(feed, dtype, (len(index),), blocks, canonical_nan=False)
        return
    for level in range(index.nlevels):
        _feed_column(feed, encoder, pd.Series(index.get_level_values(level), copy=False))


def _feed_labels(feed: Feed, encoder: ElementEncoder, columns: pd.Index) -> None:
    feed.record(b"c", encoder.encode(list(columns.names)))
    feed.record(b"l", encoder.encode(columns.tolist()))


def _feed_column(feed: Feed, encoder: ElementEncoder, column: pd.Series) -> None:
    """Feed one column's dtype and values; the encoding depends on the dtype only, never on memory layout."""
    import numpy as np
    import pandas as pd

    dtype = column.dtype
    feed.text(b"t", str(dtype))
    if isinstance(dtype, np.dtype):
        if dtype.kind in "biufcmM":
            feed_array(feed, column.to_numpy(), canonical_nan=True)
        else:
            _feed_objects(feed, encoder, column.to_numpy(dtype=object))
    elif isinstance(dtype, pd.CategoricalDtype):
        feed.text(b"o", "ordered" if dtype.ordered else "unordered")
        _feed_column(feed, encoder, pd.Series(dtype.categories, copy=False))
        feed_array(feed, column.cat.codes.to_numpy(), canonical_nan=False)
    elif isinstance(dtype, pd.DatetimeTZDtype):
        # UTC instants; the zone is already in str(dtype).
        feed_array(feed, column.dt.tz_convert(None).to_numpy(), canonical_nan=False)
    elif dtype.kind in "biuf" and isinstance(getattr(dtype, "numpy_dtype", None), np.dtype):
        # Nullable (masked or Arrow) numbers: the mask, then the values with a fixed filler where missing.
        numpy_dtype = dtype.numpy_dtype
        feed_array(feed, column.isna().to_numpy(dtype=bool), canonical_nan=False)
        filler = False if numpy_dtype.kind == "b" else 0
        feed_array(feed, column.to_numpy(dtype=numpy_dtype, na_value=filler), canonical_nan=True)
    else:
        _feed_objects(feed, encoder, column.to_numpy(dtype=object))


def _feed_objects(feed: Feed, encoder: ElementEncoder, values: np.ndarray[Any, Any]) -> None:
    feed.text(b"e", str(len(values)))
    encode = encoder.encode
    for start in range(0, len(values), ELEMENTS_PER_BLOCK):
        feed.raw(b"".join(map(encode, values[start : start + ELEMENTS_PER_BLOCK])))
