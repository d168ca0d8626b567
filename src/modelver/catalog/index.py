"""The search index: a local SQLite database derived from one store's tags, manifests and events.

Where: ``<cache dir>/search/<hash of the store URL>.sqlite3`` (the cache dir is ``$MODELVER_CACHE`` or the user
cache dir). The store stays the only source of truth: delete the file and the next search rebuilds it, with the
same answers. Tables::

    versions(id, name, version, digest, created, yanked, rank)    one row per version tag; rank = version order;
                                                                   yanked: 0 no, 1 yanked, 2 pruned (never found)
    fields(vid, key, num, text, derived)                           the version's fields (modelver.catalog.fields);
                                                                   derived = 1 for those the events give
    links(vid, kind, digest, role, step)                           lineage edges, for reverse lineage
    dirs(path, mtime_ns, ino, listed_ns, tags)                     local directory listings already indexed
    events(name, path, body)                                       every event read so far (its canonical JSON)

**Refresh** (:func:`refresh`) is one listing pass over ``names/`` (``fs.find``; on local disk a walk that skips a
``versions``/``events`` directory whose stored listing is still valid by its mtime, see :func:`_local_walk`), then
reads only what the index does not hold yet: new version tags with their manifests (verified against their
digests), and new events. A name with a new tag or event gets its event-derived fields (aliases, yanked, labels)
and its version ranks recomputed from the rows already in the database. A tag that disappeared from the store
(never expected: tags are write-once) drops out.

**Concurrency.** The database runs in WAL mode: readers never wait for a writer. A refresh reads the store first,
outside any transaction, then writes in one ``BEGIN IMMEDIATE`` transaction that inserts with ``INSERT OR IGNORE``
and recomputes derived rows from what is committed, so two processes refreshing at once write the same rows and a
query sees either the old or the new index, never a half-written one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from modelver.catalog.fields import Link, manifest_fields, manifest_links
from modelver.catalog.labels import LABEL_KIND, current_labels
from modelver.catalog.query import Value
from modelver.catalog.sql import like
from modelver.errors import InvalidReferenceError, ModelverError, StoreError
from modelver.registry.events import Event, fold, read_events, read_state
from modelver.registry.model_version import read_manifest
from modelver.registry.resolution import RACY_WINDOW_NS, read_tag
from modelver.registry.semver import SemVer
from modelver.serde import from_json_dict
from modelver.store.objects import Store
from modelver.store.statcache import cache_dir

__all__ = ["RefreshReport", "connect", "index_path", "refresh"]

SCHEMA_VERSION = "5"
#: Key prefix of the manifest's own labels and description (not queryable; see :func:`_row`).
MANIFEST_PREFIX = "~"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, digest TEXT NOT NULL, created TEXT NOT NULL,
    yanked INTEGER NOT NULL DEFAULT 0, rank INTEGER NOT NULL DEFAULT 0, UNIQUE (name, version));
CREATE TABLE IF NOT EXISTS fields (vid INTEGER NOT NULL, key TEXT NOT NULL, num, text TEXT,
    derived INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS fields_num ON fields (key, num);
CREATE INDEX IF NOT EXISTS fields_text ON fields (key, text);
CREATE INDEX IF NOT EXISTS fields_vid ON fields (vid, key);
CREATE TABLE IF NOT EXISTS links (vid INTEGER NOT NULL, kind TEXT NOT NULL, digest TEXT NOT NULL, role TEXT NOT NULL,
    step TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_digest ON links (digest);
CREATE INDEX IF NOT EXISTS links_vid ON links (vid, step);
CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL,
    listed_ns INTEGER NOT NULL, tags TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (name TEXT NOT NULL, path TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (name, path));
"""


@attrs.frozen
class RefreshReport:
    """What one refresh did.

    Attributes:
        listed: version tags listed in the store.
        added: versions read and indexed now (a tag and a manifest each).
        removed: versions dropped because their tag is gone.
        events: events read and indexed now.
    """

    listed: int = 0
    added: int = 0
    removed: int = 0
    events: int = 0


def index_path(store: Store) -> Path:
    """Where the index of ``store`` lives (a function of the store URL).

    Example:
        >>> index_path(Store("memory://x")).name.endswith(".sqlite3")
        True
    """
    key = hashlib.sha256(store.url.encode("utf-8")).hexdigest()[:24]
    return cache_dir() / "search" / f"{key}.sqlite3"


