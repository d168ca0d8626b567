"""Deployment records: which version serves at which target, since when, who put it there, through which alias.

A deployment is three kinds of event beside the name's other events (:mod:`modelver.registry.events`), written once
and never changed:

- ``deploy``: someone (``modelver deploy REF --target prod-eu``) put the version ``REF`` resolves to at a target;
- ``undeploy``: the target no longer serves the name;
- ``served``: a serving process loaded the version with ``modelver.load(ref, deployment="prod-eu")``; recorded at most
  once per process, store, target and digest, and never failing the load.

What is deployed where is the fold of these events in ``(at, id)`` order, optionally only up to an instant (time
travel, :mod:`modelver.registry.timeline`). Targets are free-form names (``prod-eu``, ``k8s/canary``).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable
from datetime import datetime

import attrs

from modelver.errors import CaptureWarning, InvalidReferenceError, VersionNotFoundError
from modelver.provenance import created_by
from modelver.registry.events import Event, EventKind, new_event, read_events, write_event
from modelver.registry.names import validate_name
from modelver.registry.notify import notify
from modelver.registry.refs import parse_reference
from modelver.registry.resolution import VersionTag, resolve
from modelver.registry.served_spool import flush_spooled, spool_event
from modelver.registry.timeline import events_until, parse_instant
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = [
    "MAX_TARGET_LENGTH",
    "Deployment",
    "deployments",
    "record_deployment",
    "record_served",
    "record_undeployment",
    "validate_target",
]

StoreArg = str | os.PathLike[str] | Store | None
MAX_TARGET_LENGTH = 128


@attrs.frozen
class Deployment:
    """What one target serves of one name, as the fold of its deployment events.

    Attributes:
        name: the model name.
        target: the deployment target, e.g. ``prod-eu``.
        version: the version deployed (or last seen served) there.
        digest: its manifest digest.
        since: RFC 3339 UTC time (the writer's clock) of the event that put this version there.
        by: who deployed it (for a version only seen served: the OS user of the serving process).
        via: the alias the deployed reference came through, if any.
        host: the host that wrote that event.
        note: the deployer's note.
        source: ``"deploy"`` (recorded by ``modelver deploy``) or ``"served"`` (only seen served by ``load``).
        last_served: when a serving process last reported this version at this target (``None``: never).
        served_hosts: the hosts that reported serving it, sorted.
        history: every deployment event of this name and target, oldest first (the timeline).

    Example:
        >>> for d in modelver.deployments("churn"):  # doctest: +SKIP
        ...     print(d.target, d.version, d.source, d.since)
        prod-eu 1.4.0 deploy 2026-11-29T16:01:02.345678Z
    """

    name: str
    target: str
    version: str
    digest: str
    since: str
    by: str
    via: str | None
    host: str
    note: str
    source: str
    last_served: str | None = None
    served_hosts: tuple[str, ...] = ()
    history: tuple[Event, ...] = ()


def validate_target(target: str) -> str:
    """Check a deployment target name: printable, no whitespace at its ends, at most 128 characters.

    Args:
        target: e.g. ``"prod-eu"``.

    Returns:
        ``target`` unchanged.

    Raises:
        InvalidReferenceError: empty, too long, or with control characters.

    Example:
        >>> validate_target("prod-eu")
        'prod-eu'
    """
    if not target or target != target.strip() or not target.isprintable() or len(target) > MAX_TARGET_LENGTH:
        raise InvalidReferenceError(
            f"deployment target {target!r} is not usable: give a printable name of at most {MAX_TARGET_LENGTH} "
            "characters without surrounding spaces, e.g. --target prod-eu",
            reference=target,
        )
    return target


def _who(by: str | None) -> tuple[str, bool]:
    if by is None:
        return created_by().user, False
    text = by.strip()
    if not text or not text.isprintable() or len(text) > 200:
        raise InvalidReferenceError(f"by={by!r} does not name anyone; give a person or account, e.g. --by alice")
    return text, True


def _write(
    store: Store, tag: VersionTag, kind: EventKind, target: str, by: str | None, note: str, via: str | None
) -> Event:
    who, explicit = _who(by)
    event = new_event(
        tag.name,
        kind,
        by=who,
        created_by=created_by(),
        explicit_by=explicit,
        reason=note,
        version=tag.version,
        digest=tag.manifest,
        target=target,
        via=via,
    )
    write_event(store, event)
    notify(store, event)
    return event


def _open(store: StoreArg) -> Store:
    return open_store(store)


def record_deployment(ref: str, target: str, *, by: str | None = None, note: str = "", store: StoreArg = None) -> Event:
    """Record that the version ``ref`` resolves to now serves at ``target``.

    Args:
        ref: any reference; an alias (``churn@production``) is recorded as the deployment's ``via``.
        target: free-form target name, e.g. ``"prod-eu"``.
        by: who deployed it (default: the OS user).
        note: free text kept with the event (a ticket, a change id).
        store: the store (default: see ``modelver info``).

    Returns:
        The ``deploy`` event written.

    Raises:
        InvalidReferenceError: a bad reference, target or ``by``.
        VersionNotFoundError: ``ref`` matches nothing.

    Example:
        >>> modelver.record_deployment("churn@production", "prod-eu", by="ci")  # doctest: +SKIP
    """
    validate_target(target)
    opened = _open(store)
    parsed = parse_reference(ref)
    tag = resolve(opened, parsed)
    return _write(opened, tag, "deploy", target, by, note, parsed.alias if parsed.kind == "alias" else None)


def record_undeployment(
    name: str, target: str, *, by: str | None = None, note: str = "", store: StoreArg = None
) -> Event:
    """Record that ``target`` no longer serves ``name``.

    Args:
        name: the model name.
        target: the target it was deployed to.
        by: who (default: the OS user).
        note: free text kept with the event.
        store: the store.

    Returns:
        The ``undeploy`` event written (it names the version that was deployed).

    Raises:
        InvalidReferenceError: a bad name or target.
        VersionNotFoundError: nothing of ``name`` is deployed at ``target``.

    Example:
        >>> modelver.record_undeployment("churn", "prod-eu", by="oncall")  # doctest: +SKIP
    """
    validate_name(name)
    validate_target(target)
    opened = _open(store)
    current = {d.target: d for d in _fold(name, read_events(opened, name))}
    deployed = current.get(target)
    if deployed is None:
        where = ", ".join(sorted(current)) or "nowhere"
        raise VersionNotFoundError(
            f"{name} is not deployed at {target!r} (deployed at: {where}); see `modelver deployments {name}`",
            reference=f"{name} --target {target}",
            available=tuple(sorted(current)),
        )
    tag = VersionTag(name, deployed.version, deployed.digest, "", created_by())
    return _write(opened, tag, "undeploy", target, by, note, None)


_served: set[tuple[str, str, str, str]] = set()
_served_lock = threading.Lock()


def record_served(store: Store, tag: VersionTag, target: str) -> Event | None:
    """Record a ``served`` event for ``tag`` at ``target``, at most once per process, store, target and digest.

    Never raises: when the store cannot be written (read-only, network down) the event is spooled locally
    (:mod:`modelver.registry.served_spool`) and written by the next record that reaches the store, with a
    :class:`~modelver.errors.CaptureWarning`; the load goes on. A record that reaches the store also writes what was
    spooled for it.

    Args:
        store: the store the version was loaded from.
        tag: the version loaded.
        target: the deployment target, e.g. ``"prod-eu"``.

    Returns:
        The event written, or ``None`` when this process already recorded it (or recording failed).

    Example:
        >>> modelver.load("churn@production", deployment="prod-eu")  # doctest: +SKIP
    """
    key = (store.url, tag.name, target, tag.manifest)
    with _served_lock:
        if key in _served:
            return None
        _served.add(key)
    try:
        validate_target(target)
        event = new_event(
            tag.name,
            "served",
            by=created_by().user,
            created_by=created_by(),
            version=tag.version,
            digest=tag.manifest,
            target=target,
        )
    except Exception as exc:  # tracking never breaks serving: a failed record is a warning
        warnings.warn(
            f"cannot record serving at {target!r}: {exc}; the model loaded anyway", CaptureWarning, stacklevel=3
        )
        return None
    try:
        write_event(store, event)
    except Exception as exc:
        try:
            where = f"; spooled to {spool_event(store, event)}, written by the next record that reaches the store"
        except OSError as spool_exc:
            where = f"; not spooled either ({spool_exc})"
            with _served_lock:
                _served.discard(key)  # nothing kept it: the next load tries again
        warnings.warn(
            f"could not record that {tag.name}@{tag.version} is served at {target!r} in {store.url}: {exc}{where}; "
            "the model loaded anyway",
            CaptureWarning,
            stacklevel=3,
        )
        return None
    notify(store, event)
    flush_spooled(store)
    return event


def _fold(name: str, events: Iterable[Event]) -> list[Deployment]:
    """Fold the deployment events of one name into the current deployment per target (targets sorted)."""
    current: dict[str, Deployment] = {}
    histories: dict[str, tuple[Event, ...]] = {}
    for event in sorted(events, key=lambda e: e.order):
        if event.target is None or event.kind not in ("deploy", "undeploy", "served"):
            continue
        target = event.target
        histories[target] = (*histories.get(target, ()), event)
        now = current.get(target)
        if event.kind == "undeploy":
            current.pop(target, None)
            continue
        if event.version is None or event.digest is None:
            continue
        if event.kind == "served" and now is not None and now.digest == event.digest:
            hosts = tuple(sorted({*now.served_hosts, event.created_by.host}))
            current[target] = attrs.evolve(now, last_served=event.at, served_hosts=hosts)
            continue
        if event.kind == "deploy" and now is not None and now.digest == event.digest:
            # A redeploy of what serves already: keep `since`, record who re-deployed it.
            current[target] = attrs.evolve(now, by=event.by, via=event.via or now.via, source="deploy")
            continue
        served = event.kind == "served"
        current[target] = Deployment(
            name=name,
            target=target,
            version=event.version,
            digest=event.digest,
            since=event.at,
            by=event.by,
            via=event.via,
            host=event.created_by.host,
            note=event.reason,
            source=event.kind,
            last_served=event.at if served else None,
            served_hosts=(event.created_by.host,) if served else (),
        )
    return [attrs.evolve(current[t], history=histories[t]) for t in sorted(current)]


def deployments(
    name: str | None = None,
    *,
    target: str | None = None,
    at: str | datetime | None = None,
    store: StoreArg = None,
) -> list[Deployment]:
    """What is deployed where: one :class:`Deployment` per name and target, now or as it stood at ``at``.

    Args:
        name: one model name (default: every name in the store).
        target: only this target.
        at: an instant (``"2026-12-01T14:02Z"``): fold only the events stamped up to then (writers' clocks).
        store: the store.

    Returns:
        Deployments sorted by name, then target.

    Raises:
        InvalidReferenceError: a bad name, target or instant.

    Example:
        >>> [d.version for d in modelver.deployments("churn", target="prod-eu")]  # doctest: +SKIP
        ['1.1.0']
    """
    moment = parse_instant(at) if at is not None else None
    if target is not None:
        validate_target(target)
    opened = _open(store)
    if name is not None:
        validate_name(name)
        names = [name]
    else:
        names = opened.list_names()
    out: list[Deployment] = []
    for each in names:
        for deployment in _fold(each, events_until(read_events(opened, each), moment)):
            if target is None or deployment.target == target:
                out.append(deployment)
    return out
