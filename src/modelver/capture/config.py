"""Lossless encoding of a run's config into plain JSON, and back.

:func:`encode_config` turns any config value into JSON that :func:`modelver.serde.canonical_json` accepts, and
:func:`decode_config` turns that JSON back into a value equal to the original.

JSON-native values stay plain: ``str``, ``bool``, ``None``, ``int``, finite ``float``, ``list``, and ``dict`` whose keys
are all ``str`` with none of them ``"$type"``. Everything else becomes a *tagged object* ``{"$type": <tag>, ...}``:

- ``tuple``: ``items``, each encoded.
- ``set``, ``frozenset``: ``items``, sorted by their canonical JSON so that equal sets encode identically.
- ``dict``: a ``dict`` with a non-``str`` key or a ``"$type"`` key; ``items`` are ``[key, value]`` pairs sorted by the
  canonical JSON of the key.
- ``int``: an ``int`` over 14,000 bits, as ``hex`` (Python writes and reads at most 4,300 decimal digits).
- ``float``: NaN, infinity, minus infinity, as ``value`` ``"nan"``, ``"inf"``, ``"-inf"`` (a NaN's sign and payload are
  not kept). ``-0.0`` is plain JSON and keeps its sign.
- ``complex``: ``real`` and ``imag``, each a float as above.
- ``bytes``: ``base64``.
- ``decimal``: ``decimal.Decimal`` as ``value`` ``str(d)``, which keeps the exponent, NaN and infinities.
- ``uuid``: ``value``.
- ``path``: ``pathlib`` paths, as ``class`` (``PosixPath``, ``WindowsPath``, ``PurePosixPath`` or ``PureWindowsPath``)
  and ``value`` (``str(path)``). A concrete path of the other operating system decodes to its pure class. A path
  that pathlib cannot read back from its ``str()`` (a malformed Windows UNC path) is unencodable.
- ``datetime``, ``time``: ``value`` is ``isoformat()``, with the UTC offset when aware; ``zone`` is the key of a
  ``zoneinfo.ZoneInfo``, restored with it; ``fold`` is there when 1. Other ``tzinfo`` classes decode as fixed
  offsets (without a name).
- ``date``: ``value`` is ``isoformat()``.
- ``timedelta``: ``value`` is an ISO 8601 duration, ``[-]P<days>DT<seconds>[.<microseconds>]S``.
- ``enum``: an enum member, as ``class`` (``"module:QualName"``), ``name`` and the encoded ``value``.
- ``numpy.generic``: a numpy scalar, as ``dtype`` (``dtype.str``, byte order included) and ``value``, the exact value
  as a Python number, string or ``bytes``; ``datetime64``/``timedelta64`` as the int64 count of their unit (exact,
  ``NaT`` included).
- ``numpy.ndarray``: a numpy array, as ``dtype``, ``shape`` and ``values`` (nested lists; int64 unit counts for
  ``datetime64``/``timedelta64``). Boolean, integer, float and complex (up to 64-bit components), ``datetime64``,
  ``timedelta64``, ``str_`` and ``bytes_`` dtypes only.
- ``dataclass``, ``attrs``: an instance, as ``class`` and ``fields`` (field name to encoded value). Decoding calls the
  class with the fields its ``__init__`` takes (so validators and ``__post_init__`` run) and sets the others.
- ``namespace``: an ``argparse.Namespace``, as ``fields``. ``pydantic``, ``omegaconf``: see :mod:`.config_libs`.
- ``redacted``: the value of a key or field whose name names a secret (:func:`modelver.capture.redact.is_secret_key`),
  or a string in which detect-secrets found one, under any key (then with ``detector``: ``"OpenAIDetector"``...).
  A string holding a URL keeps the URL but loses ``user:password@`` and signature/token query parameters; its
  path is listed in :attr:`EncodedConfig.redacted` too (such strings do not round-trip, by design).
  ``None`` and booleans are kept: they cannot hold a secret, and ``use_auth_token: true`` is worth seeing.
- ``unencodable``: anything else, as ``type`` (``"module.QualName"``) and ``repr`` (at most 200 characters).

A subclass of a built-in type above (``OrderedDict``, a named tuple, a ``str`` subclass) is encoded as that built-in
type and decodes to an equal value of it. Enum members and numpy values are recognised first, so an ``IntEnum``
member stays a member and a ``numpy.float64`` stays a numpy scalar.

Encoding never raises: a value that cannot be encoded (an open file, a function, a numpy object array, a container
that contains itself, nesting deeper than 100 levels, a string with lone surrogates) becomes an ``unencodable`` object
and an entry in :attr:`EncodedConfig.errors`.

Decoding imports no module to find an enum, dataclass or attrs class unless asked to (see :func:`decode_config`).
numpy is imported only to encode a value whose type comes from numpy, or to decode a numpy tag.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import functools
import math
import pathlib
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from modelver.capture.config_decode import PATH_CLASSES as _PATH_CLASSES
from modelver.capture.config_decode import TAG
from modelver.capture.config_libs import library_handler
from modelver.capture.redact import is_secret_key, redact_text
from modelver.capture.secrets import ValueScan
from modelver.serde import canonical_json

__all__ = ["TAG", "EncodedConfig", "encode_config"]

#: The key that marks a tagged object.

_MAX_DEPTH = 100
_MAX_REPR = 200
# json writes ints through int.__repr__, which refuses more than 4,300 digits (sys.get_int_max_str_digits()) and
# json.loads refuses to read them; hex has no such limit. 14,000 bits is about 4,214 digits.
_MAX_PLAIN_INT_BITS = 14_000
# Not object ("O": anything at all) nor void ("V": structured records).
_NUMPY_KINDS = "biufcmMUS"
# Python floats hold float16/32/64 exactly; longdouble has no exact Python form.
_NUMPY_MAX_ITEMSIZE = {"f": 8, "c": 16}


@attrs.frozen
class EncodedConfig:
    """A config encoded as plain JSON.

    Attributes:
        value: the encoded config; plain JSON values that :func:`modelver.serde.canonical_json` accepts.
        errors: one ``(key path, exception class name, message)`` per value that could not be encoded, e.g.
            ``("optimizer.schedule", "TypeError", "no lossless encoding for builtins.function: <function ...>")``.
            Paths join ``str`` keys and field names with ``.``, index sequences with ``[i]``, other keys with
            ``[repr(key)]`` and set items with ``[*]``; the config itself is ``""``.
        redacted: key paths whose values were replaced by ``{"$type": "redacted"}`` because the key names a secret.
    """

    value: Any
    errors: tuple[tuple[str, str, str], ...] = ()
    redacted: tuple[str, ...] = ()


def encode_config(value: object) -> EncodedConfig:
    """Encode a config losslessly as plain JSON (the rules are in the module docstring).

    Args:
        value: the config, usually a ``dict``, a dataclass or an ``argparse.Namespace``.

    Returns:
        The encoded value, with the paths of the values that could not be encoded and of those redacted.
        Never raises for any value.

    Example:
        >>> modelver.encode_config({"lr": 0.1, "layers": (64, 32)}).value  # doctest: +SKIP
        {'lr': 0.1, 'layers': {'$type': 'tuple', 'items': [64, 32]}}
    """
    encoder = _Encoder()
    encoded = encoder.encode(value, "")
    if encoder.secrets.unavailable:  # recorded, not raised: the config is still stored, minus key-named secrets
        encoder.errors.append(("", "MissingDependencyError", f"values not scanned: {encoder.secrets.unavailable}"))
    return EncodedConfig(value=encoded, errors=tuple(encoder.errors), redacted=tuple(encoder.redacted))


# --- encoding ---------------------------------------------------------------------------------------------------

_Handler = Callable[["_Encoder", Any, str], Any]


class _Encoder:
    """Encodes one config, collecting errors and redacted paths."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.redacted: list[str] = []
        self.secrets = ValueScan()  # secrets found by content, under any key (docs/security.md)
        # Objects on the path from the root to the value being encoded: a cycle check, and its size is the depth.
        self._active: set[int] = set()

    def encode(self, value: object, path: str) -> Any:
        if id(value) in self._active:
            return self._fail(value, path, ValueError("a container that contains itself cannot be encoded"))
        if len(self._active) >= _MAX_DEPTH:
            return self._fail(value, path, ValueError(f"nested deeper than {_MAX_DEPTH} levels"))
        self._active.add(id(value))
        try:
            return _handler_for(value)(self, value, path)
        except Exception as exc:  # a config value's own methods can raise anything; encoding must not
            return self._fail(value, path, exc)
        finally:
            self._active.discard(id(value))

    def field(self, key: str, value: object, path: str) -> Any:
        """Encode the value of a ``str`` key or attribute, redacting it if the key names a secret."""
        child = _join(path, key)
        if is_secret_key(key) and value is not None and not isinstance(value, bool):
            self.redacted.append(child)
            return {TAG: "redacted"}
        return self.encode(value, child)

    def text(self, value: str, path: str) -> Any:
        """Encode a string: URL credentials stripped, a found secret redacted (the path is recorded for both)."""
        text = _text(value)
        stripped = redact_text(text) if "://" in text else text  # URL credentials go first; the rest is scanned
        if (detector := self.secrets.find(stripped, path)) is not None:
            self.redacted.append(path)
            return {TAG: "redacted", "detector": detector}
        if stripped != text:
            self.redacted.append(path)
        return stripped

    def fields(self, items: Iterable[tuple[str, object]], path: str) -> dict[str, Any]:
        return {_text(key): self.field(key, value, path) for key, value in items}

    def _fail(self, value: object, path: str, exc: Exception) -> dict[str, str]:
        shown = redact_text(_safe_repr(value))
        self.errors.append((path, type(exc).__name__, f"{_clean(str(exc))}: {shown}"))
        return {TAG: "unencodable", "type": _type_name(type(value)), "repr": shown}


