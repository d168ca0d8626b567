"""The element encoding: one Python value as a self-delimiting, type-tagged byte string.

Owns how the elements of object, string and other non-numeric pandas columns are hashed (the rules are in
:mod:`.frames`), which Arrow columns of types with no columnar encoding (:mod:`.tables`) reuse.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from modelver.data.arrays import U64
from modelver.data.fingerprint import type_name
from modelver.errors import CaptureError
from modelver.serde import canonical_json

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ELEMENTS_PER_BLOCK", "ElementEncoder"]

# Object columns are encoded this many elements at a time: bounded memory, few hasher calls.
ELEMENTS_PER_BLOCK = 1 << 14
_F64 = struct.Struct("<d")


class ElementEncoder:
    """Encodes one Python value as a self-delimiting, type-tagged byte string (see :mod:`.frames`)."""

    def __init__(self) -> None:
        import numpy as np
        import pandas as pd

        self.np = np
        self.pd = pd

    def encode(self, value: object) -> bytes:
        # The common cases first, by exact type: this runs once per element of every object column.
        if type(value) is str:
            return _tagged(b"s", value.encode("utf-8", "surrogatepass"))
        if type(value) is int:
            return _tagged(b"i", str(value).encode())
        if type(value) is float:
            return _float(value)
        if value is None:
            return b"N"
        return self._encode_other(value)

    def _encode_other(self, value: object) -> bytes:
        np, pd = self.np, self.pd
        if value is pd.NA:
            return b"A"
        if value is pd.NaT:
            return b"T"
        # bool before int (bool is an int); numpy scalars hash like the Python value of the same kind.
        if isinstance(value, (bool, np.bool_)):
            return b"?1" if value else b"?0"
        if isinstance(value, str):
            return _tagged(b"s", str(value).encode("utf-8", "surrogatepass"))
        if isinstance(value, (bytes, bytearray, np.bytes_)):
            return _tagged(b"b", bytes(value))
        if isinstance(value, (np.datetime64, np.timedelta64)):
            # timedelta64 is a numpy integer: test it first. The unit is part of the value.
            return _tagged(b"m", f"{value.dtype.str}|{value}".encode())
        if isinstance(value, (int, np.integer)):
            return _tagged(b"i", str(int(value)).encode())
        if isinstance(value, np.longdouble):
            return _tagged(b"g", str(value).encode())  # float() would drop precision
        if isinstance(value, (float, np.floating)):
            return _float(float(value))
        if isinstance(value, (complex, np.complexfloating)):
            number = complex(value)
            return b"c" + _float(number.real) + _float(number.imag)
        if isinstance(value, decimal.Decimal):
            return _tagged(b"D", str(value).encode())
        if isinstance(value, pd.Timestamp):  # a datetime subclass, with nanoseconds
            return _tagged(b"P", f"{value.isoformat()}|{value.tz}|{value.unit}".encode())
        if isinstance(value, dt.datetime):
            return _tagged(b"t", f"{value.isoformat()}|{value.tzinfo}|{value.fold}".encode())
        if isinstance(value, dt.date):
            return _tagged(b"a", value.isoformat().encode())
        if isinstance(value, dt.time):
            return _tagged(b"h", f"{value.isoformat()}|{value.tzinfo}|{value.fold}".encode())
        if isinstance(value, pd.Timedelta):  # a timedelta subclass, with nanoseconds
            return _tagged(b"Q", f"{value.value}|{value.unit}".encode())
        if isinstance(value, dt.timedelta):
            return _tagged(b"q", f"{value.days},{value.seconds},{value.microseconds}".encode())
        if isinstance(value, pd.Period):
            return _tagged(b"p", f"{value}|{value.freqstr}".encode())
        if isinstance(value, pd.Interval):
            return _tagged(b"I", value.closed.encode()) + self.encode(value.left) + self.encode(value.right)
        if isinstance(value, tuple):
            return self._sequence(b"(", value)
        if isinstance(value, list):
            return self._sequence(b"[", value)
        if isinstance(value, dict):
            # Equal dicts hash equal whatever their insertion order: pairs sorted by their encodings.
            pairs = sorted(self.encode(key) + self.encode(item) for key, item in value.items())
            return b"{" + U64.pack(len(pairs)) + b"".join(pairs)
        if isinstance(value, (set, frozenset)):
            members = sorted(self.encode(member) for member in value)
            return b"<" + U64.pack(len(members)) + b"".join(members)
        if isinstance(value, np.ndarray):
            return self._array(value)
        raise CaptureError(
            f"cannot fingerprint a pandas value of type {type_name(value)}: it has no stable encoding; "
            "supported element types: str, bytes, bool, int, float, complex, Decimal, None, NaN, pd.NA, NaT, "
            "date/time/datetime/timedelta, pandas Timestamp/Timedelta/Period/Interval, numpy scalars and arrays, "
            "and lists, tuples, dicts and sets of these"
        )

    def _sequence(self, tag: bytes, items: Iterable[object]) -> bytes:
        parts = [self.encode(item) for item in items]
        return tag + U64.pack(len(parts)) + b"".join(parts)

    def _array(self, array: np.ndarray[Any, Any]) -> bytes:
        shape = [int(n) for n in array.shape]
        if array.dtype.hasobject:
            return _tagged(b"O", canonical_json(shape)) + self._sequence(b"[", array.reshape(-1).tolist())
        dtype = array.dtype.str if array.dtype.fields is None else array.dtype.descr
        header = _tagged(b"#", canonical_json([dtype, shape]))
        return header + _tagged(b"v", self.np.ascontiguousarray(array).tobytes())


def _tagged(tag: bytes, payload: bytes) -> bytes:
    return tag + U64.pack(len(payload)) + payload


def _float(value: float) -> bytes:
    if value != value:  # NaN: one tag, whatever its sign or payload
        return b"n"
    return b"f" + _F64.pack(value)
