"""One cattrs converter for every value object, and the canonical JSON that digests are computed over.

Canonical JSON: keys sorted, no insignificant whitespace, UTF-8 (not ``\\u`` escapes), NaN and infinities refused.
Two equal manifests therefore always hash equal, on any machine.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import cattrs

from modelver.errors import IntegrityError

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


#: How deep a stored record may nest. Real manifests stay under 20 levels (a config nests a few more); a record
#: nested deeper is damaged or hostile, and would exhaust the recursion limit of whatever reads it next.
MAX_RECORD_DEPTH = 200


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def parse_record(data: bytes, what: str) -> Any:
    """Parse the JSON bytes of a stored record (a manifest, a tag, an event), whatever state they are in.

    Every way stored bytes can be broken (not UTF-8, empty, not JSON, numbers or nesting no parser copes with)
    becomes one :class:`~modelver.errors.IntegrityError` that names the record, so that no reader meets a
    ``UnicodeDecodeError``, ``JSONDecodeError`` or ``RecursionError`` from a damaged or hostile store.

    Args:
        data: the bytes as read from the store (already checked against their digest, where they have one).
        what: the record, for the message, e.g. ``"manifest blake3:3f9a… of churn@0.1.0"``.

    Returns:
        The parsed JSON value (a dict, list, str, number, bool or ``None``), nested at most
        :data:`MAX_RECORD_DEPTH` levels deep.

    Raises:
        IntegrityError: the bytes are not one JSON value in UTF-8, or nest deeper than :data:`MAX_RECORD_DEPTH`.

    Example:
        >>> parse_record(b'{"a": 1}', "example")
        {'a': 1}
    """
    try:
        text = data.decode("utf-8")
        if not text.strip():
            raise ValueError("it is empty")
        value = json.loads(text)
    except UnicodeDecodeError as exc:
        reason = f"it is not UTF-8 (byte {exc.start})"
    except RecursionError:
        reason = "it nests too deeply to parse"
    except ValueError as exc:  # JSONDecodeError, and ints over the digit limit
        reason = f"it is not JSON ({exc})"
    else:
        if not _depth_exceeds(value, MAX_RECORD_DEPTH):
            return value
        reason = f"it nests more than {MAX_RECORD_DEPTH} levels deep"
    raise IntegrityError(
        f"{what} is damaged: {reason}. Run `modelver verify` to check the store, and yank or re-publish "
        "the versions it names",
        location=what,
    )
