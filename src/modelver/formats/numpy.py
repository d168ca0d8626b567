"""numpy arrays as ``.npy`` files, read with ``allow_pickle=False`` (object arrays would need pickle)."""

from __future__ import annotations

import io

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, import_library, register_format, unreadable


def _is_plain_array(obj: object) -> bool:
    kind = getattr(getattr(obj, "dtype", None), "kind", None)
    return type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray" and kind not in (None, "O")


@register_format
class Npy(Format):
    """``npy``: numpy's own file format (NEP 1), without pickled object arrays."""

    name = "npy"
    media_type = "application/x-npy"
    extension = ".npy"
    requires = ("numpy",)
    priority = 40
    suffixes = (".npy",)

    def matches(self, obj: object) -> bool:
        return _is_plain_array(obj)

    def dump(self, obj: object) -> bytes:
        np = import_library("numpy")

        array = np.asarray(obj)
        if array.dtype.kind == "O":
            raise FormatError("an object array needs pickle; convert it to a numeric or string dtype first")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        np = import_library("numpy")

        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:  # not .npy, truncated, or an object array (needs pickle)
            raise unreadable(self.name, exc) from exc
