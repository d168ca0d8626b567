"""Garbage collection: remove store objects no version references, once they are older than a grace period.

What is kept:

- every manifest a version tag points at, and every blob such a manifest references
  (:func:`modelver.registry.verify.referenced_blobs`), including the step-version records its lineage names and their
  stored outputs;
- the step cache: every record and stored output a key under ``steps/<name>/keys/`` points at. A key is written once
  and never replaced, so collecting what it names would make that step run on every later call;
- every object younger than the grace period (default 24 h, by the object's modification time as the backend
  reports it through fsspec ``info``): a publish in flight has uploaded blobs and a manifest but not yet created its
  tag, and must not lose them. Publishing refreshes the mtime of an old object it reuses (local disk, S3), and gc
  re-reads an object's mtime just before removing it.

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

import os
import posixpath
import time
import warnings

import attrs

from modelver.errors import ModelverError, StoreError
from modelver.manifest import Manifest
from modelver.registry.model_version import read_manifest
from modelver.registry.resolution import read_tag, sorted_versions
from modelver.registry.verify import referenced_blobs
from modelver.steps.core import step_cache_blobs, step_version_blobs
from modelver.store.location import open_store
from modelver.store.objects import Store, info_mtime, is_unreachable

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
    """

    removed: tuple[str, ...]
    removed_bytes: int
    kept_young: tuple[str, ...]
    referenced: int
    dry_run: bool
    aborted_uploads: tuple[str, ...] = ()


def referenced_paths(store: Store) -> set[str]:
    """Store paths of every manifest a version tag points at and every blob those manifests reference.

    Raises:
        StoreError: a tag or manifest cannot be read, so what it references is unknown; gc must not guess.
    """
    paths: set[str] = set()
    for name in store.list_names():
        for version in sorted_versions(store, name):
            try:
                tag = read_tag(store, name, str(version))
                paths.add(store.manifest_path(tag.manifest))
                manifest = read_manifest(store, tag)
            except ModelverError as exc:
                raise StoreError(
                    f"cannot collect garbage in {store.url}: {name}@{version} is unreadable ({exc}), so what it "
                    "references is unknown. Run `modelver verify --all` and repair the store first"
                ) from exc
            paths.update(store.blob_path(digest) for _role, digest in referenced_blobs(manifest))
            paths.update(_step_paths(store, manifest, f"{name}@{version}"))
    try:
        paths.update(store.blob_path(digest) for digest in step_cache_blobs(store))
    except ModelverError as exc:
        raise StoreError(
            f"cannot collect garbage in {store.url}: the step cache is unreadable ({exc}), so what it keeps is "
            "unknown. Remove the damaged key file under steps/ (the step then runs again) and retry"
        ) from exc
    return paths


def _step_paths(store: Store, manifest: Manifest, ref: str) -> set[str]:
    """Blob paths of the step versions a manifest's lineage names: their records and stored outputs."""
    paths: set[str] = set()
    for step in manifest.lineage.steps:
        try:
            paths.update(store.blob_path(digest) for digest in step_version_blobs(store, step.step_version))
        except ModelverError as exc:
            raise StoreError(
                f"cannot collect garbage in {store.url}: step {step.name} of {ref} is unreadable ({exc}). Run "
                "`modelver verify --all` and repair the store first"
            ) from exc
    return paths


def _collectable(store: Store, path: str) -> bool:
    rel = posixpath.relpath(path, store.root)
    if posixpath.basename(rel).startswith(".tmp-"):
        return True
    return rel.startswith(("blobs/", "manifests/"))


def collect_garbage(
    store: str | os.PathLike[str] | Store | None = None,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    dry_run: bool = False,
) -> GcReport:
    """Remove unreferenced blobs, manifests and stale temp objects older than ``grace_s`` seconds, and abort S3
    multipart uploads under the store started longer ago than that.

    Args:
        store: the store (default: see ``modelver info``).
        grace_s: objects modified less than this many seconds ago are kept (protects publishes in flight).
        dry_run: only report what would be removed.

    Returns:
        A :class:`GcReport`.

    Raises:
        StoreError: a version is unreadable (nothing is removed), or the store cannot be listed or written.
    """
    opened = open_store(store)
    keep = referenced_paths(opened)
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
        mtime = info_mtime(info)
        if mtime is None or now - mtime < grace_s:
            young.append(path)
            continue
        if not dry_run:
            try:
                # Re-read just before removing: a publish may have reused (and freshened) it meanwhile.
                mtime = info_mtime(opened.fs.info(path))
                if mtime is None or time.time() - mtime < grace_s:
                    young.append(path)
                    continue
                opened.fs.rm_file(path)
            except FileNotFoundError:
                continue  # another gc got there first
            except OSError as exc:
                raise StoreError(f"cannot remove {path} from {opened.url}: {exc}") from exc
        removed.append(path)
        removed_bytes += int(info.get("size") or 0)
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
