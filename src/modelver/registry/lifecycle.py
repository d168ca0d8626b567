"""The registry lifecycle: promote, roll back, yank, protect, release; aliases and the audit trail.

Every function here writes at most one version tag and one event (:mod:`modelver.registry.events`) and never changes an
existing object; what an alias points at is the fold of the name's events, so two writers acting at once never
overwrite each other: both events stay, and the fold decides the outcome the same way for every reader.

Who is accountable (``by``) is recorded on every event. It defaults to the OS user, except where an approval must
be deliberate: moving a *protected* alias (:func:`protect`) needs an explicit ``by``.
"""

from __future__ import annotations

import os

from modelver.errors import InvalidReferenceError, ProtectedAliasError, VersionExistsError, VersionNotFoundError
from modelver.provenance import created_by, utc_now
from modelver.registry.approvals import check_policy
from modelver.registry.events import AliasState, Event, EventKind, new_event, write_event
from modelver.registry.names import validate_alias, validate_name
from modelver.registry.notify import notify
from modelver.registry.refs import parse_reference
from modelver.registry.resolution import VersionTag, read_state, read_tag, resolve, unknown_name
from modelver.registry.schemes import DEFAULT_BUMP, candidate_versions, describe
from modelver.registry.semver import SemVer
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = [
    "ProtectedAliasError",
    "aliases",
    "history",
    "promote",
    "protect",
    "release",
    "rollback",
    "unprotect",
    "unyank",
    "yank",
]

StoreArg = str | os.PathLike[str] | Store | None


def _who(by: str | None) -> tuple[str, bool]:
    """The accountable person: ``by`` when given (checked), else the OS user; and whether it was explicit."""
    if by is None:
        return created_by().user, False
    text = by.strip()
    if not text or not text.isprintable() or len(text) > 200:
        raise InvalidReferenceError(
            f"by={by!r} does not name anyone; give a person or account, e.g. --by alice", reference=by
        )
    return text, True


def _check_movable(state: AliasState | None, name: str, alias: str, explicit: bool) -> None:
    if state is not None and state.protected and not explicit:
        raise ProtectedAliasError(
            f"{name}@{alias} is protected (by {state.protected_by}); moving it needs an explicit approver: "
            "pass --by WHO (by= in Python)",
            name=name,
            alias=alias,
            protected_by=state.protected_by or "",
        )


def _write(store: Store, name: str, kind: EventKind, by: str | None, **fields: str | None) -> Event:
    who, explicit = _who(by)
    event = new_event(name, kind, by=who, created_by=created_by(), explicit_by=explicit, **fields)  # type: ignore[arg-type]
    write_event(store, event)
    notify(store, event)
    return event


def promote(ref: str, alias: str, *, by: str | None = None, reason: str = "", store: StoreArg = None) -> Event:
    """Point ``alias`` at the version ``ref`` resolves to, recording who approved it and why.

    Args:
        ref: any reference (``churn@1.4.0``, ``churn@staging``, ``churn``).
        alias: e.g. ``production``; see :func:`~modelver.registry.names.validate_alias`.
        by: the approver (default: the OS user; required for a protected alias).
        reason: why, recorded in the history.
        store: the store (default: see ``modelver info``).

    Returns:
        The event written, or the event that already points ``alias`` at that version (nothing is written then).

    Raises:
        InvalidReferenceError: a bad reference or alias, or the version is yanked.
        VersionNotFoundError: ``ref`` matches nothing.
        ProtectedAliasError: the alias is protected and ``by`` was not given.
        PolicyError: the alias has an approval policy (:func:`~modelver.registry.approvals.set_policy`) and too few
            distinct approvers approved that exact digest.

    Example:
        >>> modelver.promote("churn@1.4.0", "production", by="alice", reason="AUC +0.02 on holdout")  # doctest: +SKIP
    """
    opened = open_store(store)
    validate_alias(alias)
    parsed = parse_reference(ref)
    tag = resolve(opened, parsed, warn_yanked=False)
    state = read_state(opened, parsed.name)
    if tag.version in state.yanked:
        raise InvalidReferenceError(
            f"{tag.name}@{tag.version} is yanked ({state.yanked[tag.version].reason}); unyank it before promoting it",
            reference=ref,
        )
    current = state.aliases.get(alias)
    _check_movable(current, parsed.name, alias, by is not None)
    if current is not None and current.version == tag.version and current.event is not None:
        return current.event
    check_policy(opened, parsed.name, alias, tag.manifest, state.events)
    return _write(
        opened,
        parsed.name,
        "promote",
        by,
        reason=reason,
        alias=alias,
        version=tag.version,
        digest=tag.manifest,
        previous=current.version if current else None,
    )


