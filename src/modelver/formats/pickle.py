"""Pickle and joblib: anything Python can pickle, and only with ``allow_pickle=True`` at save and at load.

Unpickling calls whatever the bytes name (https://docs.python.org/3/library/pickle.html, the warning at the top),
so these formats are never chosen automatically unless the caller allowed pickle.
"""

from __future__ import annotations

import io
import pickle
import sys
import warnings
from typing import Any

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, import_library, refuse_unsafe, register_format

#: Where a script's own classes live; a pickle names them as ``__main__.Name``, which only a process whose
#: ``__main__`` defines the same class can import again.
MAIN_MODULE = "__main__"


class _MainClassPickler(pickle.Pickler):
    """A pickler that notes the ``__main__`` classes and functions the pickle will name (it changes no byte)."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self.main_names: set[str] = set()

    def persistent_id(self, obj: Any) -> None:
        named = obj if isinstance(obj, type) else type(obj)
        if getattr(named, "__module__", None) == MAIN_MODULE:
            self.main_names.add(getattr(named, "__qualname__", repr(named)))
        elif callable(obj) and getattr(obj, "__module__", None) == MAIN_MODULE:
            self.main_names.add(getattr(obj, "__qualname__", repr(obj)))
        return


def _main_defines_classes() -> bool:
    """Whether the running ``__main__`` module defines a class of its own (a script's, a notebook's)."""
    main = sys.modules.get(MAIN_MODULE)
    return (
        any(isinstance(value, type) and value.__module__ == MAIN_MODULE for value in list(vars(main).values()))
        if main is not None
        else False
    )


def unimportable_class(exc: BaseException) -> FormatError:
    """The error for a pickle that names a class this process cannot import (``Can't get attribute 'X' on <module
    '__main__'>``, or a module that is not installed): the bytes are fine, the class is missing here.

    Args:
        exc: the ``AttributeError`` or ``ImportError`` unpickling raised.

    Returns:
        A :class:`~modelver.errors.FormatError` that says what to do.

    Example:
        >>> unimportable_class(AttributeError("Can't get attribute 'Net' on <module '__main__'>")).args[0][:44]
        'the pickle names a class this process cannot'
    """
    return FormatError(
        f"the pickle names a class this process cannot import ({type(exc).__name__}: {exc}); the stored bytes are "
        "fine. Make the class importable here: a class saved from a script's __main__ loads only where __main__ "
        "defines it too, so move it into an importable module (and save again), or define or import it in the "
        "__main__ of this process before loading; a missing module needs its package installed"
    )


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
        data = pickle.dumps(obj, protocol=5)
        # Only a __main__ that defines classes can be named; a pickle spells every module it names, so without the
        # bytes "__main__" it names nothing there. Only then is it pickled again to learn which names (a Python
        # callback per object: ~3x slower than pickle.dumps).
        if _main_defines_classes() and MAIN_MODULE.encode() in data:
            pickler = _MainClassPickler(io.BytesIO())
            pickler.dump(obj)
            if pickler.main_names:
                names = ", ".join(sorted(pickler.main_names))
                warnings.warn(
                    f"the pickle names {names} from __main__ (the script that ran): it loads only in a process whose "
                    "__main__ defines the same names. Move them into an importable module (e.g. mypkg/models.py, "
                    "then import them in the script) and save again",
                    UserWarning,
                    stacklevel=4,
                )
        return data

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        refuse_unsafe(self, context)
        try:
            return pickle.loads(data)  # noqa: S301 - the caller opted in (refuse_unsafe above)
        except (AttributeError, ImportError) as exc:  # ModuleNotFoundError is an ImportError
            raise unimportable_class(exc) from exc


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

        try:
            return joblib.load(io.BytesIO(data))
        except (AttributeError, ImportError) as exc:
            raise unimportable_class(exc) from exc
