"""Labels (key=value metadata) and descriptions of versions, changed after publishing as append-only events.

"Tag" already means a version tag here, so key=value metadata is called a *label*. A change is one event beside the
version's immutable manifest, in the name's event stream, like an alias::

    names/<name>/events/<YYYYMMDDTHHMMSS.ffffffZ>-<id>.json   {"kind": "label", "version": ..., "labels": {...},
                                                               "unset": [...], "description": ...}

It is an :class:`~modelver.registry.events.Event` (who, when, why) with three more keys, so ``modelver history``
lists it and the registry's fold ignores it (it moves no alias). The current labels of a version are its manifest's
labels, then every label event of that version in ``(at, id)`` order: on the same key the latest event wins.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from modelver.errors import InvalidLabelError, StoreError
from modelver.manifest import MAX_LABEL_VALUE, Manifest, check_description, check_label_key, check_label_value
from modelver.provenance import created_by
from modelver.registry.events import Event, events_dir, list_event_paths, new_event, read_events
from modelver.registry.resolution import resolve
from modelver.serde import canonical_json, to_json_dict
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = [
    "LABEL_KIND",
    "LabelChange",
    "current_labels",
    "describe",
    "describe_change",
    "label",
    "label_changes",
    "label_event_changes",
    "unlabel",
    "version_labels",
]

LABEL_KIND = "label"
MAX_VALUE = MAX_LABEL_VALUE

StoreArg = str | os.PathLike[str] | Store | None
#: What one label event changed: ``(labels set, keys removed, description or None)``.
LabelChange = tuple[dict[str, str], list[str], str | None]

# The rules are the manifest's, so that track(labels=...) and label() accept exactly the same labels.
_check_key = check_label_key
_check_value = check_label_value


def _write(
    ref: str,
    *,
    labels: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
    description: str | None = None,
    by: str | None,
    reason: str,
    store: StoreArg,
) -> Event:
    opened = open_store(store)
    tag = resolve(opened, ref, warn_yanked=False)
    who = by.strip() if by and by.strip() else created_by().user
    event = new_event(
        tag.name,
        "release",  # replaced below: the kind literal of registry events does not list "label"
        by=who,
        created_by=created_by(),
        reason=reason,
        version=tag.version,
        digest=tag.manifest,
        explicit_by=by is not None,
    )
    body: dict[str, Any] = to_json_dict(event)
    body["kind"] = LABEL_KIND
    body["labels"] = dict(labels or {})
    body["unset"] = sorted(set(unset))
    if description is not None:
        body["description"] = description
    path = posixpath.join(events_dir(opened, tag.name), event.key)
    try:
        opened.create_exclusive(path, canonical_json(body))
    except FileExistsError as exc:
        raise StoreError(f"event {path} already exists in {opened.url}; retry the command") from exc
    return read_events(opened, tag.name, [path])[0]


def label(
    ref: str, labels: Mapping[str, str], *, by: str | None = None, reason: str = "", store: StoreArg = None
) -> Event:
    """Set labels on a version (one event; on the same key the latest event wins over the manifest).

    Args:
        ref: the version (``"churn@1.2.0"``, ``"churn@production"``, ...).
        labels: key to value, e.g. ``{"team": "risk"}``; keys are letters, digits, ``_.-``; values are text.
        by: who (default: the OS user).
        reason: why, kept in the history.
        store: the store (default: see ``modelver info``).

    Returns:
        The event written.

    Raises:
        InvalidLabelError: a key or value breaks the rules (nothing is written).
        InvalidReferenceError, VersionNotFoundError: ``ref`` does not resolve.

    Example:
        >>> modelver.label("churn@1.2.0", {"team": "risk"})  # doctest: +SKIP
    """
    checked = {_check_key(k): _check_value(k, v) for k, v in labels.items()}
    if not checked:
        raise InvalidLabelError("no labels given; pass at least one key=value")
    return _write(ref, labels=checked, by=by, reason=reason, store=store)


def unlabel(ref: str, *keys: str, by: str | None = None, reason: str = "", store: StoreArg = None) -> Event:
    """Remove labels from a version (one event).

    Args:
        ref: the version.
        keys: the label keys to remove.
        by, reason, store: see :func:`label`.

    Returns:
        The event written.

    Raises:
        InvalidLabelError: no key, or a malformed key.

    Example:
        >>> modelver.unlabel("churn@1.2.0", "team")  # doctest: +SKIP
    """
    if not keys:
        raise InvalidLabelError("no label keys given; name the labels to remove")
    return _write(ref, unset=[_check_key(k) for k in keys], by=by, reason=reason, store=store)


def describe(ref: str, text: str, *, by: str | None = None, reason: str = "", store: StoreArg = None) -> Event:
    """Set a version's description (one event; the latest wins; an empty text clears it).

    Args:
        ref: the version.
        text: the description (at most 10,000 characters).
        by, reason, store: see :func:`label`.

    Returns:
        The event written.

    Raises:
        InvalidLabelError: the text is too long or not text.

    Example:
        >>> modelver.describe("churn@1.2.0", "retrained on November data")  # doctest: +SKIP
    """
    return _write(ref, description=check_description(text), by=by, reason=reason, store=store)


def label_changes(body: bytes) -> tuple[str, dict[str, str], list[str], str | None] | None:
    """``(version, labels set, keys unset, description or None)`` of a label event's stored JSON, else ``None``."""
    data = json.loads(body)
    if data.get("kind") != LABEL_KIND or not isinstance(data.get("version"), str):
        return None
    labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
    unset = [str(k) for k in data.get("unset") or []]
    description = data.get("description")
    return data["version"], labels, unset, description if isinstance(description, str) else None


