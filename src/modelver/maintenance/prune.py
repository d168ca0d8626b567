"""Retention: ``prune`` removes whole versions, leaving a tombstone; ``gc`` then frees their bytes.

A pruned version keeps its version tag (the create-if-absent guard: ``name@version`` can never be published again,
with any bytes) and gets a ``prune`` event beside the name's other events (:mod:`modelver.registry.events`): the
tombstone. Resolution then refuses it with "pruned on ..., by ..." and ``latest``/ranges skip it. Nothing is
deleted by prune itself, so it is safe to run while other processes publish: a version published meanwhile is not
in its listing and stays.

Never pruned: a version an alias points to, one deployed at a target now, one another remaining version's lineage
names (``track()`` records what ``get``/``load`` read), and the last ``keep_last`` versions of each name.
Checkpoints of live runs are not versions (``checkpoints/``, :mod:`modelver.tracking.checkpoints`) and are never
touched. Rules can be stored per name (:func:`set_retention`) and applied by a plain ``modelver prune``.

**For gc:** a tombstoned version is no gc root: its manifest and the blobs only it references may be collected; its
tag and its ``prune`` event must be kept forever (they are what refuses a re-publish and explains the removal).
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import datetime, timedelta, timezone

import attrs

from modelver.errors import InvalidReferenceError, ModelverError, StoreError
from modelver.provenance import created_by
from modelver.registry.deployments import deployments
from modelver.registry.events import Event, new_event, read_events, write_event
from modelver.registry.model_version import read_manifest
from modelver.registry.names import validate_name
from modelver.registry.resolution import VersionTag, read_state, read_tag, sorted_versions
from modelver.registry.verify import referenced_blobs
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["PruneReport", "parse_age", "prune", "retention_rules", "set_retention"]

StoreArg = str | os.PathLike[str] | Store | None
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@attrs.frozen
class PruneReport:
    """What a prune removed (or, in a dry run, would remove) and what it kept on purpose.

    Attributes:
        pruned: ``name@version`` of each version pruned (tombstoned), oldest first per name.
        kept: ``name@version`` to why it was kept although the rules selected it (alias, deployed, lineage).
        bytes_freed: bytes of manifests and blobs only pruned versions reference: what the next ``gc`` frees.
        dry_run: whether nothing was written.
    """

    pruned: tuple[str, ...]
    kept: dict[str, str]
    bytes_freed: int
    dry_run: bool


def parse_age(text: str | float | timedelta) -> timedelta:
    """Parse ``--older-than``: a number with a unit ``s``, ``m``, ``h``, ``d`` or ``w`` (``30d``), or seconds.

    Raises:
        InvalidReferenceError: not an age.

    Example:
        >>> parse_age("30d").days
        30
    """
    if isinstance(text, timedelta):
        return text
    if isinstance(text, (int, float)):
        return timedelta(seconds=float(text))
    match = _AGE.match(text)
    if match is None:
        raise InvalidReferenceError(f"--older-than {text!r} is not an age; write e.g. 30d, 12h, 90m or 2w")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def set_retention(
    name: str, *, keep_last: int | None, older_than: str | None, by: str, reason: str = "", store: StoreArg = None
) -> Event:
    """Store the retention rules of ``name`` (a ``retention`` event), applied by a plain ``modelver prune``.

    Args:
        name: the model name.
        keep_last: always keep this many of the highest versions (``None``: no such rule).
        older_than: prune only versions published longer ago than this, e.g. ``"30d"`` (``None``: any age).
        by: who set the rules.
        reason: why.
        store: the store.

    Raises:
        InvalidReferenceError: a bad name or age, a negative ``keep_last``, or neither rule given.

    Example:
        >>> set_retention("churn", keep_last=10, older_than="30d", by="ops")  # doctest: +SKIP
    """
    validate_name(name)
    _check_rules(keep_last, older_than)
    opened = open_store(store)
    details = {"keep_last": keep_last, "older_than": older_than}
    event = new_event(
        name, "retention", by=by, created_by=created_by(), explicit_by=True, reason=reason, details=details
    )
    write_event(opened, event)
    return event


def retention_rules(store: Store, name: str) -> tuple[int | None, str | None] | None:
    """The stored rules of ``name`` as ``(keep_last, older_than)``, or ``None`` when none are stored."""
    last = None
    for event in sorted(read_events(store, name), key=lambda e: e.order):
        if event.kind == "retention":
            last = event
    if last is None:
        return None
    keep = last.details.get("keep_last")
    older = last.details.get("older_than")
    return (int(keep) if keep is not None else None, str(older) if older is not None else None)


def _check_rules(keep_last: int | None, older_than: str | float | None) -> None:
    if keep_last is None and older_than is None:
        raise InvalidReferenceError("give --keep-last N, --older-than AGE or both (or store rules: retention set)")
    if keep_last is not None and keep_last < 0:
        raise InvalidReferenceError(f"--keep-last {keep_last}: give 0 or more versions to keep")
    if older_than is not None:
        parse_age(older_than)


def _referenced(manifest_inputs: tuple[str, ...]) -> set[str]:
    """Lineage inputs as ``name@version``/``name@digest`` keys (``name@version#digest`` gives both)."""
    keys = set()
    for entry in manifest_inputs:
        head, _, digest = entry.partition("#")
        keys.add(head)
        if digest:
            keys.add(f"{head.split('@', 1)[0]}@{digest}")
    return keys


def prune(
    *,
    keep_last: int | None = None,
    older_than: str | float | timedelta | None = None,
    name: str | None = None,
    dry_run: bool = False,
    by: str | None = None,
    reason: str = "",
    store: StoreArg = None,
    now: datetime | None = None,
) -> PruneReport:
    """Tombstone the versions the rules select, except those still needed; ``gc`` frees their bytes later.

    With neither ``keep_last`` nor ``older_than``, each name's stored rules (:func:`set_retention`) apply and names
    without rules are left alone.

    Args:
        keep_last: keep this many of each name's highest live versions.
        older_than: prune only versions published longer ago than this (``"30d"``, seconds, a timedelta).
        name: only this name (default: every name).
        dry_run: report, write nothing.
        by: who prunes (default: the OS user); recorded on each tombstone.
        reason: why; shown when a pruned version is resolved.
        store: the store.
        now: the time ages are measured from (default: now).

    Returns:
        The report: what was pruned, what was kept and why, and the bytes the next ``gc`` frees.

    Raises:
        InvalidReferenceError: bad rules or name.
        StoreError: a manifest of a live version cannot be read, so what it references is unknown.

    Example:
        >>> prune(keep_last=10, older_than="30d", dry_run=True).bytes_freed  # doctest: +SKIP
        123456789
    """
    explicit = keep_last is not None or older_than is not None
    if explicit:
        _check_rules(keep_last, older_than if not isinstance(older_than, timedelta) else 0)
    opened = open_store(store)
    moment = now or datetime.now(timezone.utc)
    who = by or created_by().user
    names = opened.list_names()
    if name is not None:
        validate_name(name)
    chosen = [name] if name is not None else names
    # Every live version of every name, with its manifest: lineage may cross names.
    live: dict[str, tuple[VersionTag, list[tuple[str, str]], set[str]]] = {}
    protected: dict[str, str] = {}
    for each in names:
        state = read_state(opened, each)
        for alias, alias_state in state.aliases.items():
            if alias_state.version is not None:
                protected.setdefault(f"{each}@{alias_state.version}", f"alias {alias}")
        for deployed in deployments(each, store=opened):
            protected.setdefault(f"{each}@{deployed.version}", f"deployed at {deployed.target}")
        for version in sorted_versions(opened, each):
            if str(version) in state.pruned:
                continue
            tag = read_tag(opened, each, str(version))
            try:
                manifest = read_manifest(opened, tag)
            except ModelverError as exc:
                raise StoreError(
                    f"cannot read {each}@{version} to know what its lineage needs: {exc}; nothing was pruned"
                ) from exc
            live[f"{each}@{version}"] = (tag, referenced_blobs(manifest), _referenced(manifest.lineage.inputs))
    selected: list[str] = []
    for each in chosen:
        rules = (keep_last, older_than) if explicit else retention_rules(opened, each)
        if rules is None:
            continue
        keep, older = rules
        mine = [ref for ref in live if ref.split("@", 1)[0] == each]  # precedence order, lowest first
        kept_last = set(mine[len(mine) - keep :]) if keep else set()
        cutoff = moment - parse_age(older) if older is not None else None
        for ref in mine:
            if ref in kept_last:
                continue
            if cutoff is not None and _stamp(live[ref][0].created_at) > cutoff:
                continue
            selected.append(ref)
    kept: dict[str, str] = {}
    doomed = []
    for ref in selected:
        if ref in protected:
            kept[ref] = protected[ref]
        else:
            doomed.append(ref)
    # Lineage: what a remaining version names stays; keeping one may keep what it names in turn.
    changed = True
    while changed:
        changed = False
        remaining = [r for r in live if r not in doomed]
        needed: dict[str, str] = {}
        for ref in remaining:
            for key in live[ref][2]:
                needed.setdefault(key, ref)
        for ref in list(doomed):
            tag = live[ref][0]
            by_ref = needed.get(ref) or needed.get(f"{tag.name}@{tag.manifest}")
            if by_ref is not None:
                doomed.remove(ref)
                kept[ref] = f"lineage of {by_ref}"
                changed = True
    freed = _bytes_freed(opened, live, doomed)
    if not dry_run:
        for ref in doomed:
            tag = live[ref][0]
            state = read_state(opened, tag.name)  # re-check just before: an alias may have moved meanwhile
            if any(a.version == tag.version for a in state.aliases.values()):
                kept[ref] = "alias (set while pruning)"
                continue
            event = new_event(
                tag.name,
                "prune",
                by=who,
                created_by=created_by(),
                explicit_by=by is not None,
                reason=reason,
                version=tag.version,
                digest=tag.manifest,
            )
            write_event(opened, event)
    pruned = tuple(r for r in doomed if r not in kept)
    return PruneReport(pruned=pruned, kept=dict(sorted(kept.items())), bytes_freed=freed, dry_run=dry_run)


def _bytes_freed(
    store: Store, live: dict[str, tuple[VersionTag, list[tuple[str, str]], set[str]]], doomed: list[str]
) -> int:
    """Bytes of manifests and blobs referenced only by ``doomed`` versions."""
    gone = set(doomed)
    keep_blobs = {d for ref, (_, blobs, _) in live.items() if ref not in gone for _, d in blobs}
    keep_manifests = {tag.manifest for ref, (tag, _, _) in live.items() if ref not in gone}
    total = 0
    seen: set[str] = set()
    for ref in doomed:
        tag, blobs, _ = live[ref]
        if tag.manifest not in keep_manifests and tag.manifest not in seen:
            seen.add(tag.manifest)
            with contextlib.suppress(OSError, TypeError, ValueError):
                total += int(store.fs.size(store.manifest_path(tag.manifest)))
        for _, digest in blobs:
            if digest in keep_blobs or digest in seen:
                continue
            seen.add(digest)
            total += store.blob_size(digest) or 0
    return total
