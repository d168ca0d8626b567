"""Decoding of configs recorded by :func:`modelver.capture.config.encode_config` back into equal values.

The tags and their rules are in the docstring of :mod:`modelver.capture.config`. Classes are looked up in
``sys.modules`` only: decoding imports no module, and so runs no code, unless asked to.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import importlib
import os
import pathlib
import re
import sys
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from modelver.capture.config_libs import DECODERS

TAG = "$type"
# Paths are rebuilt as the class they were, or its pure twin where that class cannot exist on this platform.
PATH_CLASSES: dict[str, type[pathlib.PurePath]] = {
    "PurePosixPath": pathlib.PurePosixPath,
    "PureWindowsPath": pathlib.PureWindowsPath,
    "PosixPath": pathlib.PosixPath if os.name != "nt" else pathlib.PurePosixPath,
    "WindowsPath": pathlib.WindowsPath if os.name == "nt" else pathlib.PureWindowsPath,
}
_DURATION_RE = re.compile(r"(-?)P(\d+)DT(\d+)(?:\.(\d{6}))?S")
_SUBSECOND_OFFSET_RE = re.compile(r"([+-])(\d\d):(\d\d):(\d\d)\.(\d{6})$")


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

    Example:
        >>> modelver.decode_config({"layers": {"$type": "tuple", "items": [64, 32]}})  # doctest: +SKIP
        {'layers': (64, 32)}
    """
    try:
        return _decode(value, allow_import)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ValueError(
            f"malformed encoded config ({type(exc).__name__}: {exc}); was it made by encode_config?"
        ) from exc


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
    return PATH_CLASSES[obj["class"]](obj["value"])


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
    **{tag: functools.partial(decode, decode=_decode, find_class=_find_class) for tag, decode in DECODERS.items()},
}