def current_labels(
    manifest_labels: Mapping[str, str], manifest_description: str, bodies: Iterable[tuple[tuple[str, str], bytes]]
) -> tuple[dict[str, str], str]:
    """Fold label events (``((at, id), stored JSON)`` of one version) over the manifest's labels and description."""
    labels = dict(manifest_labels)
    description = manifest_description
    for _, body in sorted(bodies, key=lambda item: item[0]):
        changes = label_changes(body)
        if changes is None:
            continue
        _, added, removed, text = changes
        labels.update(added)
        for key in removed:
            labels.pop(key, None)
        if text is not None:
            description = text
    return labels, description


def _label_bodies(store: Store, name: str) -> list[tuple[Event, bytes]]:
    """Every label event of ``name`` with its stored JSON (the :class:`Event` drops the label keys)."""
    out = []
    for path, event in zip(paths := list_event_paths(store, name), read_events(store, name, paths), strict=True):
        if event.kind == LABEL_KIND:
            try:
                out.append((event, bytes(store.fs.cat_file(path))))
            except OSError as exc:
                raise StoreError(f"cannot read the event {path} in {store.url}: {exc}") from exc
    return out


def version_labels(
    name: str, version: str, manifest: Manifest, *, store: StoreArg = None
) -> tuple[dict[str, str], str]:
    """The current labels and description of a version: its manifest's, then its label events (latest wins).

    Args:
        name: the model name.
        version: the version.
        manifest: the version's manifest (``track(labels=..., description=...)``).
        store: the store (default: see ``modelver info``).

    Returns:
        ``(labels, description)``.

    Raises:
        StoreError: the events cannot be read.

    Example:
        >>> mv = modelver.get("churn@1.2.0")  # doctest: +SKIP
        >>> version_labels(mv.name, mv.version, mv.manifest)  # doctest: +SKIP
        ({'team': 'risk'}, 'retrained on November data')
    """
    opened = open_store(store)
    bodies = [(event.order, body) for event, body in _label_bodies(opened, name) if event.version == version]
    return current_labels(manifest.labels, manifest.description, bodies)


def label_event_changes(name: str, *, store: StoreArg = None) -> dict[str, LabelChange]:
    """What each label event of ``name`` changed, for ``modelver history``.

    Args:
        name: the model name.
        store: the store (default: see ``modelver info``).

    Returns:
        The event's key (:attr:`Event.key`) to ``(labels set, keys removed, description or None)``.

    Raises:
        StoreError: the events cannot be read.

    Example:
        >>> label_event_changes("churn")  # doctest: +SKIP
        {'20261201T120000.000000Z-ab12.json': ({'team': 'risk'}, [], None)}
    """
    out: dict[str, LabelChange] = {}
    for event, body in _label_bodies(open_store(store), name):
        changes = label_changes(body)
        if changes is not None:
            out[event.key] = changes[1:]
    return out


def describe_change(change: LabelChange) -> str:
    """One line for a label event: ``team=risk, -stage, description 'retrained...'``."""
    added, removed, text = change
    parts = [f"{k}={v}" for k, v in added.items()] + [f"-{k}" for k in removed]
    if text is not None:
        parts.append(
            f"description {text[:40] + '...' if len(text) > 40 else text!r}" if text else "description cleared"
        )
    return ", ".join(parts)
