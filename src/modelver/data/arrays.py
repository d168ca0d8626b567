"""Fingerprints of numpy arrays, and the self-delimiting record stream every in-memory value is hashed as.

Owns :class:`Feed` (tagged, length-prefixed records into a hasher) and feeding an array's dtype, shape and
C-order bytes block by block, which :mod:`.frames` and :mod:`.tables` reuse for their numeric columns.

numpy arrays (``method`` ``"<algorithm>-ndarray"``)
    ``dtype.str`` (``dtype.descr`` for structured dtypes), the shape and the bytes in C order: a non-contiguous
    view hashes like its contiguous copy, and the same bytes under another dtype or shape hash differently. The
    bytes are taken as they are (two NaNs with different payloads differ). Object arrays are refused: their bytes
    are pointers.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelver.data.fingerprint import Fingerprint
from modelver.errors import CaptureError
from modelver.serde import canonical_json
from modelver.store.digest import new_hasher

if TYPE_CHECKING:
    import numpy as np

    from modelver.store.digest import Hasher

__all__ = ["BLOCK_BYTES", "U64", "Feed", "as_bytes", "feed_array", "feed_blocks", "fingerprint_ndarray"]

# Arrays are fed to the hasher in blocks of about this size, so a non-contiguous view never gets copied whole.
BLOCK_BYTES = 16 << 20
U64 = struct.Struct("<Q")


class Feed:
    """Writes self-delimiting records into a hasher: a 1-byte tag, a little-endian u64 length, the payload.

    Every piece of structure goes through a record, so two different inputs cannot produce the same stream.
    """

    def __init__(self, hasher: Hasher) -> None:
        self.hasher = hasher

    def record(self, tag: bytes, payload: bytes | memoryview) -> None:
        self.begin(tag, memoryview(payload).nbytes)
        self.hasher.update(payload)

    def text(self, tag: bytes, value: str) -> None:
        self.record(tag, value.encode("utf-8", "surrogatepass"))

    def begin(self, tag: bytes, length: int) -> None:
        """Start a record whose ``length`` payload bytes the caller writes next with :meth:`raw`."""
        self.hasher.update(tag + U64.pack(length))

    def raw(self, data: bytes | memoryview) -> None:
        self.hasher.update(data)


def fingerprint_ndarray(array: np.ndarray[Any, Any], algorithm: str) -> Fingerprint:
    """The fingerprint of a numpy array: dtype, shape and the bytes in C order (object arrays refused)."""
    if array.dtype.hasobject:
        raise CaptureError(
            f"cannot fingerprint a numpy array of dtype {array.dtype}: object arrays hold pointers, not data; "
            "convert it to a fixed-size dtype, or wrap it in a pandas Series"
        )
    hasher = new_hasher(algorithm)
    feed = Feed(hasher)
    feed.text(b"T", "modelver.ndarray/1")
    feed_array(feed, array, canonical_nan=False)
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=int(array.nbytes),
        files=1,
        kind="ndarray",
        method=f"{algorithm}-ndarray",
        uri="<numpy.ndarray>",
        summary={"shape": [int(n) for n in array.shape], "dtype": str(array.dtype)},
    )


def feed_array(feed: Feed, array: np.ndarray[Any, Any], *, canonical_nan: bool) -> None:
    """Feed dtype, shape and C-order bytes of a fixed-size array, block by block."""
    blocks = _c_order_blocks(array) if array.size else iter(())
    feed_blocks(feed, array.dtype, array.shape, blocks, canonical_nan=canonical_nan)


def feed_blocks(
    feed: Feed,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    blocks: Iterator[np.ndarray[Any, Any]],
    *,
    canonical_nan: bool,
) -> None:
    """Feed an array given as dtype, shape and the 1-d blocks of its C-order values."""
    import numpy as np

    # dtype.str of a structured dtype is just "|V<n>": descr keeps the field names and types.
    feed.record(b"d", canonical_json(dtype.str if dtype.fields is None else dtype.descr))
    feed.record(b"s", canonical_json([int(n) for n in shape]))
    feed.begin(b"v", dtype.itemsize * math.prod(shape))
    nan_view = None
    if canonical_nan and dtype.kind in "fc":
        nan_view = np.dtype(f"{dtype.byteorder}f{dtype.itemsize // (2 if dtype.kind == 'c' else 1)}")
    for block in blocks:
        if nan_view is not None:
            floats = block.view(nan_view)
            missing = np.isnan(floats)
            if missing.any():
                floats = floats.copy()
                floats[missing] = np.nan  # one bit pattern for every NaN: NaN payloads are not data in pandas
                block = floats.view(dtype)
        feed.raw(as_bytes(block))


def _c_order_blocks(array: np.ndarray[Any, Any]) -> Iterator[np.ndarray[Any, Any]]:
    """Yield 1-d contiguous blocks whose concatenation is ``array`` in C order, copying at most a block at a time."""
    import numpy as np

    if array.ndim == 0:
        array = array.reshape(1)
    if array.flags.c_contiguous:
        flat = array.reshape(-1)
        step = max(1, BLOCK_BYTES // max(1, array.itemsize))
        for start in range(0, flat.shape[0], step):
            yield flat[start : start + step]
        return
    row_bytes = max(1, array.itemsize * math.prod(array.shape[1:]))
    rows = max(1, BLOCK_BYTES // row_bytes)
    for start in range(0, array.shape[0], rows):
        yield np.ascontiguousarray(array[start : start + rows]).reshape(-1)


def as_bytes(block: np.ndarray[Any, Any]) -> memoryview:
    """The bytes of a contiguous block as a zero-copy ``memoryview`` (a copy only for dtypes with no buffer form)."""
    import numpy as np

    try:
        return block.view(np.uint8).data  # no copy; datetime64 has no buffer format of its own
    except (TypeError, ValueError):  # zero-size items cannot be viewed as uint8
        return memoryview(block.tobytes())
