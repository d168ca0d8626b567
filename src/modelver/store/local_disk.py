"""Durable writes to local disk: create-if-absent by hard link, the copy that hashes what it wrote, verified downloads.

Owns: :func:`copy_hashing` (kernel copy chunk by chunk while a thread hashes the bytes written, with writeback
started behind the copy), :func:`link_create` (a temp file linked onto its final name, atomic and exclusive),
:func:`download_verified` (a streamed blob that appears under its name only once it hashes to its digest) and the
directory fsync that makes new names durable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import uuid
from collections.abc import Iterable
from typing import Any

from modelver.errors import IntegrityError
from modelver.store.digest import format_digest, new_hasher, split_digest
from modelver.threads import leave_signals_to_main

#: Buffer of a local copy (bytes): large enough for blake3's threads to pay off, small enough to stream.
_COPY_CHUNK_BYTES = 8 << 20


def link_create(path: str, data: bytes) -> None:
    """Create the local file ``path`` holding ``data``: temp file in the same directory, fsync, ``os.link`` onto
    ``path`` (atomic, and ``FileExistsError`` if taken), fsync the directory."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(directory)


def download_verified(chunks: Iterable[bytes], digest: str, destination: str, *, location: str, url: str) -> int:
    """Write ``chunks`` (the blob ``digest`` at ``location`` in the store at ``url``) to the local file
    ``destination`` through a temp file renamed into place only once the bytes hash to ``digest``; return the size.

    Raises:
        IntegrityError: the bytes do not hash to ``digest``; nothing is left at ``destination``.
    """
    algo, _ = split_digest(digest)
    hasher = new_hasher(algo)
    tmp = f"{destination}.modelver-{uuid.uuid4().hex[:8]}.part"
    size = 0
    try:
        with open(tmp, "xb") as out:
            for chunk in chunks:
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        actual = f"{algo}:{hasher.hexdigest()}"
        if actual != digest:
            raise IntegrityError(
                f"blob {location} in {url} is corrupt: expected {digest}, read {actual}; "
                "restore it from a copy of the store or republish the version",
                digest=digest,
                actual=actual,
                location=location,
            )
        os.replace(tmp, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return size


def copy_hashing(source: str, target: str, algorithm: str) -> tuple[str, int]:
    """Copy the local file ``source`` to the new file ``target`` and hash what ``target`` holds, in one pass.

    The kernel copies chunk by chunk (``copy_file_range``, as ``cp`` does; a read/write loop where it is missing or
    refused); meanwhile a worker thread reads the chunk just written back from ``target`` (still in the page cache)
    and hashes it, so the digest names exactly the bytes stored even if ``source`` changes during the copy. Chunks
    copied more than a window ago are handed to the disk at once (Linux ``sync_file_range``), so the closing
    ``fsync`` does not wait for a whole file of dirty pages. Measured against the previous copy-then-hash-then-fsync
    and against ``cp`` + ``sync`` in docs/storage.md ("Measured").

    Returns:
        ``(digest, size in bytes)`` of what was written to ``target``, which is fsynced.

    Raises:
        FileExistsError: ``target`` exists (it is created exclusively).
        OSError: ``source`` cannot be read or ``target`` written.
    """
    from concurrent.futures import Future, ThreadPoolExecutor  # imported on first copy: keeps `import modelver` light

    hasher = new_hasher(algorithm)
    with open(source, "rb", buffering=0) as src:
        if os.fstat(src.fileno()).st_size < _COPY_CHUNK_BYTES:
            # Small file: one read, and the very bytes written are hashed; no thread, no big buffer.
            data = src.read()
            with open(target, "xb", buffering=0) as dst:
                _write_all(dst.fileno(), memoryview(data))
                os.fsync(dst.fileno())
            hasher.update(data)
            return format_digest(algorithm, hasher.hexdigest()), len(data)
    buffer = bytearray(_COPY_CHUNK_BYTES)
    view = memoryview(buffer)

    def hash_back(fd: int, offset: int, count: int) -> None:
        done = 0
        while done < count:
            got = os.preadv(fd, [view[: count - done]], offset + done)
            if got == 0:
                raise OSError(f"{target} is shorter than what was written to it")
            hasher.update(view[:got])
            done += got

    size = 0
    with (
        open(source, "rb", buffering=0) as src,
        open(target, "x+b", buffering=0) as dst,
        ThreadPoolExecutor(1, "modelver-hash", leave_signals_to_main) as hashing,
    ):
        copy = _Copier(src.fileno(), dst.fileno())
        pending: Future[None] | None = None
        while count := copy.chunk(_COPY_CHUNK_BYTES):
            if pending is not None:
                pending.result()  # one chunk hashed while the next is copied; re-raises a hashing error
            pending = hashing.submit(hash_back, dst.fileno(), size, count)
            size += count
            if size >= 2 * _WRITEBACK_WINDOW_BYTES and size % _WRITEBACK_WINDOW_BYTES < count:
                _start_writeback(
                    dst.fileno(),
                    size - size % _WRITEBACK_WINDOW_BYTES - 2 * _WRITEBACK_WINDOW_BYTES,
                    _WRITEBACK_WINDOW_BYTES,
                )
        if pending is not None:
            pending.result()
        os.fsync(dst.fileno())
    return format_digest(algorithm, hasher.hexdigest()), size


class _Copier:
    """Copies from one file descriptor to another at their current positions, in the kernel when it can."""

    # copy_file_range refusals that mean "not here" (another filesystem, an old kernel, FUSE/NFS without support)
    _UNSUPPORTED = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM})

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.in_kernel = hasattr(os, "copy_file_range")

    def chunk(self, limit: int) -> int:
        """Copy up to ``limit`` bytes; return how many (0 at the end of the source)."""
        if self.in_kernel:
            try:
                return os.copy_file_range(self.src, self.dst, limit)
            except OSError as exc:
                if exc.errno not in self._UNSUPPORTED:
                    raise
                self.in_kernel = False
        data = os.read(self.src, limit)
        _write_all(self.dst, memoryview(data))
        return len(data)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of the range's dirty pages, do not wait for it
#: Writeback is started for each window of this many bytes once the copy is a window past it (measured here: 64 MiB
#: lagging one window beat both per-chunk writeback and one fsync at the end).
_WRITEBACK_WINDOW_BYTES = 64 << 20


def _load_sync_file_range() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, count: int) -> None:
    # Only a hint: where it is missing or fails, the final fsync does all the work.
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, count, _SYNC_FILE_RANGE_WRITE)


def fsync_dir(directory: str) -> None:
    """Make a new entry of ``directory`` durable (a no-op where directories cannot be opened)."""
    # Makes a new directory entry durable; not every platform can open directories.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
