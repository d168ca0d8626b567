"""Why a dict or list is not saved as JSON: the first key path and value that would not round-trip, and why.

The ``json`` format (:mod:`modelver.formats.text`) takes a dict or list only when ``json`` gives it back equal; when
no safe format fits a dict or list, :func:`modelver.formats.core.choose_format` names the first offending part with
:func:`json_problem` instead of a generic refusal.
"""

from __future__ import annotations

import math
from typing import Any

#: What to do with a numpy array inside a dict that should be JSON.
_ARRAY_ADVICE = "save it apart with save_model(array, name=...) or use .tolist()"


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _article(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" else "a"


def _child(path: str, key: object) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _value_problem(value: object) -> str | None:
    """Why one leaf ``value`` is not JSON-able (``None`` when it is)."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r}: JSON has no NaN or infinity; use None or a string"
    name = _type_name(value)
    described = f"{_article(name)} {name}"
    if isinstance(value, tuple):
        return f"{described}: it would load back as a list; use a list"
    if isinstance(value, set | frozenset):
        return f"{described}: JSON has no sets; use a sorted list"
    if isinstance(value, bytes | bytearray):
        return f"{described}: JSON has no bytes; decode it to a str, or save it apart with save_model(..., name=...)"
    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        if type(value).__name__ == "ndarray":
            return f"{described}: {_ARRAY_ADVICE}"
        return f"{described}: use .item() for a plain Python number"
    return f"{described}: JSON holds only dicts, lists, strings, numbers, booleans and null"


def json_problem(obj: object) -> str | None:
    """The first part of ``obj`` that keeps it from being saved as JSON, and why, in words.

    Dicts and lists are walked depth first in their order; a path is dotted keys and ``[index]``es (``layers[2].w``).

    Args:
        obj: the dict or list being saved.

    Returns:
        e.g. ``"key 1 is an int: JSON keys are strings"``, ``"t is a tuple: it would load back as a list; use a
        list"``, ``"w is a numpy.ndarray: save it apart with save_model(array, name=...) or use .tolist()"``;
        ``None`` when no part is at fault (or ``obj`` is neither a dict nor a list).

    Example:
        >>> json_problem({"t": (1, 2)})
        't is a tuple: it would load back as a list; use a list'
        >>> json_problem({"a": [1, {2: "x"}]})
        'key 2 under a[1] is an int: JSON keys are strings'
        >>> json_problem({"lr": 0.1}) is None
        True
    """
    if not isinstance(obj, dict | list):
        return None
    return _walk(obj, "", set())


def _walk(node: Any, path: str, seen: set[int]) -> str | None:
    if id(node) in seen:
        return f"{path or 'the value'} refers back to itself: JSON cannot hold a cycle"
    seen = seen | {id(node)}
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(node, dict) and not isinstance(key, str):
            where = f" under {path}" if path else ""
            name = _type_name(key)
            return f"key {key!r}{where} is {_article(name)} {name}: JSON keys are strings"
        child = _child(path, key)
        if isinstance(value, dict | list):
            found = _walk(value, child, seen)
        else:
            problem = _value_problem(value)
            found = None if problem is None else f"{child} is {problem}"
        if found is not None:
            return found
    return None