def _handler_for(value: object) -> _Handler:
    cls = type(value)
    table = _handlers()
    handler = table.get(cls)
    if handler is not None:
        return handler
    # Before the subclasses of built-in types: an IntEnum member is an int and numpy.float64 is a float, but neither
    # should decode as one.
    if isinstance(value, enum.Enum):
        return _encode_enum
    if cls.__module__.partition(".")[0] == "numpy":
        return _encode_numpy
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass
    if attrs.has(cls):
        return _encode_attrs
    for base in cls.__mro__:
        handler = table.get(base)
        if handler is not None:
            return handler
    if (found := library_handler(value)) is not None:
        return found
    raise TypeError(f"no lossless encoding for {_type_name(cls)}")


@functools.cache
def _handlers() -> dict[type, _Handler]:
    # Imported on first use rather than with modelver, to keep `import modelver` fast.
    import argparse
    import decimal

    return {
        str: lambda enc, v, path: enc.text(v, path),
        bool: lambda _, v, __: v,
        type(None): lambda _, v, __: v,
        int: _encode_int,
        float: lambda _, v, __: _float(v),
        complex: lambda _, v, __: {TAG: "complex", "real": _float(v.real), "imag": _float(v.imag)},
        list: _encode_list,
        tuple: lambda enc, v, path: {TAG: "tuple", "items": _encode_list(enc, v, path)},
        set: _encode_set,
        frozenset: _encode_set,
        dict: _encode_dict,
        bytes: lambda _, v, __: {TAG: "bytes", "base64": base64.b64encode(v).decode("ascii")},
        decimal.Decimal: lambda _, v, __: {TAG: "decimal", "value": str(v)},
        uuid.UUID: lambda _, v, __: {TAG: "uuid", "value": str(v)},
        pathlib.PurePath: _encode_path,
        dt.datetime: _encode_datetime,
        dt.time: _encode_datetime,
        dt.date: lambda _, v, __: {TAG: "date", "value": dt.date.isoformat(v)},
        dt.timedelta: _encode_timedelta,
        argparse.Namespace: lambda enc, v, path: {TAG: "namespace", "fields": enc.fields(vars(v).items(), path)},
    }


