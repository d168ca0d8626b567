"""One cattrs converter for every value object, and the canonical JSON that digests are computed over.

Canonical JSON: keys sorted, no insignificant whitespace, UTF-8 (not ``\\u`` escapes), NaN and infinities refused.
Two equal manifests therefore always hash equal, on any machine.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import cattrs

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=False)

_Number = float | int | None


def _structure_number(value: Any, _: Any) -> float | int | None:
    # JSON keeps 3 and 3.0 apart; so do metrics (an epoch count stays an int).
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected a number or null, got {value!r}")


converter.register_structure_hook_func(lambda t: t == _Number, _structure_number)


def to_json_dict(obj: object) -> Any:
    """Unstructure an attrs value object into plain JSON values."""
    return converter.unstructure(obj)


def from_json_dict(data: Any, cls: type[T]) -> T:
    """Structure plain JSON values into ``cls``.

    Raises:
        cattrs.BaseValidationError: ``data`` does not fit ``cls``.
    """
    return converter.structure(data, cls)


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes.

    Raises:
        ValueError: ``value`` holds NaN or an infinity (they have no JSON form).
        TypeError: ``value`` holds something that is not a JSON value.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
