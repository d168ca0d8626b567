"""Recorded configs as plain nested data and as a flat view of dotted keys, for people and for comparisons.

A config is recorded losslessly (:func:`modelver.capture.config.encode_config`): a dataclass, a pydantic model or an
``argparse.Namespace`` becomes a tagged object ``{"$type": "dataclass", "class": ..., "fields": {...}}``. That is
right for rebuilding it, and wrong for reading or comparing it. :func:`plain_config` drops the envelopes and keeps the
values; :func:`flatten_config` turns the result into one key per value (``{"opt.name": "adam", "lr": 0.01}``), which
``modelver diff``, the web UI and search use, so that a change shows as ``config.lr: 0.01 → 0.02``.

Plain forms of the tags:

- ``dataclass``, ``attrs``, ``pydantic``, ``namespace``: the ``fields`` object; ``omegaconf``: its ``value``.
- ``tuple``, ``set``, ``frozenset``: a list. ``dict`` (with non-``str`` keys): an object whose keys are the
  canonical JSON of the plain key (``"1"``, ``"[1,2]"``), or the key itself when it is a string.
- ``enum``: the member's name (its plain value for a nameless ``Flag`` combination). ``numpy.generic``: the value;
  ``numpy.ndarray``: the nested list of values.
- ``float`` (non-finite): ``"nan"``, ``"inf"``, ``"-inf"``; ``int`` (huge): ``"0x<hex>"``; ``complex``: ``str()`` of
  it (``"(1+2j)"``); ``bytes``: the base64 text.
- ``decimal``, ``uuid``, ``path``, ``datetime``, ``date``, ``time``, ``timedelta``: the recorded text ``value``.
- ``redacted``: ``"[redacted]"``; ``unencodable``: its ``repr``. An unknown tag is kept as it is.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

from modelver.serde import canonical_json

__all__ = ["REDACTED", "flatten_config", "plain_config", "unresolved_classes"]

#: The plain form of a redacted value.
REDACTED = "[redacted]"

_TAG = "$type"
_FIELDS = {"dataclass", "attrs", "pydantic", "namespace"}
_TEXT = {"decimal", "uuid", "path", "datetime", "date", "time", "timedelta"}


def plain_config(recorded: Any) -> Any:
    """A recorded config as plain nested JSON data: objects, lists and scalars, no ``$type`` envelope.

    Args:
        recorded: the config as recorded (``Manifest.config``, or what :func:`modelver.encode_config` returned in
            ``value``); plain JSON values.

    Returns:
        The same values with every tagged object replaced by its plain form (listed in the module docstring).

    Example:
        >>> plain_config({"opt": {"$type": "dataclass", "class": "train:Opt", "fields": {"lr": 0.01}}})
        {'opt': {'lr': 0.01}}
    """
    if isinstance(recorded, list):
        return [plain_config(item) for item in recorded]
    if not isinstance(recorded, dict):
        return recorded
    if _TAG not in recorded:
        return {key: plain_config(item) for key, item in recorded.items()}
    tag = recorded[_TAG]
    if not isinstance(tag, str):  # not written by encode_config (a hand-made manifest): shown as it is
        return {key: plain_config(item) for key, item in recorded.items()}
    if tag in _FIELDS and isinstance(recorded.get("fields"), dict):
        return plain_config(recorded["fields"])
    if tag == "omegaconf":
        return plain_config(recorded.get("value"))
    if tag in ("tuple", "set", "frozenset"):
        return plain_config(recorded.get("items"))
    if tag == "dict" and isinstance(recorded.get("items"), list):
        pairs = [pair for pair in recorded["items"] if isinstance(pair, list) and len(pair) == 2]
        return {_key(plain_config(key)): plain_config(item) for key, item in pairs}
    return _scalar(tag, recorded)


def _scalar(tag: Any, recorded: dict[str, Any]) -> Any:
    if tag == "enum":
        name = recorded.get("name")
        return name if name is not None else plain_config(recorded.get("value"))
    if tag == "numpy.generic":
        return plain_config(recorded.get("value"))
    if tag == "numpy.ndarray":
        return plain_config(recorded.get("values"))
    if tag == "float" or tag in _TEXT:
        return recorded.get("value")
    if tag == "int":
        return f"0x{recorded.get('hex')}"
    if tag == "complex":
        real, imag = (_number(recorded.get(part)) for part in ("real", "imag"))
        return str(complex(real, imag))
    if tag == "bytes":
        return recorded.get("base64")
    if tag == "redacted":
        return REDACTED
    if tag == "unencodable":
        return recorded.get("repr")
    return recorded


def _number(value: Any) -> float:
    if isinstance(value, dict) and value.get("value") in ("nan", "inf", "-inf"):  # a non-finite float
        return float(value["value"])
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    try:
        return canonical_json(key).decode()
    except ValueError:  # a NaN in a hand-made manifest: still a readable key
        return json.dumps(key, sort_keys=True, default=str)


def flatten_config(recorded: Any) -> dict[str, Any]:
    """A recorded config as one key per value: nested objects become dotted keys, envelopes are dropped.

    Objects nest with ``.``; a key that holds a dot, starts with ``[`` or is empty is written in brackets as a JSON
    string (``opt["a.b"]``) so that the path stays unambiguous. Lists are values, compared and shown whole; an empty
    object is a value too. A config that is not an object (a list, a number) is the single key ``""``.

    Args:
        recorded: the config as recorded (see :func:`plain_config`).

    Returns:
        Dotted key to plain JSON value, keys in the config's order.

    Example:
        >>> flatten_config({"lr": 0.01, "opt": {"$type": "attrs", "class": "t:Opt", "fields": {"name": "adam"}}})
        {'lr': 0.01, 'opt.name': 'adam'}
    """
    out: dict[str, Any] = {}
    _flatten(plain_config(recorded), "", out)
    return out


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if not isinstance(value, dict) or (not value and prefix):
        out[prefix] = value
        return
    for key, item in value.items():
        part = f"[{json.dumps(key, ensure_ascii=False)}]" if "." in key or not key or key.startswith("[") else key
        _flatten(item, f"{prefix}{part}" if part.startswith("[") or not prefix else f"{prefix}.{part}", out)


# Tags that decode_config leaves in place only when their class (or numpy) cannot be found here.
_CLASS_TAGS = {"dataclass", "attrs", "pydantic", "enum", "omegaconf", "numpy.generic", "numpy.ndarray"}


def unresolved_classes(decoded: Any) -> tuple[str, ...]:
    """The classes that :func:`modelver.decode_config` could not rebuild, found as envelopes left in its result.

    Args:
        decoded: what ``decode_config`` returned; rebuilt dataclass, attrs and pydantic instances, namespaces,
            mappings and sequences are searched.

    Returns:
        The ``class`` (or tag, for numpy values) of each envelope left, sorted, without repeats.

    Example:
        >>> unresolved_classes([{"$type": "dataclass", "class": "gone:Opt", "fields": {}}])
        ('gone:Opt',)
    """
    found: set[str] = set()
    _find_envelopes(decoded, found, 0)
    return tuple(sorted(found))


def _find_envelopes(value: Any, found: set[str], depth: int) -> None:
    import dataclasses
    from collections.abc import Mapping

    if depth > 200 or isinstance(value, (str, bytes, int, float, type(None))):
        return
    if isinstance(value, Mapping):
        tag = value.get(_TAG) if isinstance(value, dict) else None
        if isinstance(tag, str) and tag in _CLASS_TAGS:
            found.add(str(value.get("class") or tag))
            return
        children: Any = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "ListConfig":
        children = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, f.name, None) for f in dataclasses.fields(value)]
    elif attrs.has(type(value)):
        children = [getattr(value, a.name, None) for a in attrs.fields(type(value))]
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        children = list(vars(value).values())  # an argparse.Namespace, a pydantic model
    else:
        return
    for child in children:
        _find_envelopes(child, found, depth + 1)
