"""Version tags and reference resolution: from ``"name@spec"`` to one concrete version and manifest digest.

Resolution reads version *tags* (small objects listed per name) and the name's append-only *events* (aliases,
yanks; see :mod:`modelver.registry.events`), never a manifest. What a process keeps between resolves, and why none of it
can make a resolve miss a change made by another process:

- **parsed tags and events**: both are write-once objects, so a copy read earlier is never stale (bounded LRU);
- **directory listings on a local store**: reused only while the directory's ``(mtime_ns, inode, device)`` is
  unchanged *and* that mtime is more than :data:`RACY_WINDOW_NS` older than the listing (git's "racy clean" rule: a
  change within the filesystem's timestamp granularity of the listing could leave the mtime unchanged). Any tag or
  event created after the listing changes the directory's mtime, so the next resolve lists again. Remote stores
  (S3, GCS, Azure, ``memory://``) are listed on every resolve.

Every resolve therefore sees tags, promotions and rollbacks made by other processes up to its own start.
"""

from __future__ import annotations

import bisect
import difflib
import json
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import attrs

from modelver.errors import (
    IntegrityError,
    InvalidReferenceError,
    StoreError,
    VersionNotFoundError,
    YankedVersionWarning,
)
from modelver.manifest import CreatedBy
from modelver.registry.events import RegistryState, events_dir, fold, list_event_paths, read_events
from modelver.registry.ranges import VersionRange
from modelver.registry.refs import Reference, parse_reference
from modelver.registry.semver import PrecedenceKey, SemVer
from modelver.serde import canonical_json, from_json_dict, to_json_dict
from modelver.store.objects import Store

TAG_SCHEMA = "modelver.tag/1"
#: A local directory listing is reused only when the directory's mtime is older than the listing by this much
#: (nanoseconds). 3 s covers the coarsest common mtime granularity (2 s on FAT, 1 s on ext3 and HFS+).
RACY_WINDOW_NS = 3_000_000_000
#: Parsed tags kept per process (tags never change once created; the bound caps memory at roughly 40 MiB).
TAG_CACHE_SIZE = 100_000
#: Names whose version index a process keeps (least recently used first out).
INDEX_CACHE_SIZE = 256


K = TypeVar("K")
V = TypeVar("V")


