"""The spool of ``served`` events that could not reach their store, written by the next record that does.

Layout, beside the run spool (``MODELVER_SPOOL``, default ``platformdirs.user_data_dir("modelver")/spool``)::

    events/<sha256(store url)[:16]>/store.txt       the store's URL (no credentials: storage options never go here)
    events/<sha256(store url)[:16]>/<event key>     the event's canonical JSON, named as in the store

An event keeps its time and id, so writing it later puts it where it would have been, and writing it twice is
refused by the store (create-if-absent) rather than duplicated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
from pathlib import Path

import platformdirs

from modelver.registry.events import Event, events_dir
from modelver.serde import from_json_dict
from modelver.store.objects import Store

__all__ = ["ENV_SPOOL", "flush_spooled", "spool_event", "spooled_paths"]

#: The same variable as the run spool's (:mod:`modelver.tracking.spool`).
ENV_SPOOL = "MODELVER_SPOOL"


def _directory(store: Store) -> Path:
    env = os.environ.get(ENV_SPOOL)
    root = Path(env) if env else Path(platformdirs.user_data_dir("modelver", appauthor=False)) / "spool"
    return root / "events" / hashlib.sha256(store.url.encode()).hexdigest()[:16]


def spool_event(store: Store, event: Event) -> Path:
    """Keep ``event`` locally until :func:`flush_spooled` can write it to ``store``; return where it was kept.

    Example:
        >>> spool_event(store, event)  # doctest: +SKIP
        PosixPath('/home/me/.local/share/modelver/spool/events/1f3a.../20261201T140203.000001Z-ab12.json')
    """
    directory = _directory(store)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "store.txt").write_text(store.url)
    path = directory / event.key
    temp = path.with_name(f".tmp-{event.key}")
    temp.write_bytes(event.to_bytes())
    os.replace(temp, path)
    return path


def spooled_paths(store: Store) -> list[Path]:
    """The events spooled for ``store``, oldest first."""
    directory = _directory(store)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.json") if not p.name.startswith("."))


def flush_spooled(store: Store) -> int:
    """Write the events spooled for ``store`` (each removed once in the store); never raises.

    Returns:
        How many events were written (an event already in the store counts as flushed, not written).
    """
    written = 0
    for path in spooled_paths(store):
        try:
            event = from_json_dict(json.loads(path.read_bytes()), Event)
            store.create_exclusive(posixpath.join(events_dir(store, event.name), event.key), event.to_bytes())
            written += 1
        except FileExistsError:
            pass
        except Exception:  # noqa: S112 (still unreachable, or damaged: kept for the next attempt)
            continue
        with contextlib.suppress(OSError):
            path.unlink()
    return written
