"""Append-only registry events and their fold: aliases, their history, yanks and protections.

Mutable state is never an overwritten object (docs/registry.md). Every change (an alias set or rolled back, a
version yanked or unyanked, an alias protected, a release) is one new, immutable object::

    names/<name>/events/<YYYYMMDDTHHMMSS.ffffffZ>-<id>.json

created with :meth:`~modelver.store.objects.Store.create_exclusive`, so it is never overwritten and two writers never
collide (``id`` is 16 random hex digits). The current state is :func:`fold` over every event of the name.

**Fold order.** Events are applied in the order of ``(at, id)``: the writer's UTC time with microseconds, then the
random id as a tiebreak. Every reader therefore folds the same events to the same state, whatever order the store
lists them in. Two promotions made at the same moment both stay in the history; the one later in that order is the
one the alias points at. The order follows the writers' clocks: machines whose clocks disagree by more than the time
between two of their events can see them applied in the other order (they still agree with each other).
"""

from __future__ import annotations

import json
import posixpath
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, get_args

import attrs

from modelver.errors import StoreError
from modelver.manifest import CreatedBy
from modelver.serde import canonical_json, from_json_dict, to_json_dict
from modelver.store.objects import Store

__all__ = [
    "DEPLOYMENT_KINDS",
    "EVENT_KINDS",
    "EVENT_SCHEMA",
    "AliasState",
    "Event",
    "EventKind",
    "RegistryState",
    "fold",
    "new_event",
    "read_events",
    "read_state",
    "write_event",
]