@attrs.frozen
class VersionTag:
    """The commit point of a version: which manifest ``name@version`` names, when and by whom it was published.

    Attributes:
        name: model name.
        version: SemVer 2.0.0 string.
        manifest: digest of the manifest.
        created_at: RFC 3339 UTC time of publication.
        created_by: user and host that published.
        metrics: the run's final metrics (a copy of the manifest's, so ``modelver list`` reads no manifest);
            empty in tags written before it existed.

    Example:
        >>> tag = modelver.list_versions("churn")[-1]  # doctest: +SKIP
        >>> tag.version, tag.manifest[:15], tag.metrics  # doctest: +SKIP
        ('1.4.0', 'blake3:3f9a01bc', {'accuracy': 0.93})
    """

    name: str
    version: str
    manifest: str
    created_at: str
    created_by: CreatedBy
    schema: str = TAG_SCHEMA
    metrics: dict[str, float | int | None] = attrs.field(factory=dict)

    def to_bytes(self) -> bytes:
        """Canonical JSON of the tag (never empty: an empty create is unconditional on S3)."""
        return canonical_json(to_json_dict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> VersionTag:
        """Parse a stored tag.

        Raises:
            StoreError: the bytes are not a version tag.
        """
        try:
            return from_json_dict(json.loads(data), cls)
        except Exception as exc:
            raise StoreError(f"a version tag in the store is not valid JSON of {TAG_SCHEMA}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------------
# Listings and the version index


@attrs.frozen
class _Listing:
    stamp: tuple[int, int, int]
    listed_at_ns: int
    entries: tuple[str, ...]


@attrs.frozen
class _VersionIndex:
    """The parsed, sorted versions of one name (rebuilt whenever its listing changes)."""

    entries: tuple[str, ...]
    versions: tuple[SemVer, ...]
    precedence: tuple[PrecedenceKey, ...]
    parsed: dict[str, SemVer]


_lock = threading.Lock()
_listings: OrderedDict[tuple[str, str], _Listing] = OrderedDict()
_indexes: OrderedDict[tuple[str, str], _VersionIndex] = OrderedDict()
_tags: OrderedDict[tuple[str, str, str], VersionTag] = OrderedDict()


def _remember(cache: OrderedDict[K, V], key: K, value: V, bound: int) -> None:
    with _lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > bound:
            cache.popitem(last=False)


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_dev)


def cached_listing(store: Store, directory: str, lister: Callable[[], list[str]]) -> tuple[str, ...]:
    """``lister()``, reused on a local store while ``directory`` provably has not changed (module docstring)."""
    if not store.is_local:
        return tuple(lister())
    key = (store.url, directory)
    before = _stamp(directory)
    with _lock:
        cached = _listings.get(key)
    trusted = cached is not None and before is not None and cached.stamp == before
    if trusted and before is not None and cached is not None and before[0] < cached.listed_at_ns - RACY_WINDOW_NS:
        return cached.entries
    listed_at = time.time_ns()
    entries = tuple(lister())
    if before is not None:
        # The stamp was taken before listing: a change during the listing moves the mtime past it.
        _remember(_listings, key, _Listing(before, listed_at, entries), INDEX_CACHE_SIZE * 2)
    return entries


def _version_index(store: Store, name: str) -> _VersionIndex:
    directory = os.path.dirname(store.tag_path(name, "_"))
    entries = cached_listing(store, directory, lambda: store.list_versions(name))
    key = (store.url, name)
    with _lock:
        old = _indexes.get(key)
    if old is not None and old.entries == entries:
        return old
    previous = old.parsed if old is not None else {}
    parsed: dict[str, SemVer] = {}
    for text in entries:
        version = previous.get(text)
        if version is None:
            try:
                version = SemVer.parse(text)
            except InvalidReferenceError:
                warnings.warn(f"ignoring {name}@{text} in {store.url}: not a SemVer version", stacklevel=3)
                continue
        parsed[text] = version
    versions = tuple(sorted(parsed.values(), key=SemVer.sort_key))
    index = _VersionIndex(entries, versions, tuple(v.precedence_key() for v in versions), parsed)
    _remember(_indexes, key, index, INDEX_CACHE_SIZE)
    return index


def sorted_versions(store: Store, name: str) -> list[SemVer]:
    """Every version of ``name`` in SemVer precedence order, lowest first."""
    return list(_version_index(store, name).versions)


def read_state(store: Store, name: str) -> RegistryState:
    """The fold of the events of ``name`` (aliases, yanks, audit trail), as of now."""
    directory = events_dir(store, name)
    paths = cached_listing(store, directory, lambda: list_event_paths(store, name))
    return fold(name, read_events(store, name, paths))


def read_tag(store: Store, name: str, version: str) -> VersionTag:
    """Read the tag of ``name@version``.

    Raises:
        VersionNotFoundError: there is no such version.
        IntegrityError: the tag names another version than its place in the store (a copied or forged tag).
    """
    key = (store.url, name, version)
    with _lock:
        cached = _tags.get(key)
    if cached is not None:
        return cached
    tag = VersionTag.from_bytes(store.read_tag(name, version))
    if (tag.name, tag.version) != (name, version):
        raise IntegrityError(
            f"the tag stored as {name}@{version} in {store.url} says {tag.name}@{tag.version}; it was copied or "
            "forged. Remove it, and run `modelver verify` on the real version",
            digest=tag.manifest,
            location=store.tag_path(name, version),
        )
    _remember(_tags, key, tag, TAG_CACHE_SIZE)
    return tag


def _nearest(versions: tuple[SemVer, ...], target: SemVer, count: int = 3) -> tuple[str, ...]:
    at = bisect.bisect_left(versions, target)
    return tuple(str(v) for v in versions[max(0, at - count) : at + count])


def missing_store_hint(store: Store) -> str | None:
    """Why a local store shows nothing, when its root directory does not exist (often a typo in the store path).

    Args:
        store: the opened store.

    Returns:
        ``"<root> does not exist yet: check MODELVER_STORE / --store; the first publish creates it"`` for a local
        store whose root directory is missing; ``None`` otherwise (remote and memory stores have no directory to
        check: an empty prefix is a valid empty store).

    Example:
        >>> from modelver.store.objects import Store
        >>> missing_store_hint(Store("/nonexistent/typo"))
        '/nonexistent/typo does not exist yet: check MODELVER_STORE / --store; the first publish creates it'
    """
    if not store.is_local or os.path.isdir(store.root):
        return None
    return f"{store.url} does not exist yet: check MODELVER_STORE / --store; the first publish creates it"


def unknown_name(store: Store, name: str) -> VersionNotFoundError:
    """The error for a name with no versions: it names close or existing names, and where failed runs are."""
    names = store.list_names()
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        hint = f"did you mean {', '.join(close)}?"
    elif names:
        hint = f"names in this store: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
    else:
        hint = missing_store_hint(store) or "the store has no versions yet; publish one with modelver.track()"
    if store.has_runs():
        hint += " (runs that published nothing are listed by `modelver runs`)"
    return VersionNotFoundError(
        f"no model named {name!r} in {store.url}; {hint}", reference=name, available=tuple(close or names[:10])
    )


def _warn_if_yanked(tag: VersionTag, state: RegistryState, how: str) -> None:
    event = state.yanked.get(tag.version)
    if event is not None:
        why = f": {event.reason}" if event.reason else ""
        warnings.warn(
            f"{tag.name}@{tag.version} (resolved from {how}) was yanked by {event.by} at {event.at}{why}; it still "
            "loads, but `latest` and ranges skip it",
            YankedVersionWarning,
            stacklevel=4,
        )


def _refuse_pruned(tag: VersionTag, state: RegistryState, how: str) -> VersionTag:
    """``tag``, unless its version was pruned: then a :class:`VersionNotFoundError` saying when and by whom."""
    event = state.pruned.get(tag.version)
    if event is None:
        return tag
    why = f" ({event.reason})" if event.reason else ""
    raise VersionNotFoundError(
        f"{tag.name}@{tag.version} (resolved from {how}) was pruned on {event.at} by {event.by}{why}; its bytes are "
        f"freed by gc and the version number is never reused. See `modelver history {tag.name}`",
        reference=f"{tag.name}@{tag.version}",
    )


def _range_bounds(index: _VersionIndex, version_range: VersionRange) -> tuple[int, int]:
    """Positions ``[lo, hi)`` in the index outside which no version can satisfy the range (by precedence)."""
    lo, hi = 0, len(index.versions)
    for op, bound in version_range.comparators:
        key = bound.precedence_key()
        if op in ("<", "<="):
            cut = (bisect.bisect_left if op == "<" else bisect.bisect_right)(index.precedence, key)
            hi = min(hi, cut)
        elif op in (">", ">="):
            cut = (bisect.bisect_right if op == ">" else bisect.bisect_left)(index.precedence, key)
            lo = max(lo, cut)
        else:  # "=="
            lo = max(lo, bisect.bisect_left(index.precedence, key))
            hi = min(hi, bisect.bisect_right(index.precedence, key))
    return lo, hi


def resolve(store: Store, reference: str | Reference, *, warn_yanked: bool = True) -> VersionTag:
    """Resolve a reference to the tag of one concrete version.

    ``name`` / ``name@latest``: the highest release that is not yanked (pre-releases are not releases);
    ``name@1.2.0``: exactly that; a range (``^1.2``, ``~1.2.3``, ``>=1.2,<2``): the highest non-yanked release
    inside it; an alias (``name@production``): the version the fold of the name's events points it at now; a digest
    prefix (``name@blake3:3f9a01bc``): the version whose manifest digest starts so. An exact version, alias or
    digest that names a yanked version still resolves, with a :class:`YankedVersionWarning`.

    Args:
        store: the store.
        reference: ``"name[@spec]"`` or a parsed reference.
        warn_yanked: whether to warn when the result is yanked (the lifecycle commands check it themselves).

    Returns:
        The version's tag: concrete ``version`` and manifest digest (``manifest``).

    Raises:
        InvalidReferenceError: the reference is malformed, or a digest prefix matches several versions.
        VersionNotFoundError: nothing matches; the message lists what exists, nearest first.
    """
    ref = reference if isinstance(reference, Reference) else parse_reference(reference)
    if ref.kind == "version":
        assert ref.version is not None
        try:
            tag = read_tag(store, ref.name, str(ref.version))
        except VersionNotFoundError:
            index = _version_index(store, ref.name)
            if not index.versions:
                raise unknown_name(store, ref.name) from None
            nearest = _nearest(index.versions, ref.version)
            raise VersionNotFoundError(
                f"{ref.name}@{ref.version} does not exist; nearest versions: {', '.join(nearest)}",
                reference=str(ref),
                available=nearest,
            ) from None
        state = read_state(store, ref.name)
        _refuse_pruned(tag, state, "an exact version")
        if warn_yanked:
            _warn_if_yanked(tag, state, "an exact version")
        return tag
    if ref.kind == "alias":
        assert ref.alias is not None
        state = read_state(store, ref.name)
        alias = state.aliases.get(ref.alias)
        if alias is None or alias.version is None:
            if not _version_index(store, ref.name).versions:
                raise unknown_name(store, ref.name)
            set_aliases = sorted(a for a, s in state.aliases.items() if s.version is not None)
            known = f"aliases of {ref.name}: {', '.join(set_aliases)}" if set_aliases else f"{ref.name} has no aliases"
            # A typo of `latest` or of a set alias is likelier than a wish to create a new alias.
            close = difflib.get_close_matches(ref.alias, ["latest", *set_aliases], n=1)
            hint = f"did you mean {ref.name}@{close[0]}? Otherwise set" if close else "Set"
            raise VersionNotFoundError(
                f"alias {ref.alias!r} is not set for {ref.name}; {known}. {hint} it with "
                f"`modelver promote {ref.name}@VERSION {ref.alias} --by WHO`",
                reference=str(ref),
                available=tuple(set_aliases),
            )
        tag = _refuse_pruned(read_tag(store, ref.name, alias.version), state, f"alias {ref.alias!r}")
        if warn_yanked:
            _warn_if_yanked(tag, state, f"alias {ref.alias!r}")
        return tag
    index = _version_index(store, ref.name)
    if not index.versions:
        raise unknown_name(store, ref.name)
    shown = ", ".join(str(v) for v in index.versions[-5:])
    state = read_state(store, ref.name)
    if ref.kind in ("latest", "range"):
        lo, hi = _range_bounds(index, ref.range) if ref.range else (0, len(index.versions))
        yanked_skipped = []
        for position in range(hi - 1, lo - 1, -1):
            version = index.versions[position]
            if not (ref.range.contains(version) if ref.range else not version.is_prerelease):
                continue
            if str(version) in state.yanked:
                yanked_skipped.append(str(version))
                continue
            if str(version) in state.pruned:
                continue
            return read_tag(store, ref.name, str(version))
        what = f"matches {ref.spec}" if ref.range else "is a release (only pre-releases exist)"
        if yanked_skipped:
            what = f"{what} and is not yanked (yanked: {', '.join(yanked_skipped[:5])})"
        raise VersionNotFoundError(
            f"no version of {ref.name} {what}; highest versions: {shown}",
            reference=str(ref),
            available=tuple(str(v) for v in index.versions[-5:]),
        )
    assert ref.digest_prefix is not None
    tags = [read_tag(store, ref.name, str(v)) for v in index.versions]
    matches = [t for t in tags if t.manifest.startswith(ref.digest_prefix) and t.version not in state.pruned]
    if not matches:
        raise VersionNotFoundError(
            f"no version of {ref.name} has a manifest digest starting {ref.digest_prefix}; highest versions: {shown}",
            reference=str(ref),
        )
    if len({t.manifest for t in matches}) > 1:
        listed = ", ".join(f"{t.version} ({t.manifest[:20]}…)" for t in matches)
        raise InvalidReferenceError(
            f"digest prefix {ref.digest_prefix} is ambiguous in {ref.name}: {listed}; give more hex digits",
            reference=str(ref),
        )
    # Several versions may share one manifest (a release of an experiment): the highest that is not yanked names it.
    live = [t for t in matches if t.version not in state.yanked]
    tag = (live or matches)[-1]
    if warn_yanked:
        _warn_if_yanked(tag, state, "a digest prefix")
    return tag
