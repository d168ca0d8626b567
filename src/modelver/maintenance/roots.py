"""gc's roots: the one notion of "still needed" that garbage collection keeps, gathered by :func:`gather_roots`.

A root source is a function ``(store, grace_s, now) -> store paths to keep``. The built-in sources, in the order
they are gathered (publishes in flight first, so that one whose tag appears while the versions are listed is seen
either as a lease or as a version):

- ``in-flight publishes``: the manifests named by live publish leases (:mod:`modelver.store.leases`) and what they
  reference;
- ``versions``: every manifest a version tag points at, the blobs it references, and the step versions its lineage
  names with their stored outputs;
- ``step cache``: every record and stored output a key under ``steps/<name>/keys/`` points at;
- ``live runs``: what the ranks of a live distributed job stored for rank 0 to publish, and the kept checkpoints
  of series not yet published (:func:`modelver.tracking.checkpoints.training_roots`).

Later features add their own kind of root with :func:`register_root_source` instead of adding exceptions to gc.
Everything else (a run's other uploads before its publish starts) is protected by gc's grace period only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import attrs

from modelver.errors import ModelverError, StoreError
from modelver.manifest import CreatedBy, Manifest
from modelver.registry.events import read_state
from modelver.registry.model_version import read_manifest
from modelver.registry.resolution import VersionTag, read_tag, sorted_versions
from modelver.registry.verify import referenced_blobs
from modelver.steps.cache import step_cache_blobs
from modelver.steps.step_versions import step_version_blobs
from modelver.store.leases import PUBLISH, PUBLISH_LEASE_MAX_S, live_leases
from modelver.store.objects import Store
from modelver.tracking.checkpoints import training_roots

#: ``(store, grace period in seconds, now as UNIX seconds) -> store paths to keep``.
RootSource = Callable[[Store, float, float], set[str]]


@attrs.frozen
class Roots:
    """What gc keeps, whatever its age: the union of every root source's paths.

    Attributes:
        paths: store paths (manifests, blobs) to keep.
        by_source: how many paths each source contributed (a path may count under several).
    """

    paths: frozenset[str]
    by_source: Mapping[str, int] = attrs.field(factory=dict)

    def __contains__(self, path: object) -> bool:
        return path in self.paths

    def __len__(self) -> int:
        return len(self.paths)


def _manifest_paths(store: Store, manifest: Manifest, ref: str) -> set[str]:
    """Blob paths a manifest references, with the step versions of its lineage and their stored outputs."""
    paths = {store.blob_path(digest) for _role, digest in referenced_blobs(manifest)}
    for step in manifest.lineage.steps:
        try:
            paths.update(store.blob_path(digest) for digest in step_version_blobs(store, step.step_version))
        except ModelverError as exc:
            raise StoreError(
                f"cannot collect garbage in {store.url}: step {step.name} of {ref} is unreadable ({exc}). Run "
                "`modelver verify --all` and repair the store first"
            ) from exc
    return paths


def version_roots(store: Store, grace_s: float, now: float) -> set[str]:
    """Every manifest a version tag points at and everything it references (see the module docstring).

    Raises:
        StoreError: a tag or manifest cannot be read, so what it references is unknown; gc must not guess.
    """
    del grace_s, now  # versions are roots whatever their age
    paths: set[str] = set()
    for name in store.list_names():
        # A pruned version keeps its tag and its prune event (they refuse a re-publish and explain the removal),
        # but is no root: its manifest and the blobs only it references are freed.
        pruned = read_state(store, name).pruned
        for version in sorted_versions(store, name):
            if str(version) in pruned:
                continue
            try:
                tag = read_tag(store, name, str(version))
                paths.add(store.manifest_path(tag.manifest))
                manifest = read_manifest(store, tag)
            except ModelverError as exc:
                raise StoreError(
                    f"cannot collect garbage in {store.url}: {name}@{version} is unreadable ({exc}), so what it "
                    "references is unknown. Run `modelver verify --all` and repair the store first"
                ) from exc
            paths.update(_manifest_paths(store, manifest, f"{name}@{version}"))
    return paths


def step_cache_roots(store: Store, grace_s: float, now: float) -> set[str]:
    """Records and outputs the step cache's keys point at.

    Raises:
        StoreError: a key is unreadable.
    """
    del grace_s, now
    try:
        return {store.blob_path(digest) for digest in step_cache_blobs(store)}
    except ModelverError as exc:
        raise StoreError(
            f"cannot collect garbage in {store.url}: the step cache is unreadable ({exc}), so what it keeps is "
            "unknown. Remove the damaged key file under steps/ (the step then runs again) and retry"
        ) from exc


def in_flight_roots(store: Store, grace_s: float, now: float) -> set[str]:
    """The manifests of live publish leases and what they reference.

    A manifest that cannot be read (not written yet, or damaged) is kept by path: the publisher's own re-check
    refuses to tag it if it is incomplete.
    """
    del grace_s
    paths: set[str] = set()
    for lease in live_leases(store, PUBLISH, PUBLISH_LEASE_MAX_S, now=now).values():
        digest = str(lease.get("manifest", ""))
        if not digest:
            continue
        try:
            paths.add(store.manifest_path(digest))
        except ModelverError:
            continue  # not a digest: not a lease this modelver wrote
        try:
            tag = VersionTag(str(lease.get("name", "")), "0.0.0", digest, "", CreatedBy("", ""))
            manifest = read_manifest(store, tag)
        except ModelverError:
            continue
        paths.update(_manifest_paths(store, manifest, f"the publish in flight of {manifest.name}"))
    return paths


def live_run_roots(store: Store, grace_s: float, now: float) -> set[str]:
    """Blobs of runs still going: live distributed job areas and the kept checkpoints of unpublished series.

    See :func:`modelver.tracking.checkpoints.training_roots`.
    """
    return {store.blob_path(digest) for digest in training_roots(store, grace_s, now=now)}


_SOURCES: dict[str, RootSource] = {
    "in-flight publishes": in_flight_roots,
    "versions": version_roots,
    "step cache": step_cache_roots,
    "live runs": live_run_roots,
}


def register_root_source(name: str, source: RootSource) -> None:
    """Add a kind of root that every later gc keeps (a feature's own records), under a unique ``name``.

    Args:
        name: shown in :attr:`Roots.by_source`; registering a name again replaces its source.
        source: ``(store, grace_s, now) -> store paths to keep``; it raises :class:`~modelver.StoreError` when what
            it keeps cannot be known (gc then removes nothing).

    Example:
        >>> register_root_source("nothing", lambda store, grace_s, now: set())
        >>> "nothing" in root_sources()
        True
    """
    _SOURCES[name] = source


def root_sources() -> tuple[str, ...]:
    """Names of the registered root sources, in the order :func:`gather_roots` asks them."""
    return tuple(_SOURCES)


def gather_roots(store: Store, grace_s: float, now: float | None = None) -> Roots:
    """Ask every root source what to keep; the one place gc learns what is still needed.

    Args:
        store: the store.
        grace_s: gc's grace period in seconds (sources with a notion of "live" use it).
        now: the current UNIX time in seconds (default: ``time.time()``).

    Returns:
        The :class:`Roots`.

    Raises:
        StoreError: a source cannot tell what it keeps; nothing may be removed.

    Example:
        >>> len(gather_roots(Store("memory://no-roots"), 3600.0))
        0
    """
    now = time.time() if now is None else now
    paths: set[str] = set()
    counts: dict[str, int] = {}
    for name, source in list(_SOURCES.items()):
        found = source(store, grace_s, now)
        counts[name] = len(found)
        paths |= found
    return Roots(frozenset(paths), counts)