def rollback(name: str, alias: str, *, by: str | None = None, reason: str = "", store: StoreArg = None) -> Event:
    """Move ``alias`` back to the version it pointed at before its current one (an event itself).

    Rolling back again goes one further back: the alias keeps a stack of its targets.

    Raises:
        VersionNotFoundError: the alias is not set, or has no earlier target.
        InvalidReferenceError: the earlier target has been yanked (promote another version instead).
        ProtectedAliasError: the alias is protected and ``by`` was not given.

    Example:
        >>> event = modelver.rollback("churn", "production", by="alice", reason="latency regression")  # doctest: +SKIP
        >>> event.version, event.previous  # doctest: +SKIP
        ('1.3.2', '1.4.0')
    """
    opened = open_store(store)
    validate_name(name)
    validate_alias(alias)
    registry = read_state(opened, name)
    state = registry.aliases.get(alias)
    if state is None or state.version is None:
        raise VersionNotFoundError(f"alias {alias!r} of {name} is not set; nothing to roll back", reference=alias)
    if len(state.targets) < 2:
        # Each rollback pops the stack, so an alias that pointed at several versions can still run out.
        rolled_back = any(e.kind == "rollback" for e in state.history)
        why = (
            f"earlier rollbacks used up its rollback stack; it points at {state.version}"
            if rolled_back
            else f"it has pointed only at {state.version}"
        )
        raise VersionNotFoundError(
            f"{name}@{alias}: there is no earlier version to roll back to ({why}); promote the version you want "
            f"instead (`modelver history {name}` lists them)",
            reference=f"{name}@{alias}",
        )
    _check_movable(state, name, alias, by is not None)
    target = state.targets[-2]
    if target in registry.yanked:
        raise InvalidReferenceError(
            f"{name}@{alias} would roll back to {target}, which is yanked; promote another version instead",
            reference=f"{name}@{target}",
        )
    tag = read_tag(opened, name, target)
    return _write(
        opened,
        name,
        "rollback",
        by,
        reason=reason,
        alias=alias,
        version=target,
        digest=tag.manifest,
        previous=state.version,
    )


def yank(ref: str, *, reason: str, by: str | None = None, store: StoreArg = None) -> Event | None:
    """Withdraw a version: ``latest`` and ranges skip it; it still loads by exact version, with a warning.

    Args:
        ref: the version (any reference; ``churn@1.2.0`` is the usual form).
        reason: why (required: the people whose ``latest`` changes need to know).
        by: who (default: the OS user).
        store: the store.

    Returns:
        The event, or ``None`` when the version was already yanked.

    Raises:
        InvalidReferenceError: a bad reference or an empty reason.
        VersionNotFoundError: ``ref`` matches nothing.

    Example:
        >>> modelver.yank("churn@1.2.0", reason="trained on leaked labels")  # doctest: +SKIP
    """
    if not reason.strip():
        raise InvalidReferenceError("a yank needs a reason (--reason): say why the version was withdrawn")
    opened = open_store(store)
    tag = resolve(opened, ref, warn_yanked=False)
    if tag.version in read_state(opened, tag.name).yanked:
        return None
    return _write(opened, tag.name, "yank", by, reason=reason, version=tag.version, digest=tag.manifest)


def unyank(ref: str, *, by: str | None = None, reason: str = "", store: StoreArg = None) -> Event | None:
    """Restore a yanked version. Returns the event, or ``None`` when it was not yanked.

    Raises:
        InvalidReferenceError: a bad reference.
        VersionNotFoundError: ``ref`` matches nothing.

    Example:
        >>> modelver.unyank("churn@1.2.0", reason="the leak was in the report, not the training data")  # doctest: +SKIP
    """
    opened = open_store(store)
    tag = resolve(opened, ref, warn_yanked=False)
    if tag.version not in read_state(opened, tag.name).yanked:
        return None
    return _write(opened, tag.name, "unyank", by, reason=reason, version=tag.version, digest=tag.manifest)


def protect(name: str, alias: str, *, by: str, reason: str = "", store: StoreArg = None) -> Event:
    """Mark ``alias`` so that promoting or rolling it back needs an explicit ``by``; records who protected it.

    Raises:
        InvalidReferenceError: a bad name or alias, or ``by`` is empty.
        VersionNotFoundError: the name has no versions.

    Example:
        >>> modelver.protect("churn", "production", by="alice", reason="serves customers")  # doctest: +SKIP
    """
    return _protection(name, alias, "protect", by, reason, store)


