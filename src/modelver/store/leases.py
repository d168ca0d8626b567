"""Leases: how a publish in flight and a running ``gc`` see each other, so gc never removes what a publish uses.

Layout under the store root::

    leases/publish/<id>.json   {manifest, name, started_at, host, pid}: a publish between its re-check and its tag
    leases/gc/<id>.json        {started_at, host, pid}: a gc that may be removing objects

The protocol (Dekker's, over a strongly consistent store: local disk, S3, GCS and Azure list what was written):

- a **publisher** creates its publish lease, *then* lists the gc leases and waits while a live one exists, *then*
  re-checks that every object the version references exists (refusing otherwise), creates the version tag, and
  removes its lease;
- **gc** creates its gc lease, *then* lists the publish leases and keeps everything their manifests reference, then
  lists versions and removes what nothing references; it removes its lease when done.

Whichever of the two writes its lease second sees the other's: either gc keeps the publish's objects, or the publish
waits until that gc is done and re-checks after it. A gc lease older than :data:`GC_LEASE_MAX_S` belongs to a gc
that died: publishers ignore it, and a live gc stops removing objects before its own lease gets that old.
Publish leases older than :data:`PUBLISH_LEASE_MAX_S` are ignored by gc (the publisher died between its lease and
its tag) and removed by the next gc.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

from modelver.serde import canonical_json
from modelver.store.backend import info_mtime

LEASES_DIR = "leases"
PUBLISH = "publish"
GC = "gc"

#: The smallest grace period (seconds) ``gc`` accepts without ``force``: a run's objects are not roots until its
#: publish starts, so they are protected only by their age until then (a publish reuses an old object by refreshing
#: it, see :data:`modelver.store.publish.FRESHEN_AFTER_S`).
MIN_GRACE_S = 900.0
#: A gc lease older than this (seconds) is a dead gc's: publishers stop waiting for it; a live gc stops removing
#: objects before its own lease is this old, and leaves the rest to the next run.
GC_LEASE_MAX_S = 1800.0
#: A publish lease older than this (seconds) is a dead publisher's: gc stops keeping what it names.
PUBLISH_LEASE_MAX_S = 3600.0
#: How often (seconds) a publisher waiting for a gc lists the gc leases again.
POLL_S = 0.1


def _directory(store: Any, kind: str) -> str:
    return posixpath.join(store.root, LEASES_DIR, kind)


def _record(**extra: object) -> bytes:
    return canonical_json({"started_at": time.time(), "host": socket.gethostname(), "pid": os.getpid(), **extra})


def live_leases(store: Any, kind: str, max_age_s: float, now: float | None = None) -> dict[str, dict[str, Any]]:
    """The leases of ``kind`` (``"publish"`` or ``"gc"``) younger than ``max_age_s`` seconds, read afresh.

    Args:
        store: a :class:`~modelver.store.objects.Store`.
        kind: :data:`PUBLISH` or :data:`GC`.
        max_age_s: older leases are a dead process's and are left out.
        now: the current UNIX time in seconds (default: ``time.time()``).

    Returns:
        ``{store path: lease record}``; a lease that vanished or cannot be parsed while being read is left out.

    Example:
        >>> from modelver.store.objects import Store
        >>> live_leases(Store("memory://no-leases"), GC, GC_LEASE_MAX_S)
        {}
    """
    now = time.time() if now is None else now
    directory = _directory(store, kind)
    fs = store.fs
    with contextlib.suppress(Exception):
        fs.invalidate_cache(directory)
    try:
        listed = fs.ls(directory, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for info in listed:
        path = str(info["name"])
        if not path.endswith(".json") or posixpath.basename(path).startswith("."):
            continue
        try:
            record = json.loads(bytes(fs.cat_file(path)))
            started = float(record["started_at"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            continue  # released meanwhile, or not a lease
        mtime = info_mtime(info)
        age = now - max(started, mtime if mtime is not None else started)
        if age < max_age_s:
            out[path] = record
    return out


def stale_leases(store: Any, now: float | None = None) -> list[str]:
    """Store paths of leases of dead processes (older than their kind's maximum age), for gc to remove."""
    now = time.time() if now is None else now
    stale = []
    for kind, max_age in ((PUBLISH, PUBLISH_LEASE_MAX_S), (GC, GC_LEASE_MAX_S)):
        directory = _directory(store, kind)
        try:
            listed = store.fs.ls(directory, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for info in listed:
            mtime = info_mtime(info)
            if mtime is not None and now - mtime >= 2 * max_age:
                stale.append(str(info["name"]))
    return sorted(stale)


def _release(store: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        store.fs.rm_file(path)


@contextlib.contextmanager
def gc_lease(store: Any) -> Iterator[float]:
    """Hold a gc lease while removing objects; yields the UNIX time (seconds) the lease was taken.

    Raises:
        StoreError: the lease cannot be written.
    """
    path = posixpath.join(_directory(store, GC), f"{uuid.uuid4().hex}.json")
    started = time.time()
    store.create_exclusive(path, _record())
    try:
        yield started
    finally:
        _release(store, path)


@contextlib.contextmanager
def publish_lease(store: Any, manifest: str, name: str) -> Iterator[None]:
    """Hold a publish lease naming ``manifest`` (a digest) of model ``name``; entered only once no live gc runs.

    Inside the block the caller re-checks that every object the version references exists, then creates the tag:
    from then on no gc removes what the manifest references (see the module docstring for why).

    Raises:
        StoreError: the lease cannot be written.
    """
    path = posixpath.join(_directory(store, PUBLISH), f"{uuid.uuid4().hex}.json")
    store.create_exclusive(path, _record(manifest=manifest, name=name))
    try:
        while live_leases(store, GC, GC_LEASE_MAX_S):
            time.sleep(POLL_S)
        yield
    finally:
        _release(store, path)
