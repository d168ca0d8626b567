"""The offline spool: bundles of runs that ended while their (remote) store could not be reached.

Layout under the spool directory (``MODELVER_SPOOL``, default ``platformdirs.user_data_dir("modelver")/spool``)::

    <run-id>/entry.json     {schema, store, name, version (requested, or null for the next free), manifest, run_id}
    <run-id>/store/         a local modelver store holding the manifest and the blobs written after the store
                            went away (blobs logged while it was reachable are already in it)

:func:`push` uploads what the remote store lacks, then creates the version tag exactly as a run would (an explicit
version must be free; otherwise the next patch after the highest release), and removes the entry. An entry whose
push fails stays, with the reason. The storage options of the store (credentials, endpoint) are never written to
disk: ``push`` opens the store by its URL (credentials from the environment, as usual) or takes a :class:`Store`.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import attrs
import platformdirs

from modelver.errors import ModelverError, StoreError, VersionExistsError
from modelver.manifest import CodeFacet, CreatedBy
from modelver.provenance import created_by, utc_now
from modelver.registry.model_version import read_manifest
from modelver.registry.resolution import VersionTag
from modelver.registry.schemes import DEFAULT_BUMP, DEFAULT_SCHEME, MAX_CANDIDATES, candidate_versions
from modelver.registry.verify import referenced_blobs
from modelver.serde import canonical_json
from modelver.store.leases import publish_lease
from modelver.store.objects import Store
from modelver.tracking.publish_check import ensure_referenced

ENV_SPOOL = "MODELVER_SPOOL"
ENTRY_SCHEMA = "modelver.spool/1"
_MAX_VERSION_RETRIES = 1000


def spool_dir() -> Path:
    """The spool directory: ``MODELVER_SPOOL`` or the per-user data location."""
    env = os.environ.get(ENV_SPOOL)
    return Path(env) if env else Path(platformdirs.user_data_dir("modelver", appauthor=False)) / "spool"


# Marks an entry directory renamed by the process pushing it.
_CLAIMED = ".pushing-"


@attrs.frozen
class SpoolEntry:
    """A spooled bundle waiting for its store.

    Attributes:
        run_id: the run that produced it (also its directory name).
        store: URL of the store it is for.
        name: model name.
        version: the requested version, or ``None`` for the next free one.
        manifest: digest of its manifest.
        directory: where it is spooled.
        scheme: the version scheme the run asked for (``track(scheme=...)``).
        bump: the bump the run asked for.
    """

    run_id: str
    store: str
    name: str
    version: str | None
    manifest: str
    directory: Path
    scheme: str = DEFAULT_SCHEME
    bump: str = DEFAULT_BUMP

    @property
    def local_store(self) -> Store:
        """The local store holding the spooled manifest and blobs."""
        return Store(self.directory / "store")


def spool_store(run_id: str, algorithm: str) -> Store:
    """Create (or reopen) the local store of a new spool entry, with the remote store's digest ``algorithm``."""
    local = Store(spool_dir() / run_id / "store")
    local.initialize(algorithm=algorithm)
    return local


def write_entry(
    run_id: str,
    store_url: str,
    name: str,
    version: str | None,
    manifest: str,
    *,
    scheme: str = DEFAULT_SCHEME,
    bump: str = DEFAULT_BUMP,
) -> SpoolEntry:
    """Record the spool entry of ``run_id`` (after its manifest is in :func:`spool_store`), with the version scheme
    and bump the run asked for, so the push numbers it as the run would have."""
    directory = spool_dir() / run_id
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "schema": ENTRY_SCHEMA,
        "run_id": run_id,
        "store": store_url,
        "name": name,
        "version": version,
        "manifest": manifest,
        "scheme": scheme,
        "bump": bump,
    }
    tmp = directory / "entry.json.tmp"
    tmp.write_bytes(canonical_json(record))
    os.replace(tmp, directory / "entry.json")
    return SpoolEntry(run_id, store_url, name, version, manifest, directory, scheme, bump)