def unprotect(name: str, alias: str, *, by: str, reason: str = "", store: StoreArg = None) -> Event:
    """Lift :func:`protect` (needs an explicit ``by`` too).

    Example:
        >>> modelver.unprotect("churn", "production", by="alice", reason="service retired")  # doctest: +SKIP
    """
    return _protection(name, alias, "unprotect", by, reason, store)


def _protection(name: str, alias: str, kind: EventKind, by: str, reason: str, store: StoreArg) -> Event:
    opened = open_store(store)
    validate_name(name)
    validate_alias(alias)
    if by is None:
        raise InvalidReferenceError(f"{kind} needs an explicit by= (--by WHO)")
    if not opened.list_versions(name):
        raise unknown_name(opened, name)
    return _write(opened, name, kind, by, reason=reason, alias=alias)


def aliases(name: str, *, store: StoreArg = None) -> dict[str, AliasState]:
    """The aliases of ``name`` (set or only protected), each with its target, protection and history.

    Raises:
        InvalidReferenceError: a bad name.

    Example:
        >>> {alias: state.version for alias, state in modelver.aliases("churn").items()}  # doctest: +SKIP
        {'production': '1.4.0', 'staging': '1.5.0'}
    """
    validate_name(name)
    return dict(sorted(read_state(open_store(store), name).aliases.items()))


def history(name: str, *, alias: str | None = None, store: StoreArg = None) -> tuple[Event, ...]:
    """Every event of ``name`` (or of one alias) in fold order: time, actor, host, reason. The audit trail.

    Raises:
        InvalidReferenceError: a bad name or alias.

    Example:
        >>> for event in modelver.history("churn", alias="production"):  # doctest: +SKIP
        ...     print(event.at, event.kind, event.version, event.by)
        2026-11-29T16:01:02.345678Z promote 1.4.0 alice
    """
    validate_name(name)
    events = read_state(open_store(store), name).events
    if alias is None:
        return events
    validate_alias(alias)
    return tuple(e for e in events if e.alias == alias)


def release(
    ref: str,
    *,
    bump: str = DEFAULT_BUMP,
    version: str | None = None,
    by: str | None = None,
    reason: str = "",
    store: StoreArg = None,
) -> VersionTag:
    """Give the version ``ref`` resolves to (typically a hybrid experiment) a semver release, copying no byte.

    The release is a new version tag on the same manifest, plus a ``release`` event naming where it came from.

    Args:
        ref: the version to release, e.g. ``churn@1.4.1-exp.20261129T160102Z``.
        bump: which part to bump from the highest semver release (``patch``, ``minor``, ``major``).
        version: the release version instead of a bump, e.g. ``"1.3.0"`` (must be free and not a pre-release).
        by: who released it (default: the OS user).
        reason: why.
        store: the store.

    Returns:
        The new version's tag.

    Raises:
        InvalidReferenceError: a bad reference or version, a pre-release ``version``, or a yanked source.
        VersionExistsError: ``version`` is taken.
        VersionNotFoundError: ``ref`` matches nothing.

    Example:
        >>> tag = modelver.release("churn@1.4.1-exp.20261129T160102Z", bump="minor")  # doctest: +SKIP
        >>> tag.version  # doctest: +SKIP
        '1.5.0'
    """
    opened = open_store(store)
    source = resolve(opened, ref, warn_yanked=False)
    state = read_state(opened, source.name)
    if source.version in state.yanked:
        raise InvalidReferenceError(f"{source.name}@{source.version} is yanked; unyank it before releasing it")
    if version is not None:
        wanted = SemVer.parse(version)
        if wanted.is_prerelease or describe(wanted).scheme != "semver":
            raise InvalidReferenceError(
                f"a release is a plain MAJOR.MINOR.PATCH version, not {version!r}", reference=version
            )
    who = created_by()
    for candidate in candidate_versions(opened, source.name, scheme="semver", requested=version, bump=bump):
        tag = VersionTag(source.name, candidate, source.manifest, utc_now(), who, metrics=dict(source.metrics))
        try:
            opened.create_tag(source.name, candidate, tag.to_bytes())
        except VersionExistsError:
            if version is not None:
                raise
            continue
        _write(
            opened,
            source.name,
            "release",
            by,
            reason=reason,
            version=candidate,
            digest=source.manifest,
            previous=source.version,
        )
        return tag
    raise VersionExistsError(
        f"no free release version of {source.name} found; release again, another release took the last one.",
        name=source.name,
    )  # pragma: no cover
