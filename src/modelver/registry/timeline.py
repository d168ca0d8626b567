"""Time travel: the registry as it stood at an instant, and one timeline of everything that happened to a name.

A name's mutable state (aliases, yanks, deployments) is the fold of its append-only events
(:mod:`modelver.registry.events`), so its state at an instant is the fold of the events stamped up to that instant,
and the versions that existed then are those whose tag was created by then. Both stamps are the **writers' clocks**
(UTC, RFC 3339): a writer whose clock is off by a minute places its events a minute off. :func:`clock_skew` compares
an event's stamp with the time the store itself recorded for the object, where the backend keeps one (local disk, S3,
GCS and Azure do), so a large difference can be flagged.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from datetime import datetime, timezone

from modelver.errors import InvalidReferenceError, VersionNotFoundError
from modelver.registry.events import Event, RegistryState, events_dir, fold, read_events
from modelver.registry.refs import Reference, parse_reference
from modelver.registry.resolution import VersionTag, read_tag, sorted_versions, unknown_name
from modelver.registry.semver import SemVer
from modelver.store.objects import Store

__all__ = ["SKEW_WARN_S", "clock_skew", "event_skew", "events_until", "parse_instant", "resolve_at", "state_at"]

#: A writer's stamp this far (seconds) from the store's own time of the object is flagged as clock skew.
SKEW_WARN_S = 60.0

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(text: str | datetime) -> datetime:
    """Parse an instant for ``--at``: RFC 3339 / ISO 8601 with a time zone, or a bare date (midnight UTC).

    Args:
        text: e.g. ``"2026-12-01T14:02Z"``, ``"2026-12-01T14:02:03.5+01:00"``, ``"2026-12-01"``, or an aware
            :class:`~datetime.datetime`.

    Returns:
        The instant as an aware UTC datetime.

    Raises:
        InvalidReferenceError: the text is not a time, or it has no time zone (which clock would it be?).

    Example:
        >>> parse_instant("2026-12-01T14:02Z").isoformat()
        '2026-12-01T14:02:00+00:00'
    """
    if isinstance(text, datetime):
        moment = text
    else:
        raw = text.strip()
        if _DATE_ONLY.match(raw):
            raw += "T00:00:00Z"
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidReferenceError(
                f"--at {text!r} is not a time; give RFC 3339 UTC, e.g. 2026-12-01T14:02Z", reference=str(text)
            ) from None
    if moment.tzinfo is None:
        raise InvalidReferenceError(
            f"--at {text!s} has no time zone; add Z for UTC (e.g. {text!s}Z) or an offset such as +01:00",
            reference=str(text),
        )
    return moment.astimezone(timezone.utc)


def stamp_of(text: str) -> datetime:
    """A stored RFC 3339 stamp (event ``at``, tag ``created_at``) as an aware UTC datetime."""
    return parse_instant(text)


def events_until(events: Iterable[Event], at: datetime | None) -> list[Event]:
    """The events stamped at or before ``at`` (all of them when ``at`` is ``None``)."""
    if at is None:
        return list(events)
    return [e for e in events if stamp_of(e.at) <= at]


def state_at(store: Store, name: str, at: datetime | None) -> RegistryState:
    """The fold of the events of ``name`` stamped up to ``at``: aliases and yanks as they stood then."""
    return fold(name, events_until(read_events(store, name), at))


def _tags_at(store: Store, name: str, at: datetime) -> list[VersionTag]:
    tags = [read_tag(store, name, str(v)) for v in sorted_versions(store, name)]
    return [t for t in tags if stamp_of(t.created_at) <= at]


def resolve_at(store: Store, reference: str | Reference, at: str | datetime) -> VersionTag:
    """Resolve a reference as it would have resolved at instant ``at``.

    Versions published after ``at`` do not exist yet; aliases point where their events up to ``at`` put them;
    versions yanked by then are skipped by ``latest`` and ranges. Reads every version tag of the name (a time-travel
    query is an audit, not a serving path).

    Args:
        store: the store.
        reference: ``"name[@spec]"`` or a parsed reference.
        at: the instant (see :func:`parse_instant`).

    Returns:
        The tag of the version the reference named then.

    Raises:
        InvalidReferenceError: a malformed reference or instant.
        VersionNotFoundError: nothing matched at that instant (the message says what existed then).

    Example:
        >>> resolve_at(store, "churn@production", "2026-12-01T14:02Z").version  # doctest: +SKIP
        '1.0.0'
    """
    ref = reference if isinstance(reference, Reference) else parse_reference(reference)
    moment = parse_instant(at)
    when = moment.isoformat().replace("+00:00", "Z")
    tags = _tags_at(store, ref.name, moment)
    if not tags:
        if not sorted_versions(store, ref.name):
            raise unknown_name(store, ref.name)
        raise VersionNotFoundError(
            f"{ref.name} had no versions yet at {when}; its first was published later", reference=str(ref)
        )
    state = state_at(store, ref.name, moment)
    by_version = {t.version: t for t in tags}
    if ref.kind == "version":
        found = by_version.get(str(ref.version))
        if found is None:
            raise VersionNotFoundError(f"{ref.name}@{ref.version} did not exist at {when}", reference=str(ref))
        return found
    if ref.kind == "alias":
        alias = state.aliases.get(str(ref.alias))
        if alias is None or alias.version is None or alias.version not in by_version:
            raise VersionNotFoundError(
                f"alias {ref.alias!r} of {ref.name} was not set at {when}; see `modelver history {ref.name}`",
                reference=str(ref),
            )
        return by_version[alias.version]
    if ref.kind in ("latest", "range"):
        candidates = []
        for tag in tags:
            version = SemVer.parse(tag.version)
            wanted = ref.range.contains(version) if ref.range else not version.is_prerelease
            if wanted and tag.version not in state.yanked and tag.version not in state.pruned:
                candidates.append((version.sort_key(), tag))
        if not candidates:
            raise VersionNotFoundError(
                f"no version of {ref.name} matched {ref.spec or 'latest'} (and was not yanked) at {when}",
                reference=str(ref),
            )
        return max(candidates, key=lambda pair: pair[0])[1]
    prefix = str(ref.digest_prefix)
    matches = [t for t in tags if t.manifest.startswith(prefix)]
    if not matches:
        raise VersionNotFoundError(
            f"no version of {ref.name} with a digest starting {prefix} existed at {when}", reference=str(ref)
        )
    live = [t for t in matches if t.version not in state.yanked]
    return (live or matches)[-1]


def clock_skew(store: Store, path: str, stamped: str) -> float | None:
    """Seconds by which the store's own modification time of ``path`` differs from the writer's stamp.

    Args:
        store: the store.
        path: the object's store path (an event, a tag).
        stamped: the writer's RFC 3339 stamp recorded in the object.

    Returns:
        ``store time - writer time`` in seconds (positive: the writer's clock was behind), or ``None`` when the
        backend reports no modification time.

    Example:
        >>> clock_skew(store, path, event.at)  # doctest: +SKIP
        0.004
    """
    try:
        modified = store.fs.modified(path)
    except (NotImplementedError, OSError, AttributeError, ValueError):
        return None
    if not isinstance(modified, datetime):
        return None
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=timezone.utc)
    return (modified - stamp_of(stamped)).total_seconds()


def event_skew(store: Store, event: Event) -> float | None:
    """:func:`clock_skew` of a stored event: the store's time of its object minus the writer's ``at``, in seconds.

    Example:
        >>> event_skew(store, deployment.history[-1])  # doctest: +SKIP
        0.002
    """
    return clock_skew(store, posixpath.join(events_dir(store, event.name), event.key), event.at)
