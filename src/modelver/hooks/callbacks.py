"""In-process Python hooks: ``@modelver.on("promote")`` functions called with each payload this process writes.

A callback runs after the event is durably written, in the writing process only; an exception in it becomes a
:class:`~modelver.errors.CaptureWarning` and never undoes or fails the event.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

from modelver.errors import CaptureWarning

__all__ = ["Callback", "call_callbacks", "off", "on"]

Callback = Callable[[dict[str, Any]], object]

_callbacks: dict[str, list[Callback]] = {}
_lock = threading.Lock()


def on(kind: str) -> Callable[[Callback], Callback]:
    """Register a function called with the payload of every ``kind`` event this process writes (``"*"``: all).

    Args:
        kind: an event kind, e.g. ``"promote"``, ``"deploy"``, ``"yank"``, ``"publish"``, or ``"*"``.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Example:
        >>> @modelver.on("promote")  # doctest: +SKIP
        ... def tell_slack(payload): post(f"{payload['name']}@{payload['alias']} -> {payload['version']}")
    """

    def register(function: Callback) -> Callback:
        with _lock:
            _callbacks.setdefault(kind, []).append(function)
        return function

    return register


def off(kind: str, function: Callback) -> None:
    """Unregister a function registered with :func:`on` (no error when it was not)."""
    with _lock:
        if function in _callbacks.get(kind, []):
            _callbacks[kind].remove(function)


def call_callbacks(payload: dict[str, Any]) -> None:
    """Call every callback registered for ``payload["event"]`` and for ``"*"``; failures only warn."""
    with _lock:
        chosen = [*_callbacks.get(str(payload.get("event")), []), *_callbacks.get("*", [])]
    for function in chosen:
        try:
            function(dict(payload))
        except Exception as exc:  # a failing hook never undoes or fails the event
            warnings.warn(
                f"the Python hook {getattr(function, '__qualname__', function)!r} for {payload.get('event')} "
                f"raised {type(exc).__name__}: {exc}; the event stands",
                CaptureWarning,
                stacklevel=4,
            )
