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
- ``namespace``: an ``argparse.Namespace``, as ``fields``.
- ``redacted``: the value of a key or field whose name names a secret (:func:`modelver.capture.redact.is_secret_key`).
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
import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import importlib
import math
import os
import pathlib
import re
import sys
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from modelver.capture.redact import is_secret_key, redact_text
from modelver.serde import canonical_json

__all__ = ["TAG", "EncodedConfig", "decode_config", "encode_config"]

#: The key that marks a tagged object.
TAG = "$type"

_MAX_DEPTH = 100
_MAX_REPR = 200
# json writes ints through int.__repr__, which refuses more than 4,300 digits (sys.get_int_max_str_digits()) and
# json.loads refuses to read them; hex has no such limit. 14,000 bits is about 4,214 digits.
_MAX_PLAIN_INT_BITS = 14_000
# Not object ("O": anything at all) nor void ("V": structured records).
_NUMPY_KINDS = "biufcmMUS"
# Python floats hold float16/32/64 exactly; longdouble has no exact Python form.
_NUMPY_MAX_ITEMSIZE = {"f": 8, "c": 16}
_DURATION_RE = re.compile(r"(-?)P(\d+)DT(\d+)(?:\.(\d{6}))?S")
_SUBSECOND_OFFSET_RE = re.compile(r"([+-])(\d\d):(\d\d):(\d\d)\.(\d{6})$")
_PATH_CLASSES: dict[str, type[pathlib.PurePath]] = {
    "PurePosixPath": pathlib.PurePosixPath,
    "PureWindowsPath": pathlib.PureWindowsPath,
    "PosixPath": pathlib.PosixPath if os.name != "nt" else pathlib.PurePosixPath,
    "WindowsPath": pathlib.WindowsPath if os.name == "nt" else pathlib.PureWindowsPath,
}


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
    """
    encoder = _Encoder()
    encoded = encoder.encode(value, "")
    return EncodedConfig(value=encoded, errors=tuple(encoder.errors), redacted=tuple(encoder.redacted))


def decode_config(value: Any, *, allow_import: bool = False) -> Any:
    """Decode what :func:`encode_config` produced back into an equal value.

    Enum, dataclass and attrs classes are looked up in ``sys.modules`` only: decoding imports no module (and so runs
    no code) unless ``allow_import`` is true. A tagged object is returned unchanged, as the tagged ``dict``, when its
    class cannot be found or no longer accepts the recorded fields, when its tag is ``redacted``, ``unencodable``
    or unknown, when numpy is needed but not installed, and when a set or ``dict`` would get an unhashable item
    (an unencodable key, say).

    Args:
        value: plain JSON values, as :func:`encode_config` produced them or ``json.loads`` read them back.
        allow_import: import the module of an enum, dataclass or attrs class that is not imported yet.

    Returns:
        The decoded value.

    Raises:
        ValueError: a tagged object is malformed (it was not produced by :func:`encode_config`).
    """
    try:
        return _decode(value, allow_import)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ValueError(
            f"malformed encoded config ({type(exc).__name__}: {exc}); was it made by encode_config?"
        ) from exc


# --- encoding ---------------------------------------------------------------------------------------------------

_Handler = Callable[["_Encoder", Any, str], Any]


class _Encoder:
    """Encodes one config, collecting errors and redacted paths."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.redacted: list[str] = []
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

    def text(self, value: str, path: str) -> str:
        """Encode a string; a URL carrying credentials or a signature loses them (and the path is recorded)."""
        text = _text(value)
        if "://" in text:
            stripped = redact_text(text)
            if stripped != text:
                self.redacted.append(path)
                return stripped
        return text

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


# --- decoding ---------------------------------------------------------------------------------------------------

_Decoder = Callable[[dict[str, Any], bool], Any]


def _decode(value: Any, allow_import: bool) -> Any:
    if isinstance(value, list):
        return [_decode(item, allow_import) for item in value]
    if not isinstance(value, dict):
        return value
    if TAG not in value:
        return {key: _decode(item, allow_import) for key, item in value.items()}
    decoder = _DECODERS.get(value[TAG])
    return value if decoder is None else decoder(value, allow_import)


def _decode_set(obj: dict[str, Any], allow_import: bool) -> Any:
    items = _decode(obj["items"], allow_import)
    try:
        return frozenset(items) if obj[TAG] == "frozenset" else set(items)
    except TypeError:  # an unhashable item: an unencodable value, or a class that was not found
        return obj


def _decode_dict(obj: dict[str, Any], allow_import: bool) -> Any:
    pairs = _decode(obj["items"], allow_import)
    try:
        return dict(pairs)
    except TypeError:  # an unhashable key, as for sets
        return obj


def _decode_float(obj: dict[str, Any], _: bool) -> float:
    text = obj["value"]
    if text not in ("nan", "inf", "-inf"):
        raise ValueError(f"not a non-finite float: {text!r}")
    return float(text)


def _decode_decimal(obj: dict[str, Any], _: bool) -> Any:
    import decimal

    return decimal.Decimal(obj["value"])


def _decode_path(obj: dict[str, Any], _: bool) -> pathlib.PurePath:
    return _PATH_CLASSES[obj["class"]](obj["value"])