def pending(store_url: str | None = None) -> list[SpoolEntry]:
    """Spooled entries (for ``store_url`` only, if given), oldest run first."""
    root = spool_dir()
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.glob("*/entry.json")):
        if _CLAIMED in path.parent.name:
            continue  # another process is pushing it
        try:
            raw = json.loads(path.read_bytes())
            if raw.get("schema") != ENTRY_SCHEMA or (store_url is not None and raw.get("store") != store_url):
                continue
            entry = SpoolEntry(
                raw["run_id"],
                raw["store"],
                raw["name"],
                raw.get("version"),
                raw["manifest"],
                path.parent,
                raw.get("scheme", DEFAULT_SCHEME),
                raw.get("bump", DEFAULT_BUMP),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # unreadable or foreign: `modelver push` must not crash on one bad entry
        out.append(entry)
    return out


def create_version_tag(
    store: Store,
    name: str,
    manifest: str,
    version: str | None,
    by: CreatedBy,
    *,
    scheme: str = DEFAULT_SCHEME,
    bump: str = DEFAULT_BUMP,
    code: CodeFacet | None = None,
    metrics: Mapping[str, float | int | None] | None = None,
) -> VersionTag:
    """Create the tag of ``name`` for ``manifest``: ``version`` if given (it must be free), else the next version of
    ``scheme``, retrying when another process takes it first. The one place a version becomes visible, for a
    finishing run and for a pushed spool entry alike.

    Args:
        metrics: the run's final metrics, kept in the tag so ``modelver list`` reads no manifest.

    Raises:
        VersionExistsError: the explicit ``version`` is taken.
        StoreError: no free version after :data:`~modelver.registry.schemes.MAX_CANDIDATES` attempts, or an object
            the manifest references is missing (removed by gc) and cannot be restored: nothing is published.
    """

    # Under a publish lease no gc removes what the manifest references; the re-check then finds it all in place
    # (docs/security.md, "Garbage collection safety").
    with publish_lease(store, manifest, name):
        ensure_referenced(store, name, manifest)
        for chosen in candidate_versions(store, name, requested=version, scheme=scheme, bump=bump, code=code):
            tag = VersionTag(name, chosen, manifest, utc_now(), by, metrics=dict(metrics or {}))
            try:
                store.create_tag(name, chosen, tag.to_bytes())
            except VersionExistsError:
                if version is not None:
                    raise
                continue
            return tag
    raise StoreError(f"could not find a free version of {name} after {MAX_CANDIDATES} attempts")


def push_entry(entry: SpoolEntry, store: Store) -> VersionTag:
    """Upload one spooled bundle to ``store`` and publish it; the entry is removed on success.

    Raises:
        StoreError: the store is unreachable, or a blob is neither in the store nor in the spool.
        VersionExistsError: the entry's explicit version was taken meanwhile (the entry stays).
    """

    # Claim the entry first, so two processes pushing at once never publish one bundle twice.
    claimed = entry.directory.with_name(f"{entry.directory.name}{_CLAIMED}{uuid.uuid4().hex[:8]}")
    try:
        os.rename(entry.directory, claimed)
    except FileNotFoundError as exc:
        raise StoreError(f"spooled run {entry.run_id} is being pushed by another process") from exc
    entry = attrs.evolve(entry, directory=claimed)
    try:
        tag = _push_claimed(entry, store, created_by())
    except BaseException:
        os.rename(claimed, claimed.with_name(entry.run_id))  # release the claim: the entry stays for a retry
        raise
    shutil.rmtree(claimed, ignore_errors=True)
    return tag


def _push_claimed(entry: SpoolEntry, store: Store, by: CreatedBy) -> VersionTag:
    local = entry.local_store
    body = local.read_manifest(entry.manifest)
    placeholder = VersionTag(entry.name, "0.0.0", entry.manifest, "", CreatedBy("", ""))
    manifest = read_manifest(local, placeholder)
    store.initialize()
    for role, digest in referenced_blobs(manifest):
        if store._freshen(store.blob_path(digest)):  # present, and made young again so gc keeps it for the tag
            continue
        spooled = local.blob_path(digest)
        if not os.path.exists(spooled):
            raise StoreError(
                f"cannot push run {entry.run_id}: its {role} blob {digest} is neither in {store.url} nor in the "
                f"spool ({entry.directory}); remove that spool directory and run the training again"
            )
        uploaded, _size = store.put_file(spooled)
        if uploaded != digest:
            raise StoreError(f"spooled blob {spooled} of run {entry.run_id} is corrupt; remove {entry.directory}")
    # The same digest, unless the run never learnt the store's algorithm before it went away: then the store's.
    digest = store.put_manifest(body)
    return create_version_tag(
        store,
        entry.name,
        digest,
        entry.version,
        by,
        scheme=entry.scheme,
        bump=entry.bump,
        code=manifest.code,
        metrics=manifest.metrics,
    )


@attrs.frozen
class PushResult:
    """The outcome of pushing one spool entry: the tag created, or the error that kept the entry."""

    entry: SpoolEntry
    tag: VersionTag | None
    error: str = ""


def push(store: Store | str | None = None) -> list[PushResult]:
    """Push every spooled bundle: those for ``store`` only if given (opened with its storage options), else all
    of them, each to the store URL it was spooled for.

    Returns:
        One result per entry; failures keep their entry and say why.
    """
    target = Store(store) if isinstance(store, str) else store
    results = []
    for entry in pending(target.url if target is not None else None):
        try:
            tag = push_entry(entry, target if target is not None else Store(entry.store))
        except ModelverError as exc:
            results.append(PushResult(entry, None, str(exc)))
            continue
        results.append(PushResult(entry, tag))
    return results
