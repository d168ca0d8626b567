"""Verified local copies of artifacts, for loaders that want a path (``from_pretrained``, ``InferenceSession``).

Layout under the cache directory (``MODELVER_CACHE``, see :mod:`modelver.store.cache`)::

    files/<algo>/<aa>/<rest>/<file name>    one artifact file, named by its digest
    trees/<algo>/<aa>/<rest>/...            one directory artifact, named by the digest of its listing
                                            (canonical JSON of {relative path: digest})

Copies are content-addressed and read-only (0o444), so any number of versions and processes share them. A copy is
built in a temp directory and renamed into place; every file is hashed again whenever it is handed out, and a file
that no longer matches its digest (edited in place despite its mode, or damaged) is fetched afresh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from modelver.errors import InvalidReferenceError
from modelver.manifest import ArtifactEntry
from modelver.serde import canonical_json
from modelver.store.digest import digest_bytes, digest_file, split_digest
from modelver.store.objects import Store
from modelver.store.paths import validate_artifact_path
from modelver.store.statcache import cache_dir


def _fanout(root: Path, digest: str) -> Path:
    algo, hexdigest = split_digest(digest)
    return root / algo / hexdigest[:2] / hexdigest[2:]


def _fresh(store: Store, digest: str, target: Path) -> None:
    """Make ``target`` hold the verified blob ``digest`` (kept when it already does)."""
    if target.is_file() and digest_file(target, split_digest(digest)[0])[0] == digest:
        return
    if target.exists():
        # Made writable (Windows cannot replace a read-only file) but not removed: download renames a verified temp
        # file over it, so another process fetching or reading the same copy at the same time is not disturbed.
        with contextlib.suppress(FileNotFoundError):
            os.chmod(target, 0o644)
    store.download(digest, target)
    os.chmod(target, 0o444)


def local_file(store: Store, path: str, entry: ArtifactEntry) -> Path:
    """A verified local copy of one artifact file, keeping its base name (some loaders read the extension).

    Raises:
        IntegrityError: the blob is missing or corrupt.
    """
    target = _fanout(cache_dir() / "files", entry.digest) / path.rsplit("/", 1)[-1]
    _fresh(store, entry.digest, target)
    return target


def local_tree(store: Store, root: str, entries: Mapping[str, ArtifactEntry]) -> Path:
    """A verified local copy of the directory artifact ``root`` (``entries``: its files by bundle path).

    Returns:
        The directory holding the files at their paths relative to ``root``.

    Raises:
        IntegrityError: a blob is missing or corrupt.
        InvalidReferenceError: the manifest lists a file of ``root`` that is not below ``root/`` (a hand-made
            manifest: each file must be ``<root>/<relative path>``), or lists no file of it.
    """
    validate_artifact_path(root)
    stray = sorted(path for path in entries if not path.startswith(root + "/"))
    if stray or not entries:
        raise InvalidReferenceError(
            f"the manifest's directory artifact {root!r} lists {stray or 'no files'}, which are not below {root}/; "
            "the manifest was edited by hand or damaged: republish the version",
            reference=root,
        )
    listing = {path[len(root) + 1 :]: entry.digest for path, entry in sorted(entries.items())}
    algo = split_digest(next(iter(listing.values())))[0]
    final = _fanout(cache_dir() / "trees", digest_bytes(canonical_json(listing), algo))
    if not final.is_dir():
        building = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.part"
        try:
            for rel, digest in listing.items():
                _fresh(store, digest, building.joinpath(*rel.split("/")))  # verified as downloaded
            with contextlib.suppress(OSError):
                os.rename(building, final)
                return final
        finally:
            if building.exists():
                shutil.rmtree(building, ignore_errors=True)
    # A copy made earlier (or by another process just now): hash every file again before handing it out.
    for rel, digest in listing.items():
        _fresh(store, digest, final.joinpath(*rel.split("/")))
    return final


def read_verified_buffer(store: Store, digest: str) -> bytearray:
    """The verified bytes of a blob in a writable buffer the caller owns, for formats that build zero-copy views on
    it (:attr:`Format.zero_copy`).

    A blob on local disk (a local store, or a remote store's read cache) is read straight into the buffer and hashed
    there: one copy from the page cache, where ``bytearray(store.read_blob(...))`` would make two. Anything else,
    or a local copy that fails its digest, goes through :meth:`Store.read_blob`, whose errors and re-fetching apply.

    Raises:
        IntegrityError: the blob is missing or corrupt.
    """
    local: str | Path | None = None
    if store.is_local:
        local = store.blob_path(digest)
    elif store.cache is not None and store.cache.has(digest):
        local = store.cache.path(digest)
    if local is not None:
        with contextlib.suppress(OSError):
            with open(local, "rb", buffering=0) as handle:
                size = os.fstat(handle.fileno()).st_size
                buffer = bytearray(size)
                view = memoryview(buffer)
                done = 0
                while done < size and (count := handle.readinto(view[done:])):
                    done += count
            if done == size and digest_bytes(view, split_digest(digest)[0]) == digest:
                return buffer
    return bytearray(store.read_blob(digest))
