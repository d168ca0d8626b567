"""Fingerprints of step arguments and outputs: the digests a step key and the lineage links are made of.

Fingerprints of arguments (:func:`fingerprint_value`)
    ``bytes``, numpy arrays, pandas frames/series and ``os.PathLike`` paths (the file or directory *content*) get
    exactly the digest :func:`modelver.fingerprint` gives them, so a step input links to ``manifest.data`` entries.
    A plain ``str`` is a value, not a path: wrap it in ``pathlib.Path`` to fingerprint the file. Scalars, numpy
    scalars, tuples, lists, dicts, sets, enums, dates, decimals, UUIDs, dataclass and attrs instances,
    ``argparse.Namespace`` and nested combinations are hashed through a typed canonical encoding (``1``, ``1.0``,
    ``True`` and ``"1"`` differ). A local function passed as an argument is hashed by its code identity. Any other
    object (a fitted model, a plain class instance, ``self``) is hashed by its pickle, made in memory and never
    stored, plus the code identity of its class when the class is the project's.

    **An argument that cannot be fingerprinted** (it cannot be pickled: an open file, a lock, a generator)
    **is a capture failure, not an error**: the call runs, without the cache, a
    :class:`~modelver.errors.CaptureWarning` names the argument and suggests ``ignore=``, and inside a run it is
    recorded in ``capture_errors`` (so ``strict=True`` publishes nothing). Tracking never breaks the pipeline.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import decimal
import enum
import os
import pickle
import types
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from modelver.capture.identity import code_identity, module_label
from modelver.capture.local_code import is_local_module
from modelver.data.sources import fingerprint
from modelver.errors import CaptureError
from modelver.serde import canonical_json
from modelver.store.digest import digest_bytes

__all__ = ["fingerprint_value", "output_fingerprints"]


class _UnfingerprintableError(Exception):
    """A value has no stable fingerprint; the message names its type."""


def fingerprint_value(value: object, algorithm: str = "blake3") -> str:
    """The fingerprint digest of a step argument or output (see the module docstring for what is supported).

    Raises:
        TypeError: ``value`` (or something inside it) has no stable fingerprint; the message names its type.
    """
    try:
        data = _data_digest(value, algorithm)
        if data is not None:
            return data
        return digest_bytes(canonical_json(["modelver.value/1", _encode(value, algorithm)]), algorithm)
    except _UnfingerprintableError as exc:
        raise TypeError(str(exc)) from None
    except RecursionError:
        raise TypeError(f"a {_type_name(value)} that contains itself cannot be fingerprinted") from None


def output_fingerprints(value: object, algorithm: str = "blake3") -> tuple[str | None, dict[str, str], str | None]:
    """The fingerprint of a step's output and of each of its parts, one level deep.

    The parts of a tuple or list (``"0"``, ``"1"``...) and of a dict with only ``str`` keys (its keys) get the digest
    :func:`fingerprint_value` gives them, so ``train, test = split(...)`` followed by ``fit(train)`` links ``fit``'s
    input to ``split``'s part ``"0"``. Each part is hashed once: the whole output's digest is built from the parts'
    encodings, and equals ``fingerprint_value(value)``.

    Returns:
        ``(output, outputs, error)``: the whole output's digest (``None`` when it cannot be fingerprinted), the parts'
        digests (empty for any other value; a part that cannot be fingerprinted is left out), and why the output
        could not be fingerprinted (``None`` when it could).
    """
    items: dict[str, Any] | None = None
    if isinstance(value, (tuple, list)) and not isinstance(value, enum.Enum):  # an enum is encoded by its name
        items = {str(i): item for i, item in enumerate(value)}
    elif isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        items = dict(value)
    if items is None:
        try:
            return fingerprint_value(value, algorithm), {}, None
        except TypeError as exc:
            return None, {}, str(exc)
    parts: dict[str, str] = {}
    encoded: dict[str, Any] = {}
    error = None
    for key, item in items.items():
        try:
            data = _data_digest(item, algorithm)
            encoded[key] = ["data", data] if data is not None else _encode(item, algorithm)
            parts[key] = data or digest_bytes(canonical_json(["modelver.value/1", encoded[key]]), algorithm)
        except _UnfingerprintableError as exc:
            error = error or str(exc)
        except RecursionError:
            error = error or f"a {_type_name(item)} that contains itself cannot be fingerprinted"
    if error is not None:
        return None, parts, error
    if isinstance(value, (tuple, list)):
        whole = _encode_sequence(value, [encoded[str(i)] for i in range(len(value))])
    else:
        whole = _encode_mapping([[_encode(key, algorithm), encoded[key]] for key in items])
    return digest_bytes(canonical_json(["modelver.value/1", whole]), algorithm), parts, None


def _encode_sequence(value: tuple[Any, ...] | list[Any], items: list[Any]) -> Any:
    kind = type(value).__name__ if type(value) in (tuple, list) else _qualified(type(value))
    return [kind, items]


def _encode_mapping(pairs: list[list[Any]]) -> Any:
    return ["dict", sorted(pairs, key=lambda kv: canonical_json(kv[0]))]


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _data_digest(value: object, algorithm: str) -> str | None:
    """``modelver.fingerprint``'s digest for the kinds it fingerprints as data, else ``None``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return fingerprint(value, algorithm=algorithm).digest
    if isinstance(value, os.PathLike):
        try:
            return fingerprint(os.fspath(value), algorithm=algorithm).digest
        except (CaptureError, OSError) as exc:  # a path that does not exist (yet: an output path), unreadable
            raise _UnfingerprintableError(str(exc)) from exc
    top = type(value).__module__.partition(".")[0]
    if top in ("numpy", "pandas"):
        import numpy as np

        if isinstance(value, np.ndarray) or top == "pandas":
            try:
                return fingerprint(value, algorithm=algorithm).digest
            except Exception as exc:  # CaptureError: object dtype, masked array, an element with no encoding
                raise _UnfingerprintableError(str(exc)) from exc
    return None


