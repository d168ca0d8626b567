"""Garbage collection: remove store objects no version references, once they are older than a grace period.

What is kept:

- every manifest a version tag points at, and every blob such a manifest references
  (:func:`modelver.registry.verify.referenced_blobs`), including the step-version records its lineage names and their
  stored outputs;
- the step cache: every record and stored output a key under ``steps/<name>/keys/`` points at. A key is written once
  and never replaced, so collecting what it names would make that step run on every later call;
- publishes in flight (their publish leases), live runs (job areas, checkpoints): all of gc's roots are gathered by
  :func:`modelver.maintenance.roots.gather_roots`, which later features extend;
- every object younger than the grace period (default 24 h, at least
  :data:`~modelver.store.leases.MIN_GRACE_S` unless forced; by the object's modification time as the backend reports
  it through fsspec ``info``): a run still training has uploaded blobs that are no root until its publish starts.
  Publishing refreshes the mtime of an old object it reuses, and gc re-reads an object's mtime just before removing
  it. A publish re-checks all it references under its lease before its tag, so a version never references an object
  gc removed (docs/security.md, "Garbage collection safety").

What is removed: unreferenced blobs and manifests, upload staging objects (``blobs/.staging/*``) and temp files of
interrupted local writes (``.tmp-*``) older than the grace period. On S3, also incomplete multipart uploads under the
store's prefix started longer ago than the grace period (a publisher killed mid-upload leaves one: invisible to
listings, its parts billed until aborted). They are listed with ``ListMultipartUploads`` (prefix-scoped, paged) and
aborted one by one; s3fs's own ``clear_multipart_uploads`` is not used, since it aborts every upload in the bucket,
whatever its age or prefix.

**Run records do not keep blobs alive.** ``runs/<id>.json`` (runs that published nothing) stay listed by
``modelver runs`` with their capture metadata, but the model files they uploaded are collected once older than the
grace period: a run that failed is kept for debugging what happened, not as a second way to store models (and a
failed 10 GB checkpoint should not live forever). Publish a run to keep its files.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import time
import warnings

import attrs

from modelver.errors import GraceTooShortError, StoreError
from modelver.maintenance.roots import gather_roots, step_cache_roots, version_roots
from modelver.store.backend import info_mtime, is_unreachable
from modelver.store.leases import GC_LEASE_MAX_S, MIN_GRACE_S, gc_lease, stale_leases
from modelver.store.location import open_store
from modelver.store.objects import Store

#: Default grace period in seconds: objects younger than this are never collected (24 h).
DEFAULT_GRACE_S = 24 * 3600.0


@attrs.frozen
class GcReport:
    """What :func:`collect_garbage` removed (or would remove, in a dry run).

    Attributes:
        removed: store paths removed (or to remove), sorted.
        removed_bytes: their total size in bytes.
        kept_young: unreferenced paths kept because they are younger than the grace period.
        referenced: how many manifests and blobs versions reference (all kept).
        dry_run: whether nothing was actually removed.
        aborted_uploads: S3 multipart uploads aborted (or to abort), as ``"<key path> (upload <id>)"``, sorted.

    Example:
        >>> report = modelver.collect_garbage(dry_run=True)  # doctest: +SKIP
        >>> len(report.removed), report.removed_bytes, report.dry_run  # doctest: +SKIP
        (12, 48213, True)
    """

    removed: tuple[str, ...]
    removed_bytes: int
    kept_young: tuple[str, ...]
    referenced: int
    dry_run: bool
    aborted_uploads: tuple[str, ...] = ()


def referenced_paths(store: Store) -> set[str]:
    """Store paths of every manifest a version tag points at and every blob those manifests reference, and of what
    the step cache keeps (the ``versions`` and ``step cache`` roots of :mod:`modelver.maintenance.roots`).

    Raises:
        StoreError: a tag or manifest cannot be read, so what it references is unknown; gc must not guess.
    """
    now = time.time()
    return version_roots(store, 0.0, now) | step_cache_roots(store, 0.0, now)


def _in_progress(store: Store, path: str) -> bool:
    """Whether ``path`` is a local temp file or a staging upload (a write that has not reached its name yet)."""
    rel = posixpath.relpath(path, store.root)
    return posixpath.basename(rel).startswith(".tmp-") or rel.startswith("blobs/.staging/")


def _collectable(store: Store, path: str) -> bool:
    rel = posixpath.relpath(path, store.root)
    if posixpath.basename(rel).startswith(".tmp-"):
        return True
    return rel.startswith(("blobs/", "manifests/"))


def check_grace(grace_s: float, *, force: bool = False) -> None:
    """Refuse a grace period below :data:`~modelver.store.leases.MIN_GRACE_S` unless ``force``.

    Args:
        grace_s: the grace period asked for, in seconds.
        force: accept any grace period of at least 0 s.

    Raises:
        GraceTooShortError: ``grace_s`` is negative, or below the minimum without ``force``; the message says what a
            shorter grace risks.

    Example:
        >>> check_grace(3600.0)
        >>> check_grace(0.0, force=True)
    """
    if grace_s < 0:
        raise GraceTooShortError(
            f"gc grace {grace_s:g} s is negative; give a number of seconds >= 0", grace_s=grace_s, minimum_s=MIN_GRACE_S
        )
    if grace_s < MIN_GRACE_S and not force:
        raise GraceTooShortError(
            f"gc grace {grace_s:g} s is below the minimum of {MIN_GRACE_S:g} s. Publishes in flight are always safe, "
            "but a run's uploads are protected only by their age until its publish starts: with a shorter grace, gc "
            "removes the model files of runs still training and those runs then fail to publish. Use a grace longer "
            "than your longest run, or pass --force (force=True) when no run is training",
            grace_s=grace_s,
            minimum_s=MIN_GRACE_S,
        )


def collect_garbage(
    store: str | os.PathLike[str] | Store | None = None,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    dry_run: bool = False,
    force: bool = False,
) -> GcReport:
    """Remove unreferenced blobs, manifests and stale temp objects older than ``grace_s`` seconds, and abort S3
    multipart uploads under the store started longer ago than that.

    What is kept is :func:`modelver.maintenance.roots.gather_roots`: versions, publishes in flight, the step cache,
    live runs. A removing gc holds a gc lease (:mod:`modelver.store.leases`) from before it gathers the roots
    until its last removal, so a publish that starts meanwhile waits for it and then re-checks its objects.

    Args:
        store: the store (default: see ``modelver info``).
        grace_s: objects modified less than this many seconds ago are kept (protects runs still training).
        dry_run: only report what would be removed.
        force: accept a grace below :data:`~modelver.store.leases.MIN_GRACE_S` (see :func:`check_grace`). A dry
            run removes nothing, so it accepts any grace of at least 0 s without ``force``.

    Returns:
        A :class:`GcReport`.

    Raises:
        GraceTooShortError: ``grace_s`` is negative, or below the minimum without ``force`` or ``dry_run``; nothing
            is removed.
        StoreError: a version is unreadable (nothing is removed), or the store cannot be listed or written.

    Example:
        >>> collect_garbage("memory://gc-doc", grace_s=3600.0).removed
        ()
    """
    check_grace(grace_s, force=force or dry_run)  # a dry run deletes nothing: any grace is safe to preview
    opened = open_store(store)
    if dry_run:
        return _collect(opened, grace_s=grace_s, dry_run=True, lease_started=time.time())
    with gc_lease(opened) as started:
        return _collect(opened, grace_s=grace_s, dry_run=False, lease_started=started)


def _collect(opened: Store, *, grace_s: float, dry_run: bool, lease_started: float) -> GcReport:
    keep = gather_roots(opened, grace_s)
    try:
        found = opened.fs.find(opened.root, detail=True)
    except FileNotFoundError:
        found = {}
    except OSError as exc:
        raise StoreError(f"cannot list {opened.url} to collect garbage: {exc}") from exc
    now = time.time()
    removed: list[str] = []
    young: list[str] = []
    removed_bytes = 0
    for path, info in sorted(found.items()):
        if info.get("type") == "directory" or path in keep or not _collectable(opened, path):
            continue
        # A temp file or staging upload is a write in progress for seconds, not an object: even a forced gc keeps
        # it for the minimum grace, or the writer's final link/move would fail.
        floor = max(grace_s, MIN_GRACE_S) if _in_progress(opened, path) else grace_s
        mtime = info_mtime(info)
        if mtime is None or now - mtime < floor:
            young.append(path)
            continue
        if not dry_run:
            if time.time() - lease_started > GC_LEASE_MAX_S / 2:
                break  # publishers stop waiting for a lease this old: leave the rest to the next gc
            try:
                # Re-read just before removing: a publish may have reused (and freshened) it meanwhile.
                mtime = info_mtime(opened.fs.info(path))
                if mtime is None or time.time() - mtime < floor:
                    young.append(path)
                    continue
                opened.fs.rm_file(path)
            except FileNotFoundError:
                continue  # another gc got there first
            except OSError as exc:
                raise StoreError(f"cannot remove {path} from {opened.url}: {exc}") from exc
        removed.append(path)
        removed_bytes += int(info.get("size") or 0)
    if not dry_run:
        for path in stale_leases(opened):
            with contextlib.suppress(FileNotFoundError):
                opened.fs.rm_file(path)
    aborted = _abort_stale_multipart_uploads(opened, grace_s=grace_s, dry_run=dry_run)
    return GcReport(tuple(removed), removed_bytes, tuple(young), len(keep), dry_run, tuple(aborted))


def stale_multipart_uploads(store: Store, *, grace_s: float) -> list[tuple[str, str]]:
    """Incomplete S3 multipart uploads under the store's prefix, started more than ``grace_s`` seconds ago.

    Returns:
        ``(key path "bucket/key", upload id)`` pairs, sorted; empty on a backend other than S3.

    Raises:
        StoreError: the uploads cannot be listed.
    """
    fs = store.fs
    if not hasattr(fs, "call_s3"):
        return []
    bucket, key, _ = fs.split_path(store.root)
    params = {"Bucket": bucket, "Prefix": f"{key.rstrip('/')}/" if key else ""}
    now = time.time()
    stale = []
    try:
        while True:
            page = fs.call_s3("list_multipart_uploads", **params)
            for upload in page.get("Uploads") or []:
                initiated = upload.get("Initiated")
                if initiated is not None and now - initiated.timestamp() >= grace_s:
                    stale.append((f"{bucket}/{upload['Key']}", str(upload["UploadId"])))
            if not page.get("IsTruncated"):
                break
            params["KeyMarker"] = page["NextKeyMarker"]
            params["UploadIdMarker"] = page["NextUploadIdMarker"]
    except PermissionError as exc:
        # Listing uploads needs s3:ListBucketMultipartUploads, which a role allowed to delete objects may lack:
        # everything else gc did still holds.
        warnings.warn(
            f"gc cannot list the multipart uploads of {store.url} ({exc}), so stale ones were not aborted; grant "
            "s3:ListBucketMultipartUploads and s3:AbortMultipartUpload, or add an AbortIncompleteMultipartUpload "
            "lifecycle rule to the bucket",
            UserWarning,
            stacklevel=3,
        )
        return []
    except OSError as exc:
        what = "reach" if is_unreachable(exc) else "list the multipart uploads of"
        raise StoreError(f"cannot {what} {store.url} to collect stale multipart uploads: {exc}") from exc
    return sorted(stale)


def _abort_stale_multipart_uploads(store: Store, *, grace_s: float, dry_run: bool) -> list[str]:
    aborted = []
    for path, upload_id in stale_multipart_uploads(store, grace_s=grace_s):
        if not dry_run:
            bucket, key, _ = store.fs.split_path(path)
            try:
                store.fs.abort_mpu(bucket, key, upload_id)
            except FileNotFoundError:
                continue  # completed or aborted meanwhile (NoSuchUpload)
            except OSError as exc:
                raise StoreError(f"cannot abort the multipart upload {upload_id} of {path}: {exc}") from exc
        aborted.append(f"{path} (upload {upload_id})")
    return aborted