EVENT_SCHEMA = "modelver.event/1"
EventKind = Literal[
    "promote",
    "rollback",
    "protect",
    "unprotect",
    "yank",
    "unyank",
    "release",
    "deploy",
    "undeploy",
    "served",
    "approve",
    "policy",
    "prune",
    "retention",
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
#: Kinds about deployment targets (:mod:`modelver.registry.deployments`); they never change aliases or yanks.
DEPLOYMENT_KINDS: frozenset[str] = frozenset({"deploy", "undeploy", "served"})
#: Parsed events kept per process, keyed by store path. Events never change once written, so a kept event is never
#: stale; the bound only caps memory (about 1 KiB each).
EVENT_CACHE_SIZE = 50_000


@attrs.frozen
class Event:
    """One change to a name's registry state; stored once, never changed.

    Attributes:
        name: the model name.
        kind: ``"promote"`` (an alias set or moved), ``"rollback"`` (an alias moved back to its previous target),
            ``"protect"``/``"unprotect"`` (moving the alias needs an explicit approver), ``"yank"``/``"unyank"``,
            ``"release"`` (a version created from another one's manifest, see ``modelver release``).
        at: RFC 3339 UTC time with microseconds, e.g. ``2026-11-29T16:01:02.345678Z`` (the writer's clock).
        id: 16 random hex digits; breaks ties between events with the same ``at``.
        by: who is accountable: the approver of a promotion, who yanked, who protected. Given explicitly or, where
            allowed, the OS user.
        created_by: the OS user and host of the process that wrote the event.
        reason: why, in the actor's words (may be empty).
        alias: the alias, for promote, rollback, protect and unprotect.
        version: the version acted on: the alias's new target, the yanked version, the released version.
        digest: the manifest digest of ``version`` when the event was written.
        previous: what the writer saw before: the alias's earlier target (promote, rollback) or the version a
            release was made from.
        explicit_by: whether ``by`` was given by the caller rather than defaulted to the OS user.
        schema: ``"modelver.event/1"``.
        target: the deployment target (``deploy``, ``undeploy``, ``served``), e.g. ``prod-eu``; free-form.
        via: the alias the deployed reference came through (``production`` for ``churn@production``), if any.
        details: what a kind carries beyond these fields: an ``approve`` event's SSH signature, a ``policy``
            event's rules (:mod:`modelver.registry.approvals`).

    Example:
        >>> event = modelver.promote("churn@1.4.0", "production", by="alice", reason="beats 1.3.2")  # doctest: +SKIP
        >>> event.kind, event.alias, event.version, event.previous  # doctest: +SKIP
        ('promote', 'production', '1.4.0', '1.3.2')
    """

    name: str
    kind: str
    at: str
    id: str
    by: str
    created_by: CreatedBy
    reason: str = ""
    alias: str | None = None
    version: str | None = None
    digest: str | None = None
    previous: str | None = None
    explicit_by: bool = False
    schema: str = EVENT_SCHEMA
    target: str | None = None
    via: str | None = None
    details: dict[str, Any] = attrs.field(factory=dict)

    @property
    def key(self) -> str:
        """The object name under ``names/<name>/events/``: sortable time, then the id."""
        stamp = self.at.replace("-", "").replace(":", "")  # 20261129T160102.345678Z: no ':' (path and URL safe)
        return f"{stamp}-{self.id}.json"

    @property
    def order(self) -> tuple[str, str]:
        """The fold order key ``(at, id)``; ``at`` has a fixed width, so string order is time order."""
        return (self.at, self.id)

    def to_bytes(self) -> bytes:
        """Canonical JSON of the event."""
        return canonical_json(to_json_dict(self))


@attrs.frozen
class AliasState:
    """Where an alias points after the fold, and how it got there.

    Attributes:
        alias: the alias.
        version: the version it points at now, or ``None`` when it was protected but never set.
        digest: that version's manifest digest, as recorded by the event that set it.
        event: the event that last moved it (``None`` when never set).
        protected: whether moving it needs an explicit ``by``.
        protected_by: who protected it (the ``by`` of the last protect event).
        targets: the rollback stack: earlier targets, oldest first, ending with the current one.
        history: every event about this alias, in fold order.

    Example:
        >>> state = modelver.aliases("churn")["production"]  # doctest: +SKIP
        >>> state.version, state.protected, state.targets  # doctest: +SKIP
        ('1.4.0', True, ('1.3.2', '1.4.0'))
    """

    alias: str
    version: str | None = None
    digest: str | None = None
    event: Event | None = None
    protected: bool = False
    protected_by: str | None = None
    targets: tuple[str, ...] = ()
    history: tuple[Event, ...] = ()


@attrs.frozen
class RegistryState:
    """The fold of every event of one name.

    Attributes:
        name: the model name.
        events: every event, in fold order (the audit trail).
        aliases: alias name to its state.
        yanked: yanked version to the event that yanked it.
        pruned: pruned version to its tombstone, the ``prune`` event (:mod:`modelver.maintenance.prune`).
    """

    name: str
    events: tuple[Event, ...] = ()
    aliases: dict[str, AliasState] = attrs.field(factory=dict)
    yanked: dict[str, Event] = attrs.field(factory=dict)
    pruned: dict[str, Event] = attrs.field(factory=dict)

    def alias_targets(self) -> dict[str, list[str]]:
        """Version to the aliases pointing at it (for listings)."""
        out: dict[str, list[str]] = {}
        for alias, state in sorted(self.aliases.items()):
            if state.version is not None:
                out.setdefault(state.version, []).append(alias)
        return out


def utc_now_micro() -> str:
    """The current UTC time as RFC 3339 with microseconds, e.g. ``2026-11-29T16:01:02.345678Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_event(
    name: str,
    kind: EventKind,
    *,
    by: str,
    created_by: CreatedBy,
    reason: str = "",
    alias: str | None = None,
    version: str | None = None,
    digest: str | None = None,
    previous: str | None = None,
    explicit_by: bool = False,
    target: str | None = None,
    via: str | None = None,
    details: dict[str, Any] | None = None,
) -> Event:
    """A new event stamped now with a fresh random id (not yet written; see :func:`write_event`)."""
    return Event(
        name=name,
        kind=kind,
        at=utc_now_micro(),
        id=uuid.uuid4().hex[:16],
        by=by,
        created_by=created_by,
        reason=reason,
        alias=alias,
        version=version,
        digest=digest,
        previous=previous,
        explicit_by=explicit_by,
        target=target,
        via=via,
        details=dict(details or {}),
    )


def fold(name: str, events: Iterable[Event]) -> RegistryState:
    """Apply ``events`` in ``(at, id)`` order and return the resulting state. Pure and deterministic.

    Rules: ``promote`` pushes its version on the alias's rollback stack; ``rollback`` pops the current target and
    makes the event's recorded target current (pushing it when a concurrent promotion left another version below);
    ``protect``/``unprotect`` set the flag; ``yank``/``unyank`` add and remove the version; ``release`` changes no
    state (it is audit only: the new version tag is the release).
    """
    ordered = tuple(sorted(events, key=lambda e: e.order))
    aliases: dict[str, AliasState] = {}
    yanked: dict[str, Event] = {}
    pruned: dict[str, Event] = {}
    for event in ordered:
        if event.kind in DEPLOYMENT_KINDS:
            continue
        if event.kind == "prune" and event.version is not None:
            pruned.setdefault(event.version, event)  # a tombstone is forever: the first one stands
            continue
        if event.kind in ("yank", "unyank") and event.version is not None:
            if event.kind == "yank":
                yanked[event.version] = event
            else:
                yanked.pop(event.version, None)
            continue
        if event.alias is None:
            continue
        state = aliases.get(event.alias, AliasState(event.alias))
        history = (*state.history, event)
        if event.kind == "promote" and event.version is not None:
            state = attrs.evolve(
                state,
                version=event.version,
                digest=event.digest,
                event=event,
                targets=(*state.targets, event.version),
                history=history,
            )
        elif event.kind == "rollback" and event.version is not None:
            targets = state.targets[:-1]
            if not targets or targets[-1] != event.version:
                targets = (*targets, event.version)
            state = attrs.evolve(
                state, version=event.version, digest=event.digest, event=event, targets=targets, history=history
            )
        elif event.kind == "protect":
            state = attrs.evolve(state, protected=True, protected_by=event.by, history=history)
        elif event.kind == "unprotect":
            state = attrs.evolve(state, protected=False, protected_by=None, history=history)
        else:
            state = attrs.evolve(state, history=history)
        aliases[event.alias] = state
    return RegistryState(name=name, events=ordered, aliases=aliases, yanked=yanked, pruned=pruned)


# ---------------------------------------------------------------------------------------------------------------
# Store access. These helpers reach the store through its public API (``tag_path``, ``fs``, ``create_exclusive``);
# the layout belongs to the store, which is asked to grow ``event_path``/``list_events`` (docs/registry.md).


def events_dir(store: Store, name: str) -> str:
    """Store path of ``names/<name>/events``."""
    return posixpath.join(posixpath.dirname(posixpath.dirname(store.tag_path(name, "_"))), "events")


def write_event(store: Store, event: Event) -> str:
    """Create the event's object, exclusively; return its store path.

    Raises:
        StoreError: the store cannot be written, or (never expected: ids are random) the key is taken.
    """
    path = posixpath.join(events_dir(store, event.name), event.key)
    try:
        store.create_exclusive(path, event.to_bytes())
    except FileExistsError as exc:
        raise StoreError(f"event {path} already exists in {store.url}; retry the command") from exc
    return path


_cache: OrderedDict[tuple[str, str], Event] = OrderedDict()
_cache_lock = threading.Lock()


def _parse_event(store: Store, path: str, data: bytes) -> Event:
    try:
        event = from_json_dict(json.loads(data), Event)
    except Exception as exc:
        raise StoreError(
            f"the event {path} in {store.url} is not valid JSON of {EVENT_SCHEMA}: {exc}. Events are the record "
            "of aliases and yanks; restore it from a copy of the store"
        ) from exc
    if posixpath.basename(path) != event.key:
        raise StoreError(
            f"the event stored as {path} in {store.url} says it is {event.key}; it was copied or forged. Remove it"
        )
    return event


def list_event_paths(store: Store, name: str) -> list[str]:
    """Store paths of every event object of ``name`` (unordered; temp files skipped)."""
    directory = events_dir(store, name)
    try:
        # fsspec object stores cache listings per instance; another process may have written an event since.
        store.fs.invalidate_cache(directory)
        entries = store.fs.ls(directory, detail=False)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise StoreError(f"cannot list the events of {name} in {store.url}: {exc}") from exc
    out = []
    for entry in entries:
        path = str(entry).rstrip("/")
        base = posixpath.basename(path)
        if base.endswith(".json") and not base.startswith("."):
            out.append(path)
    return out


def read_events(store: Store, name: str, paths: Sequence[str] | None = None) -> list[Event]:
    """Every event of ``name`` (one listing; an event is read once per process, then kept: it never changes).

    Raises:
        StoreError: an event cannot be read or is not a valid event.
    """
    events = []
    for path in list_event_paths(store, name) if paths is None else paths:
        key = (store.url, path)
        with _cache_lock:
            cached = _cache.get(key)
            if cached is not None:
                _cache.move_to_end(key)
        if cached is None:
            try:
                data = bytes(store.fs.cat_file(path))
            except OSError as exc:
                raise StoreError(f"cannot read the event {path} in {store.url}: {exc}") from exc
            cached = _parse_event(store, path, data)
            with _cache_lock:
                _cache[key] = cached
                while len(_cache) > EVENT_CACHE_SIZE:
                    _cache.popitem(last=False)
        events.append(cached)
    return events


def read_state(store: Store, name: str) -> RegistryState:
    """List, read and fold the events of ``name``: its current aliases, yanks and audit trail."""
    return fold(name, read_events(store, name))