def _text(value: str) -> str:
    text = str.__str__(value)  # a plain str, also from a str subclass
    text.encode()  # raises UnicodeEncodeError for lone surrogates, which canonical JSON cannot write
    return text


def _encode_int(_: _Encoder, value: int, path: str) -> Any:
    number = int.__index__(value)
    if number.bit_length() > _MAX_PLAIN_INT_BITS:
        return {TAG: "int", "hex": hex(number)}
    return number


def _float(value: float) -> Any:
    number = float(value)
    return number if math.isfinite(number) else {TAG: "float", "value": repr(number)}


def _encode_list(enc: _Encoder, value: list[Any] | tuple[Any, ...], path: str) -> list[Any]:
    return [enc.encode(item, f"{path}[{i}]") for i, item in enumerate(value)]


def _encode_set(enc: _Encoder, value: set[Any] | frozenset[Any], path: str) -> Any:
    items = sorted((enc.encode(item, f"{path}[*]") for item in value), key=canonical_json)
    return {TAG: "frozenset" if isinstance(value, frozenset) else "set", "items": items}


def _encode_dict(enc: _Encoder, value: dict[Any, Any], path: str) -> Any:
    if all(isinstance(key, str) and key != TAG for key in value):
        return enc.fields(value.items(), path)
    pairs = []
    for key, item in value.items():
        if isinstance(key, str):
            pairs.append([enc.encode(key, _join(path, key)), enc.field(key, item, path)])
        else:
            child = f"{path}[{_safe_repr(key)}]"
            pairs.append([enc.encode(key, child), enc.encode(item, child)])
    pairs.sort(key=lambda pair: canonical_json(pair[0]))
    return {TAG: "dict", "items": pairs}


