"""The write side of publishing blobs: freshening reused objects for ``gc``, and staged file uploads.

Owns: :func:`freshen` (an object that exists is made young again so ``gc``'s grace period spares it) and the two
ways a file becomes a blob without being read into memory: on local disk a kernel copy hashed as it is written and
linked into place, elsewhere an upload to a staging key moved to the digest of the bytes actually sent.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import time
import uuid
from collections.abc import Callable
from typing import Any

from modelver.store.backend import info_mtime
from modelver.store.digest import CHUNK_BYTES, digest_bytes, digest_file, new_hasher
from modelver.store.leases import MIN_GRACE_S
from modelver.store.local_disk import copy_hashing, fsync_dir
from modelver.store.multipart import (
    MULTIPART_MIN_BYTES,
    put_data_direct,
    put_file_direct,
    put_file_multipart,
    supports_multipart,
)
from modelver.store.progress import transfer_progress

#: A deduplicated object older than this (seconds) gets its mtime refreshed, so ``gc`` (which spares objects younger
#: than its grace period) never collects an object an in-flight publish has just reused (git "freshens" the same way).
#: A third of the smallest grace ``gc`` accepts, so a reused object is always at least two thirds of any allowed
#: grace away from being collectable when a run reuses it.
FRESHEN_AFTER_S = MIN_GRACE_S / 3


def freshen(fs: Any, path: str, *, is_local: bool) -> bool:
    """Whether the object at ``path`` exists; if it does and is old, refresh its mtime for ``gc``'s grace.

    Local disk: ``os.utime``. S3: a server-side copy onto itself (no bytes leave the client). GCS and Azure: a
    metadata update (``setxattrs``), which moves the object's ``updated`` / ``Last-Modified`` time. Freshening is
    best effort: a publish re-checks every object it references under a publish lease before its tag
    (:mod:`modelver.store.leases`), so safety does not depend on it.
    """
    if is_local:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        if time.time() - st.st_mtime > FRESHEN_AFTER_S:
            with contextlib.suppress(OSError):
                os.utime(path)
        return True
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return False
    mtime = info_mtime(info)
    if mtime is None or time.time() - mtime <= FRESHEN_AFTER_S:
        return True
    if hasattr(fs, "call_s3"):
        bucket, key, _ = fs.split_path(path)
        fs.call_s3(
            "copy_object",
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            MetadataDirective="REPLACE",
        )
    elif hasattr(fs, "setxattrs"):  # gcsfs, adlfs: a metadata write updates the object's modification time
        with contextlib.suppress(NotImplementedError, OSError, ValueError):
            fs.setxattrs(path, modelver_freshened=str(int(time.time())))
    return True


def put_file_remote(
    fs: Any, source: str, algorithm: str, staging_dir: str, blob_path: Callable[[str], str]
) -> tuple[str, int]:
    """Upload the local file ``source`` as a blob of a remote store; return ``(digest, size in bytes)``.

    A blob the store already holds is not uploaded (only freshened). On S3 a file under
    :data:`~modelver.store.multipart.MULTIPART_MIN_BYTES` is read once into memory, hashed, and that buffer sent
    with one conditional PUT; a larger one is hashed, then sent straight to its final key as a multipart upload
    hashed again as sent (:mod:`modelver.store.multipart`). Elsewhere a new blob is uploaded to a key under
    ``staging_dir`` while being hashed, then moved to ``blob_path`` of the digest of the bytes actually sent.
    """
    expected = os.stat(source).st_size
    if supports_multipart(fs) and expected < MULTIPART_MIN_BYTES:
        # Small files on S3: read once, hashed once, and that very buffer is what is sent (so it is what is named).
        # read(n) allocates n bytes up front: ask for the size seen plus one (a file that grew goes multipart).
        with open(source, "rb") as handle:
            data = handle.read(expected + 1)
        if len(data) <= expected:
            digest = digest_bytes(data, algorithm)
            if not freshen(fs, blob_path(digest), is_local=False):
                put_data_direct(fs, data, blob_path(digest))
            return digest, len(data)
        del data
    digest, size = digest_file(source, algorithm)
    if freshen(fs, blob_path(digest), is_local=False):
        return digest, size
    if size >= MULTIPART_MIN_BYTES and supports_multipart(fs):
        # Large files on S3: straight to the final key, parts in parallel, hashed as sent (modelver.store.multipart).
        return put_file_multipart(fs, source, algorithm, blob_path, digest=(digest, size))
    if supports_multipart(fs):
        # Smaller files on S3: one conditional PUT of the bytes hashed, no staging copy (modelver.store.multipart).
        return put_file_direct(fs, source, algorithm, blob_path, (digest, size))
    staging = posixpath.join(staging_dir, uuid.uuid4().hex)
    hasher = new_hasher(algorithm)
    size = 0
    with (
        transfer_progress(f"upload {os.path.basename(source)}", os.stat(source).st_size) as progress,
        open(source, "rb") as src,
        fs.open(staging, "wb") as dst,
    ):
        while chunk := src.read(CHUNK_BYTES):
            hasher.update(chunk)
            dst.write(chunk)
            size += len(chunk)
            progress.relative_update(len(chunk))
    digest = f"{algorithm}:{hasher.hexdigest()}"
    final = blob_path(digest)
    if fs.exists(final):
        fs.rm_file(staging)
    else:
        fs.mv(staging, final)
    return digest, size


def put_file_local(
    fs: Any, source: str, algorithm: str, staging_dir: str, blob_path: Callable[[str], str]
) -> tuple[str, int]:
    """Store the local file ``source`` as a blob of a store on local disk; return ``(digest, size in bytes)``."""
    # One pass (copy_hashing): the kernel copies into a private temp file while a thread hashes what was
    # written, so the digest names exactly the bytes stored even if the source changes meanwhile.
    # benchmarks/publish.py and docs/storage.md ("Measured") compare this with cp and cp + sync.
    os.makedirs(staging_dir, exist_ok=True)
    tmp = os.path.join(staging_dir, uuid.uuid4().hex)
    try:
        digest, size = copy_hashing(source, tmp, algorithm)
        os.chmod(tmp, 0o444)
        final = blob_path(digest)
        if not freshen(fs, final, is_local=True):
            os.makedirs(os.path.dirname(final), exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, final)
                fsync_dir(os.path.dirname(final))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return digest, size
