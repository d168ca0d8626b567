"""The values of small scalar step arguments, kept in the run's step records so the lineage graph can print them on
its value nodes (a hyperparameter such as ``lr = 0.1``), never anything that may be a secret or large.
"""

from __future__ import annotations

import json
import math

from modelver.capture.redact import is_secret_key, redact_text

__all__ = ["MAX_SHOWN_CHARS", "shown_value"]

#: Longer strings are not kept: a value node is a label, and a long string is data, not a parameter.
MAX_SHOWN_CHARS = 200


def shown_value(name: str, value: object) -> str | None:
    """The JSON text of ``value`` to show for the argument ``name``, or ``None`` when it is not shown.

    Shown: ``None``, ``bool``, ``int``, finite ``float`` and ``str`` of at most :data:`MAX_SHOWN_CHARS` characters
    (credentials in URLs stripped), unless ``name`` looks like a secret (``token``, ``password``, ``api_key``...).

    Example:
        >>> shown_value("lr", 0.1), shown_value("api_key", "abc"), shown_value("rows", [1, 2])
        ('0.1', None, None)
    """
    if is_secret_key(name):
        return None
    if value is None or isinstance(value, bool | int):
        return json.dumps(value)
    if isinstance(value, float):
        return json.dumps(value) if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= MAX_SHOWN_CHARS:
        return json.dumps(redact_text(value), ensure_ascii=False)
    return None
