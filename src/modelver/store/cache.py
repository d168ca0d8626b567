"""The local read cache of remote stores: verified copies of blobs and manifests, keyed by digest.

Layout under the cache directory (``MODELVER_CACHE``, default ``platformdirs.user_cache_dir("modelver")``,
``~/.cache/modelver`` on Linux)::

    objects/<algo>/<aa>/<rest>     verified copies of blobs and manifests of remote stores, named by digest
    tmp/<uuid>                     fills in flight (linked into objects/ once verified)
    fingerprints.sqlite3           digests of unchanged local files (:mod:`modelver.store.statcache`)

Objects are content-addressed, so one cache serves every remote store and several processes may fill it at once:
each fill writes its own temp file, verifies it, and ``os.link``\\ s it into place (``EEXIST`` means another process
already put the same bytes there). No lock is needed. The cache is bounded (``MODELVER_CACHE_MAX_BYTES``, default
10 GiB); after a fill, the least recently used objects (by mtime, which every hit refreshes) are removed until it fits.

Every read from the cache is hashed again: a cached object that was altered is dropped and fetched afresh, never
returned.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from modelver.errors import IntegrityError
from modelver.store.digest import CHUNK_BYTES, digest_bytes, new_hasher, split_digest
from modelver.store.statcache import cache_dir

ENV_CACHE_MAX_BYTES = "MODELVER_CACHE_MAX_BYTES"
#: Default size bound of the read cache in bytes (10 GiB).
DEFAULT_MAX_BYTES = 10 << 30
#: Temp files older than this (seconds) belong to a process that died while filling; prune removes them.
_STALE_TMP_S = 3600.0


def _max_bytes() -> int:
    env = os.environ.get(ENV_CACHE_MAX_BYTES)
    try:
        return int(env) if env else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


class ReadCache:
    """Verified local copies of remote blobs and manifests, keyed by digest, bounded in size.

    Args:
        root: cache directory (default: :func:`cache_dir`).
        max_bytes: size bound in bytes (default: ``MODELVER_CACHE_MAX_BYTES`` or 10 GiB).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir()
        self.max_bytes = max_bytes if max_bytes is not None else _max_bytes()

    def path(self, digest: str) -> Path:
        """Where the object with ``digest`` is cached."""
        algo, hexdigest = split_digest(digest)
        return self.root / "objects" / algo / hexdigest[:2] / hexdigest[2:]

    def read(self, digest: str) -> bytes | None:
        """The cached bytes of ``digest``, verified; ``None`` on a miss (or a damaged copy, which is dropped)."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if digest_bytes(data, split_digest(digest)[0]) != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        self._touch(path)
        return data

    def has(self, digest: str) -> bool:
        """Whether a copy of ``digest`` is cached (refreshing its place in the LRU order); not verified."""
        path = self.path(digest)
        if path.is_file():
            self._touch(path)
            return True
        return False

    def fill(self, digest: str, chunks: Iterable[bytes], *, location: str = "") -> Path:
        """Write ``chunks`` into the cache as ``digest``, verifying them first; return the cached path.

        Raises:
            IntegrityError: the bytes do not hash to ``digest``; nothing is cached.
        """
        algo, _ = split_digest(digest)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / uuid.uuid4().hex
        hasher = new_hasher(algo)
        try:
            with open(tmp, "xb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
            actual = f"{algo}:{hasher.hexdigest()}"
            if actual != digest:
                raise IntegrityError(
                    f"{location or digest} is corrupt: expected {digest}, read {actual}. Restore it from a copy of "
                    "the store or republish the version",
                    digest=digest,
                    actual=actual,
                    location=location,
                )
            os.chmod(tmp, 0o444)
            final = self.path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another process cached the same bytes first
                os.link(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self.prune()
        return final

    def copy_to(self, digest: str, destination: str) -> int | None:
        """Copy the cached ``digest`` to ``destination`` (temp file, then rename), verified; its size in bytes,
        or ``None`` on a miss or a damaged copy (dropped)."""
        path = self.path(digest)
        algo, _ = split_digest(digest)
        hasher = new_hasher(algo)
        tmp = f"{destination}.modelver-{uuid.uuid4().hex[:8]}.part"
        size = 0
        try:
            with open(path, "rb") as src, open(tmp, "xb") as out:
                while chunk := src.read(CHUNK_BYTES):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            if f"{algo}:{hasher.hexdigest()}" != digest:
                with contextlib.suppress(OSError):
                    path.unlink()
                return None
            os.replace(tmp, destination)
        except FileNotFoundError:
            return None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._touch(path)
        return size

    @staticmethod
    def _touch(path: Path) -> None:
        # mtime is the LRU clock: atime is unreliable (noatime, relatime mounts).
        with contextlib.suppress(OSError):
            os.utime(path)

    def prune(self) -> int:
        """Remove least recently used objects until the cache fits its bound, and stale temp files.

        Returns:
            Bytes removed. Safe to run in several processes at once (a file already removed is skipped).
        """
        entries: list[tuple[float, int, Path]] = []
        total = 0
        for directory, _dirs, files in os.walk(self.root / "objects"):
            for name in files:
                path = Path(directory) / name
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                entries.append((st.st_mtime, st.st_size, path))
                total += st.st_size
        removed = 0
        for _mtime, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += size
            total -= size
        now = time.time()
        with contextlib.suppress(FileNotFoundError):
            for tmp in (self.root / "tmp").iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if now - tmp.stat().st_mtime > _STALE_TMP_S:
                        tmp.unlink()
        return removed