def connect(store: Store) -> sqlite3.Connection:
    """Open (creating when needed) the index of ``store``, in WAL mode, with ``mv_like`` registered.

    Raises:
        StoreError: the index cannot be created or opened (the message names the file to delete).
    """
    path = index_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.create_function("mv_like", 3, like, deterministic=True)
        row = _schema_version(db)
        if row is None:  # a new index: create it (idempotent, so two processes may race here)
            db.executescript(_SCHEMA)  # outside a transaction (executescript would commit one)
            with _transaction(db):
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('store', ?)", (SCHEMA_VERSION, store.url))
            row = _schema_version(db)
        if row != SCHEMA_VERSION:  # written by another modelver: derived data, so rebuilt, never migrated
            with _transaction(db):
                for table in ("meta", "versions", "fields", "links", "dirs", "events"):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
            db.executescript(_SCHEMA)
            with _transaction(db):
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('store', ?)", (SCHEMA_VERSION, store.url))
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the search index {path}: {exc}; delete it, it is rebuilt on demand") from exc
    return db


def _schema_version(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.OperationalError:  # no such table: a new, empty database
        return None
    return None if row is None else str(row[0])


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@attrs.frozen
class _Found:
    """What one listing pass found (see :func:`_listing`)."""

    tags: set[tuple[str, str]]
    events: dict[str, set[str]]
    #: names whose ``versions``/``events`` directory was read now; ``None``: every name (a remote store)
    version_names: set[str] | None
    event_names: set[str] | None
    #: every name seen on local disk (a name that disappeared drops out of the index)
    names: set[str]
    #: tags in directories whose stored listing was reused (already indexed)
    reused_tags: int
    #: directory listings to store once the index holds what they list
    dirs: list[tuple[str, int, int, int, str]]


def _local_walk(
    prefix: str, db: sqlite3.Connection
) -> tuple[list[str], set[str], int, list[tuple[str, int, int, int, str]]]:
    """Files under ``prefix`` on local disk, skipping a ``versions``/``events`` directory whose stored listing is
    still valid: its ``(mtime_ns, inode)`` is unchanged and older than that listing by the racy window (the rule of
    :mod:`modelver.registry.resolution`; a tag or event created since changes the directory's mtime). What such a
    directory holds was indexed when its listing was stored, so it needs no second look.

    Returns:
        (files of the directories read now, every leaf directory seen, tags in reused directories, listings to store)
    """
    cached = {path: (mtime, ino, listed, count) for path, mtime, ino, listed, count in db.execute("SELECT * FROM dirs")}
    changed: list[tuple[str, int, int, int, str]] = []
    out: list[str] = []
    leaves: set[str] = set()
    reused = 0
    pending = [prefix]
    while pending:
        directory = pending.pop()
        is_leaf = directory.endswith(("/versions", "/events"))
        if is_leaf:
            leaves.add(directory)
            info = os.stat(directory)
            hit = cached.get(directory)
            if (
                hit is not None
                and hit[:2] == (info.st_mtime_ns, info.st_ino)
                and info.st_mtime_ns < hit[2] - RACY_WINDOW_NS
            ):
                reused += int(hit[3]) if directory.endswith("/versions") else 0
                continue
            listed_at = time.time_ns()
        with os.scandir(directory) as entries:
            names = []
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(f"{directory}/{entry.name}")
                else:
                    names.append(entry.name)
        out.extend(f"{directory}/{name}" for name in names)
        if is_leaf:
            count = sum(1 for n in names if n.endswith(".json") and not n.startswith("."))
            changed.append((directory, info.st_mtime_ns, info.st_ino, listed_at, str(count)))
    return out, leaves, reused, changed


def _listing(store: Store, db: sqlite3.Connection) -> _Found:
    """One pass over ``names/``: every (name, version) with a tag, and every event path per name."""
    prefix = posixpath.dirname(posixpath.dirname(posixpath.dirname(store.tag_path("x", "_"))))
    leaves: set[str] | None = None
    reused = 0
    dirs: list[tuple[str, int, int, int, str]] = []
    try:
        if store.is_local:
            paths, leaves, reused, dirs = _local_walk(prefix, db) if os.path.isdir(prefix) else ([], set(), 0, [])
        else:
            store.fs.invalidate_cache(prefix)
            paths = store.fs.find(prefix)
    except FileNotFoundError:
        paths = []
    except OSError as exc:
        raise StoreError(f"cannot list {prefix} in {store.url}: {exc}") from exc
    tags: set[tuple[str, str]] = set()
    events: dict[str, set[str]] = {}
    start = len(prefix.rstrip("/")) + 1
    for raw in paths:
        path = str(raw)
        base = path[path.rfind("/") + 1 :]
        if not base.endswith(".json") or base.startswith("."):
            continue
        rel = path[start:]  # string slicing: posixpath.relpath costs 50 us a path, seconds for 100,000 tags
        head, sep, tail = rel.rpartition("/versions/")
        if sep and "/" not in tail:
            tags.add((head, tail[: -len(".json")]))
            continue
        head, sep, tail = rel.rpartition("/events/")
        if sep and "/" not in tail:
            events.setdefault(head, set()).add(path)
    if leaves is None:
        return _Found(tags, events, None, None, set(), 0, [])
    read_now = {d for d, *_ in dirs}
    version_names = {d[start : -len("/versions")] for d in read_now if d.endswith("/versions")}
    event_names = {d[start : -len("/events")] for d in read_now if d.endswith("/events")}
    names = {d[start:].rpartition("/")[0] for d in leaves}
    return _Found(tags, events, version_names, event_names, names, reused, dirs)


def _read_version(store: Store, name: str, version: str) -> tuple[str, str, list[tuple[str, Value]], list[Link]] | None:
    """The digest, creation time and fields of one version (tag and manifest read and verified)."""
    try:
        SemVer.parse(version)
    except InvalidReferenceError:
        return None  # not a version (resolution warns about it); nothing to index
    tag = read_tag(store, name, version)
    try:
        manifest = read_manifest(store, tag)
    except ModelverError:
        if version in read_state(store, name).pruned:
            return None  # pruned and collected: a tombstone with no manifest to index
        raise
    config: Any = None
    if isinstance(manifest.config, dict) and manifest.config.get("$type") == "blob":
        config = json.loads(store.read_blob(manifest.config["digest"]))
    pairs = manifest_fields(manifest, created=tag.created_at, config=config)
    return tag.manifest, tag.created_at, pairs, manifest_links(manifest)


def _row(key: str, value: Value) -> tuple[str, float | int | None, str | None]:
    if key.startswith("labels.") or key == "description":
        # The manifest's labels are kept under a key no filter can name; the queryable rows are derived from them
        # and the label events (:func:`_recompute`), so that the latest event wins.
        key = MANIFEST_PREFIX + key
    return (key, None, value) if isinstance(value, str) else (key, value, None)


def _recompute(db: sqlite3.Connection, name: str) -> None:
    """Ranks and event-derived fields of ``name`` from the committed rows (inside the write transaction)."""
    rows = db.execute("SELECT id, version FROM versions WHERE name = ?", (name,)).fetchall()
    ordered = sorted(rows, key=lambda r: SemVer.parse(r[1]).sort_key())
    db.executemany("UPDATE versions SET rank = ? WHERE id = ?", [(rank, vid) for rank, (vid, _) in enumerate(ordered)])
    bodies = db.execute("SELECT body FROM events WHERE name = ?", (name,)).fetchall()
    events = [from_json_dict(json.loads(body), Event) for (body,) in bodies]
    state = fold(name, events)
    ids = {version: vid for vid, version in rows}
    db.execute("DELETE FROM fields WHERE derived = 1 AND vid IN (SELECT id FROM versions WHERE name = ?)", (name,))
    db.execute("UPDATE versions SET yanked = 0 WHERE name = ?", (name,))
    derived: list[tuple[int, str, None, str]] = []
    for version, vid in ids.items():
        derived.append((vid, "yanked", None, "true" if version in state.yanked else "false"))
    for version, aliases in state.alias_targets().items():
        derived.extend((ids[version], "alias", None, alias) for alias in aliases if version in ids)
    db.executemany("INSERT INTO fields (vid, key, num, text, derived) VALUES (?, ?, ?, ?, 1)", derived)
    yanked = [(ids[v],) for v in state.yanked if v in ids]
    db.executemany("UPDATE versions SET yanked = 1 WHERE id = ?", yanked)
    pruned = [(ids[v],) for v in state.pruned if v in ids]
    db.executemany("UPDATE versions SET yanked = 2 WHERE id = ?", pruned)
    _recompute_labels(db, name, ids, [(e, body) for e, (body,) in zip(events, bodies, strict=True)])


def _recompute_labels(
    db: sqlite3.Connection, name: str, ids: dict[str, int], events: list[tuple[Event, bytes]]
) -> None:
    """``labels.*`` and ``description`` rows: the manifest's, then the label events in order (latest wins)."""
    per_version: dict[str, list[tuple[tuple[str, str], bytes]]] = {}
    for event, body in events:
        if event.kind == LABEL_KIND and event.version in ids:
            per_version.setdefault(event.version, []).append((event.order, body))
    stored = db.execute(
        "SELECT f.vid, f.key, f.text FROM fields f JOIN versions v ON v.id = f.vid "
        "WHERE v.name = ? AND f.key >= ? AND f.key < ?",
        (name, MANIFEST_PREFIX, MANIFEST_PREFIX + "\U0010ffff"),
    ).fetchall()
    manifest: dict[int, dict[str, str]] = {}
    for vid, key, text in stored:
        manifest.setdefault(vid, {})[key[len(MANIFEST_PREFIX) :]] = text
    rows: list[tuple[int, str, None, str]] = []
    for version, vid in ids.items():
        recorded = manifest.get(vid, {})
        labels = {k[len("labels.") :]: v for k, v in recorded.items() if k.startswith("labels.")}
        labels, description = current_labels(labels, recorded.get("description", ""), per_version.get(version, []))
        rows.extend((vid, f"labels.{key}", None, value) for key, value in labels.items())
        if description:
            rows.append((vid, "description", None, description))
    db.executemany("INSERT INTO fields (vid, key, num, text, derived) VALUES (?, ?, ?, ?, 1)", rows)


def _remember_dirs(db: sqlite3.Connection, dirs: list[tuple[str, int, int, int, str]]) -> None:
    if dirs:
        with _transaction(db):
            db.executemany("INSERT OR REPLACE INTO dirs VALUES (?, ?, ?, ?, ?)", dirs)


def refresh(store: Store, db: sqlite3.Connection | None = None) -> RefreshReport:
    """Bring the index of ``store`` up to date: one listing, then reads of only the new tags, manifests and events.

    Args:
        store: the store.
        db: an open index connection (default: :func:`connect`).

    Returns:
        What changed.

    Raises:
        StoreError: the store cannot be listed or read, or the index cannot be written.
        IntegrityError: a manifest does not match its digest.
    """
    own = db is None
    conn = connect(store) if db is None else db
    try:
        found = _listing(store, conn)
        tags, events = found.tags, found.events
        if found.version_names is None:
            known = {(n, v) for n, v in conn.execute("SELECT name, version FROM versions")}
        else:
            known = {
                (n, v)
                for name in found.version_names
                for n, v in conn.execute("SELECT name, version FROM versions WHERE name = ?", (name,))
            }
            vanished = {n for (n,) in conn.execute("SELECT DISTINCT name FROM versions")} - found.names
            for name in vanished:
                known |= set(conn.execute("SELECT name, version FROM versions WHERE name = ?", (name,)))
        seen = {
            (n, p) for name in events for n, p in conn.execute("SELECT name, path FROM events WHERE name = ?", (name,))
        }
        new_tags = sorted(tags - known)
        gone = known - tags
        read = [(name, version, _read_version(store, name, version)) for name, version in new_tags]
        new_events: list[tuple[str, str, bytes]] = []
        for name, paths in sorted(events.items()):
            fresh = sorted(p for p in paths if (name, p) not in seen)
            if fresh:
                for path, event in zip(fresh, read_events(store, name, fresh), strict=True):
                    # A label event carries keys an Event does not hold: keep its stored JSON (already validated).
                    body = bytes(store.fs.cat_file(path)) if event.kind == LABEL_KIND else event.to_bytes()
                    new_events.append((name, path, body))
        touched = {n for n, _, r in read if r is not None} | {n for n, _, _ in new_events} | {n for n, _ in gone}
        listed = len(tags) + found.reused_tags
        if not touched:
            _remember_dirs(conn, found.dirs)
            return RefreshReport(listed=listed)
        with _transaction(conn):
            added = 0
            for name, version, got in read:
                if got is None:
                    continue
                digest, created, pairs, links = got
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO versions (name, version, digest, created) VALUES (?, ?, ?, ?)",
                    (name, version, digest, created),
                )
                if cursor.rowcount != 1:
                    continue  # another process indexed it first
                vid = cursor.lastrowid
                conn.executemany(
                    "INSERT INTO fields (vid, key, num, text) VALUES (?, ?, ?, ?)",
                    [(vid, *_row(key, value)) for key, value in pairs],
                )
                conn.executemany("INSERT INTO links VALUES (?, ?, ?, ?, ?)", [(vid, *link) for link in links])
                added += 1
            for name, version in gone:
                for table in ("fields", "links"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE vid IN (SELECT id FROM versions WHERE name = ? AND version = ?)",  # noqa: S608
                        (name, version),
                    )
                conn.execute("DELETE FROM versions WHERE name = ? AND version = ?", (name, version))
            conn.executemany("INSERT OR IGNORE INTO events (name, path, body) VALUES (?, ?, ?)", new_events)
            for name in sorted(touched):
                _recompute(conn, name)
        _remember_dirs(conn, found.dirs)  # only now: what those listings hold is in the index
        return RefreshReport(listed=listed, added=added, removed=len(gone), events=len(new_events))
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot update the search index {index_path(store)}: {exc}; delete it, it is rebuilt on demand"
        ) from exc
    finally:
        if own:
            conn.close()
