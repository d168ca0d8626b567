"""Pickle and joblib: anything Python can pickle, and only with ``allow_pickle=True`` at save and at load.

Unpickling calls whatever the bytes name (https://docs.python.org/3/library/pickle.html, the warning at the top),
so these formats are never chosen automatically unless the caller allowed pickle.
"""

from __future__ import annotations

import io
import pickle

from modelver.formats.core import Format, LoadContext, import_library, refuse_unsafe, register_format


@register_format
class Pickle(Format):
    """``pickle``: protocol 5; the fallback when no safe format fits and the caller allowed pickle."""

    name = "pickle"
    media_type = "application/x-pickle"
    extension = ".pkl"
    safe = False
    checks_python = True
    priority = 0
    suffixes = (".pkl", ".pickle")

    def dump(self, obj: object) -> bytes:
        return pickle.dumps(obj, protocol=5)

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        refuse_unsafe(self, context)
        return pickle.loads(data)  # noqa: S301 - the caller opted in (refuse_unsafe above)


@register_format
class Joblib(Format):
    """``joblib``: forced with ``format="joblib"`` (joblib files are pickles with out-of-band numpy buffers)."""

    name = "joblib"
    media_type = "application/x-joblib"
    extension = ".joblib"
    safe = False
    requires = ("joblib",)
    checks_python = True
    priority = 0
    suffixes = (".joblib",)

    def dump(self, obj: object) -> bytes:
        joblib = import_library("joblib")

        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        return buffer.getvalue()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        refuse_unsafe(self, context)
        joblib = import_library("joblib")

        return joblib.load(io.BytesIO(data))