def _encode(value: object, algorithm: str) -> Any:
    """A typed, canonical JSON form of ``value`` (its digest is the value's fingerprint)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, enum.Enum):
        return ["enum", _qualified(type(value)), value.name]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, complex):
        return ["complex", repr(value)]
    if isinstance(value, str):
        return ["str", value]
    data = _data_digest(value, algorithm)
    if data is not None:
        return ["data", data]
    if type(value).__module__ == "numpy":
        import numpy as np

        if isinstance(value, np.generic) and value.dtype.kind != "O":
            return ["numpy", value.dtype.str, value.tobytes().hex()]
    if isinstance(value, (tuple, list)):
        return _encode_sequence(value, [_encode(item, algorithm) for item in value])
    if isinstance(value, Mapping):
        return _encode_mapping([[_encode(k, algorithm), _encode(v, algorithm)] for k, v in value.items()])
    if isinstance(value, (set, frozenset)):
        return ["set", sorted((_encode(item, algorithm) for item in value), key=canonical_json)]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return [type(value).__name__, value.isoformat()]
    if isinstance(value, dt.timedelta):
        return ["timedelta", [value.days, value.seconds, value.microseconds]]
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return [type(value).__name__, str(value)]
    if isinstance(value, argparse.Namespace):
        return ["namespace", _encode(vars(value), algorithm)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name), algorithm) for f in dataclasses.fields(value)}
        return ["dataclass", _qualified(type(value)), fields]
    if attrs.has(type(value)):
        fields = {f.name: _encode(getattr(value, f.name), algorithm) for f in attrs.fields(type(value))}  # type: ignore[arg-type]
        return ["attrs", _qualified(type(value)), fields]
    if isinstance(value, (types.FunctionType, type)):
        if is_local_module(value.__module__):
            return ["code", _qualified(value), code_identity(value, algorithm=algorithm).digest]
        return ["callable", _qualified(value)]
    if isinstance(value, types.BuiltinFunctionType):
        return ["callable", f"{value.__module__}.{value.__qualname__}"]
    return _pickled(value, algorithm)


def _pickled(value: object, algorithm: str) -> Any:
    """The last resort: the digest of the object's pickle (made here, never stored or loaded, so no code runs from
    a store), with the code identity of its class when the class is the project's: equal pickles of the same class
    code rebuild equal objects, so a match is never stale."""
    try:
        data = pickle.dumps(value, protocol=5)
    except Exception as exc:  # pickling raises TypeError, PicklingError, AttributeError... depending on the object
        raise _UnfingerprintableError(
            f"a {_type_name(value)} has no stable fingerprint (it cannot be pickled either: {exc})"
        ) from exc
    cls = type(value)
    code = code_identity(cls, algorithm=algorithm).digest if is_local_module(cls.__module__) else None
    return ["pickled", _qualified(cls), code, digest_bytes(data, algorithm)]


def _qualified(obj: Any) -> str:
    return f"{module_label(obj.__module__)}.{obj.__qualname__}"
