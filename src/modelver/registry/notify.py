"""Telling hooks about registry events: the payload of an event, handed to :func:`modelver.hooks.delivery.emit`.

Called only after the event's object was created, so a hook never announces what was not written; it never raises
(a failing hook never undoes, blocks or fails the event; see :mod:`modelver.hooks.delivery`).
"""

from __future__ import annotations

import warnings
from typing import Any

from modelver.errors import CaptureWarning
from modelver.hooks.delivery import emit
from modelver.registry.events import Event
from modelver.store.objects import Store

__all__ = ["PAYLOAD_SCHEMA", "event_payload", "notify"]

PAYLOAD_SCHEMA = "modelver.hook-payload/1"


def event_payload(event: Event) -> dict[str, Any]:
    """The JSON payload hooks receive for ``event``: kind, name, version, digest, who, when, where.

    Example:
        >>> event_payload(event)["event"]  # doctest: +SKIP
        'promote'
    """
    payload: dict[str, Any] = {
        "schema": PAYLOAD_SCHEMA,
        "event": event.kind,
        "id": event.id,
        "name": event.name,
        "version": event.version,
        "digest": event.digest,
        "by": event.by,
        "at": event.at,
        "host": event.created_by.host,
        "reason": event.reason,
    }
    for key, value in (("alias", event.alias), ("previous", event.previous), ("target", event.target)):
        if value is not None:
            payload[key] = value
    if event.via is not None:
        payload["via"] = event.via
    return payload


def notify(store: Store, payload: dict[str, Any] | Event) -> None:
    """Run the Python and HTTP hooks for a written event (or a ``publish`` payload); never raises."""
    try:
        emit(store, event_payload(payload) if isinstance(payload, Event) else payload)
    except Exception as exc:  # pragma: no cover - emit itself catches; this is the last guard
        warnings.warn(f"hooks failed for {store.url}: {exc}; the event stands", CaptureWarning, stacklevel=3)
