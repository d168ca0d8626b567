"""Tables as Parquet: pandas DataFrames and pyarrow Tables, through pyarrow.

A DataFrame's index and dtypes ride in the file's ``pandas`` schema metadata (written by ``pyarrow.Table
.from_pandas``), so ``load`` returns a DataFrame when that metadata is present and a ``pyarrow.Table`` otherwise.
pyarrow >= 14.0.1 is required: earlier versions could unpickle extension types read from a file (CVE-2023-47248).
"""

from __future__ import annotations

import io

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, describe, import_library, register_format, type_from, unreadable


@register_format
class Parquet(Format):
    """``parquet``: a ``pandas.DataFrame`` or ``pyarrow.Table``."""

    name = "parquet"
    media_type = "application/vnd.apache.parquet"
    extension = ".parquet"
    requires = ("pyarrow",)
    priority = 40
    suffixes = (".parquet",)

    def matches(self, obj: object) -> bool:
        return (type_from(obj, "pandas") and type(obj).__name__ == "DataFrame") or (
            type_from(obj, "pyarrow") and type(obj).__name__ == "Table"
        )

    def dump(self, obj: object) -> bytes:
        pa = import_library("pyarrow")
        pq = import_library("pyarrow.parquet")

        if isinstance(obj, pa.Table):
            table = obj
        elif type_from(obj, "pandas") and type(obj).__name__ == "DataFrame":
            table = pa.Table.from_pandas(obj)
        else:
            raise FormatError(f"format 'parquet' stores a pandas DataFrame or pyarrow Table, not a {describe(obj)}")
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        pa = import_library("pyarrow")
        pq = import_library("pyarrow.parquet")

        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError) as exc:  # not Parquet, or truncated
            raise unreadable(self.name, exc) from exc
        if table.schema.metadata and b"pandas" in table.schema.metadata:
            return table.to_pandas()
        return table
