"""Garbage collection: remove store objects no version references, once they are older than a grace period.

What is kept:

- every manifest a version tag points at, and every blob such a manifest references
  (:func:`modelver._verify.referenced_blobs`);
- every object younger than the grace period (default 24 h, by the object's modification time as the backend
  reports it through fsspec ``info``): a publish in flight has uploaded blobs and a manifest but not yet created its
  tag, and must not lose them. Publishing refreshes the mtime of an old object it reuses (local disk, S3), and gc
  re-reads an object's mtime just before removing it.

What is removed: unreferenced blobs and manifests, upload staging objects (``blobs/.staging/*``) and temp files of
interrupted local writes (``.tmp-*``) older than the grace period.

**Run records do not keep blobs alive.** ``runs/<id>.json`` (runs that published nothing) stay listed by
``modelver runs`` with their capture metadata, but the model files they uploaded are collected once older than the
grace period: a run that failed is kept for debugging what happened, not as a second way to store models (and a
failed 10 GB checkpoint should not live forever). Publish a run to keep its files.
"""

from __future__ import annotations

import os
import posixpath
import time

import attrs

from ._model_version import read_manifest
from ._registry import read_tag, sorted_versions
from ._settings import open_store
from ._store import Store, info_mtime
from ._verify import referenced_blobs
from .errors import ModelverError, StoreError

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
    """

    removed: tuple[str, ...]
    removed_bytes: int
    kept_young: tuple[str, ...]
    referenced: int
    dry_run: bool


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
    """Remove unreferenced blobs, manifests and stale temp objects older than ``grace_s`` seconds.

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
    return GcReport(tuple(removed), removed_bytes, tuple(young), len(keep), dry_run)
