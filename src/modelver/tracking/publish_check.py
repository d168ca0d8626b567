"""The last check of a publish: under its publish lease, every object the version references must be in the store.

A run's blobs are protected from ``gc`` only by their age until its publish starts (docs/security.md, "Garbage
collection safety"), so a gc with a short grace may have removed one meanwhile. The check runs after the publish
lease is held and no gc is running (:func:`modelver.store.leases.publish_lease`), so what it finds stays until the
tag exists. What is missing is put back from the bytes this process still holds (the remote read cache, which holds
every manifest and small blob the run wrote or read); anything else refuses the publish: a version never becomes
visible with a missing object.
"""

from __future__ import annotations

import contextlib
import posixpath

from modelver.errors import StoreError
from modelver.manifest import CreatedBy
from modelver.registry.model_version import read_manifest
from modelver.registry.resolution import VersionTag
from modelver.registry.verify import referenced_blobs
from modelver.store.objects import Store


def _present(store: Store, path: str) -> bool:
    """Whether ``path`` exists in the store (asked afresh, not from a listing cache), refreshed when old."""
    with contextlib.suppress(Exception):
        store.fs.invalidate_cache(posixpath.dirname(path))
    return store._freshen(path)


def _restore(store: Store, digest: str, *, manifest: bool) -> bool:
    """Put a missing object back from the local read cache; whether that was possible."""
    data = store.cache.read(digest) if store.cache is not None else None
    if data is None:
        return False
    restored = store.put_manifest(data) if manifest else store.put_bytes(data)
    return restored == digest


def ensure_referenced(store: Store, name: str, manifest_digest: str) -> None:
    """Check that the manifest ``manifest_digest`` and every blob it references are in ``store``.

    Call it while holding a publish lease, right before creating the tag. Objects found are freshened; missing ones
    are restored from the read cache when it holds them.

    Args:
        store: the store being published to.
        name: the model name (for messages and the manifest's name check).
        manifest_digest: digest of the manifest about to be tagged.

    Raises:
        StoreError: an object is missing and cannot be restored; the message names it and what to do.

    Example:
        >>> store = Store("memory://ensure-doc")
        >>> ensure_referenced(store, "m", "blake3:" + "0" * 64)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        modelver.errors.StoreError: cannot publish m: its manifest ... is not in the store
    """
    if not _present(store, store.manifest_path(manifest_digest)) and not _restore(
        store, manifest_digest, manifest=True
    ):
        raise StoreError(
            f"cannot publish {name}: its manifest {manifest_digest} is not in the store {store.url} (removed by "
            "`modelver gc` with a grace shorter than the run?). Nothing was published; run the training again, and "
            "keep `gc --grace` longer than your longest run"
        )
    placeholder = VersionTag(name, "0.0.0", manifest_digest, "", CreatedBy("", ""))
    manifest = read_manifest(store, placeholder)
    for role, digest in referenced_blobs(manifest):
        if _present(store, store.blob_path(digest)) or _restore(store, digest, manifest=False):
            continue
        raise StoreError(
            f"cannot publish {name}: its {role} blob {digest} is not in the store {store.url} any more (removed by "
            "`modelver gc` with a grace shorter than the time since the run stored it). Nothing was published, so "
            "no version references a missing object; run the training again, and keep `gc --grace` longer than "
            "your longest run"
        )