def _encode_path(_: _Encoder, value: pathlib.PurePath, path: str) -> Any:
    # The nearest pathlib class, for a subclass of one.
    cls = next(c for c in type(value).__mro__ if c.__name__ in _PATH_CLASSES and c.__module__.startswith("pathlib"))
    text = _text(str(value))
    # pathlib cannot parse some malformed Windows paths back from their str() (an empty UNC share, "./a:b").
    if cls(text) != value:
        raise ValueError(f"pathlib does not read {text!r} back as the same {cls.__name__}")
    return {TAG: "path", "class": cls.__name__, "value": text}


def _encode_datetime(_: _Encoder, value: dt.datetime | dt.time, path: str) -> Any:
    import zoneinfo

    if isinstance(value, dt.datetime):
        out: dict[str, Any] = {TAG: "datetime", "value": dt.datetime.isoformat(value)}
    else:
        out = {TAG: "time", "value": dt.time.isoformat(value)}
    if isinstance(value.tzinfo, zoneinfo.ZoneInfo) and value.tzinfo.key:
        out["zone"] = value.tzinfo.key
    if value.fold:
        out["fold"] = 1
    return out


def _encode_timedelta(_: _Encoder, value: dt.timedelta, path: str) -> Any:
    total = value // dt.timedelta(microseconds=1)
    seconds, micros = divmod(abs(total), 1_000_000)
    days, seconds = divmod(seconds, 86_400)
    fraction = f".{micros:06d}" if micros else ""
    return {TAG: "timedelta", "value": f"{'-' if total < 0 else ''}P{days}DT{seconds}{fraction}S"}


def _encode_enum(enc: _Encoder, value: enum.Enum, path: str) -> Any:
    # name is None for a combination of Flag members before Python 3.11; those decode through the value.
    name = None if value.name is None else _text(value.name)
    return {TAG: "enum", "class": _class_path(type(value)), "name": name, "value": enc.encode(value.value, path)}


def _encode_dataclass(enc: _Encoder, value: Any, path: str) -> Any:
    items = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    return {TAG: "dataclass", "class": _class_path(type(value)), "fields": enc.fields(items, path)}


def _encode_attrs(enc: _Encoder, value: Any, path: str) -> Any:
    items = ((a.name, getattr(value, a.name)) for a in attrs.fields(type(value)))
    return {TAG: "attrs", "class": _class_path(type(value)), "fields": enc.fields(items, path)}


def _encode_numpy(enc: _Encoder, value: Any, path: str) -> Any:
    import numpy as np

    if type(value) is np.ndarray:
        tag = "numpy.ndarray"
    elif isinstance(value, np.generic):
        tag = "numpy.generic"
    else:  # masked arrays, matrices, dtypes, ufuncs...
        raise TypeError(f"no lossless encoding for {_type_name(type(value))}")
    dtype = value.dtype
    if dtype.kind not in _NUMPY_KINDS or dtype.itemsize > _NUMPY_MAX_ITEMSIZE.get(dtype.kind, dtype.itemsize):
        raise TypeError(f"no lossless encoding for numpy dtype {dtype} (kind {dtype.kind!r})")
    out: dict[str, Any] = {TAG: tag, "dtype": dtype.str}
    if dtype.kind in "mM":
        # As int64 counts of the dtype's unit: exact, NaT included. Going through datetime/timedelta is not
        # (numpy converts back via microseconds and overflows near the ends of the int64 range).
        counts = np.asarray(value).view(np.int64)
        if tag == "numpy.generic":
            out["value"] = int(counts)
        else:
            out["shape"] = list(value.shape)
            out["values"] = counts.tolist()
        return out
    if tag == "numpy.generic":
        out["value"] = enc.encode(value.item(), path)
        return out
    out["shape"] = list(value.shape)
    # Integers, booleans and finite floats come out of tolist() as plain JSON already; skip the walk over them.
    if dtype.kind in "biu" or (dtype.kind == "f" and bool(np.isfinite(value).all())):
        out["values"] = value.tolist()
    else:
        out["values"] = enc.encode(value.tolist(), path)
    return out


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not stop the encoding
        text = f"<{_type_name(type(value))} object; repr() raised {type(exc).__name__}>"
    text = _clean(text)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 1] + "…"


def _join(path: str, key: str) -> str:
    return f"{path}.{_clean(key)}" if path else _clean(key)


def _clean(text: str) -> str:
    """``text`` with lone surrogates escaped, for the messages and paths that canonical JSON must be able to write."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