def _decode_datetime(obj: dict[str, Any], _: bool) -> dt.datetime | dt.time:
    text = obj["value"]
    value = (dt.datetime if obj[TAG] == "datetime" else dt.time).fromisoformat(text)
    # CPython's fromisoformat reads an offset of under a second (+00:00:00.000001) as UTC (python/cpython#152079).
    fraction = _SUBSECOND_OFFSET_RE.search(text)
    if fraction is not None:
        sign, hours, minutes, seconds, micros = fraction.groups()
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds), microseconds=int(micros))
        value = value.replace(tzinfo=dt.timezone(-offset if sign == "-" else offset))
    if obj.get("zone"):
        import zoneinfo

        # Without that zone here, the fixed offset of the ISO form stands in for it. With it, the wall time, the
        # zone and the fold together are the original value exactly.
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(obj["zone"]))
    return value.replace(fold=obj.get("fold", 0))


def _decode_timedelta(obj: dict[str, Any], _: bool) -> dt.timedelta:
    match = _DURATION_RE.fullmatch(obj["value"])
    if match is None:
        raise ValueError(f"not a duration: {obj['value']!r}")
    sign, days, seconds, micros = match.groups()
    delta = dt.timedelta(days=int(days), seconds=int(seconds), microseconds=int(micros or 0))
    return -delta if sign else delta


def _decode_numpy(obj: dict[str, Any], allow_import: bool) -> Any:
    try:
        import numpy as np
    except ImportError:
        return obj
    dtype = np.dtype(obj["dtype"])
    if dtype.kind in "mM":
        counts = np.array(obj["value"] if obj[TAG] == "numpy.generic" else obj["values"], dtype=np.int64)
        decoded = counts.view(dtype)
        return decoded[()] if obj[TAG] == "numpy.generic" else decoded.reshape(obj["shape"])
    if obj[TAG] == "numpy.generic":
        return np.array(_decode(obj["value"], allow_import), dtype=dtype)[()]
    return np.array(_decode(obj["values"], allow_import), dtype=dtype).reshape(obj["shape"])


def _decode_enum(obj: dict[str, Any], allow_import: bool) -> Any:
    cls = _find_class(obj["class"], allow_import)
    if cls is None or not issubclass(cls, enum.Enum):
        return obj
    if obj["name"] in cls.__members__:
        return cls.__members__[obj["name"]]
    try:
        return cls(_decode(obj["value"], allow_import))
    except ValueError:  # the member is gone from the class
        return obj


def _decode_instance(obj: dict[str, Any], allow_import: bool) -> Any:
    cls = _find_class(obj["class"], allow_import)
    # Field name to the __init__ argument that sets it, or None for a field that __init__ does not take.
    if cls is not None and obj[TAG] == "dataclass" and dataclasses.is_dataclass(cls):
        init_names = {f.name: f.name if f.init else None for f in dataclasses.fields(cls)}
    elif cls is not None and obj[TAG] == "attrs" and attrs.has(cls):
        init_names = {a.name: a.alias if a.init else None for a in attrs.fields(cls)}
    else:
        return obj
    fields = {name: _decode(item, allow_import) for name, item in obj["fields"].items()}
    if not fields.keys() <= init_names.keys():
        return obj
    try:
        instance = cls(**{arg: fields[name] for name, arg in init_names.items() if arg and name in fields})
        for name, arg in init_names.items():
            if arg is None and name in fields:
                object.__setattr__(instance, name, fields[name])  # as a frozen class's own __init__ does
    except Exception:  # the class changed since the config was recorded, or its validators refuse a value
        return obj
    return instance


def _decode_namespace(obj: dict[str, Any], allow_import: bool) -> Any:
    import argparse

    return argparse.Namespace(**_decode(obj["fields"], allow_import))


def _find_class(path: str, allow_import: bool) -> type | None:
    module_name, _, qualname = path.partition(":")
    found: object = sys.modules.get(module_name)
    if found is None and allow_import:
        try:
            found = importlib.import_module(module_name)
        except Exception:  # a missing or broken module both mean "not found" here
            return None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


_DECODERS: dict[str, _Decoder] = {
    "tuple": lambda obj, imp: tuple(_decode(obj["items"], imp)),
    "set": _decode_set,
    "frozenset": _decode_set,
    "dict": _decode_dict,
    "int": lambda obj, _: int(obj["hex"], 16),
    "float": _decode_float,
    "complex": lambda obj, imp: complex(_decode(obj["real"], imp), _decode(obj["imag"], imp)),
    "bytes": lambda obj, _: base64.b64decode(obj["base64"], validate=True),
    "decimal": _decode_decimal,
    "uuid": lambda obj, _: uuid.UUID(obj["value"]),
    "path": _decode_path,
    "datetime": _decode_datetime,
    "time": _decode_datetime,
    "date": lambda obj, _: dt.date.fromisoformat(obj["value"]),
    "timedelta": _decode_timedelta,
    "enum": _decode_enum,
    "numpy.generic": _decode_numpy,
    "numpy.ndarray": _decode_numpy,
    "dataclass": _decode_instance,
    "attrs": _decode_instance,
    "namespace": _decode_namespace,
}
