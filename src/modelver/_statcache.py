"""Remember file digests so unchanged data is not read again.

A local SQLite database (``<cache dir>/fingerprints.sqlite3``; the cache dir is ``$MODELVER_CACHE`` or the
platform's user cache dir) maps a file's identity to its digest:

- **Local files** are keyed by path and algorithm and trusted only while ``(st_dev, st_ino, st_size,
  st_mtime_ns, st_ctime_ns)`` are unchanged — the fields ``git`` and DVC use. ``ctime`` cannot be set from user
  space, so ``touch -d`` or a copy that restores mtime still forces a re-hash.
- **Racy entries are not stored**: a file modified within :data:`RACY_WINDOW_S` of being hashed could change again
  inside the same timestamp tick without changing its stat (git's "racy clean" problem), so it is re-hashed next
  time.
- **Untrusted filesystems are not cached**: network and FUSE filesystems (NFS, SMB/CIFS, sshfs, 9p...) may report
  unstable inode numbers or coarse, server-side times; only the local filesystems in :data:`TRUSTED_FILESYSTEMS`
  are cached. On platforms where the filesystem type cannot be read, nothing is cached.
- **Remote objects** are keyed by URL and algorithm and trusted while the store's own change markers
  (``ETag``/``VersionId``/generation and size) are unchanged. The digest stays ours: remote checksums only say
  whether a re-hash is needed.

Several processes may use the cache at once (SQLite WAL mode, a busy timeout). The cache is an optimisation: any
failure to open, read or write it is ignored and the data is hashed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import platformdirs

ENV_CACHE = "MODELVER_CACHE"
#: A file whose mtime is this close to the moment it was hashed is not cached (seconds).
RACY_WINDOW_S = 2.0
#: Filesystems whose inode numbers and nanosecond times are stable and local (Linux and macOS names).
TRUSTED_FILESYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "tmpfs", "overlay", "apfs", "hfs", "ufs", "bcachefs"}
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT NOT NULL, algorithm TEXT NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (path, algorithm));
CREATE TABLE IF NOT EXISTS objects (
    url TEXT NOT NULL, algorithm TEXT NOT NULL, marker TEXT NOT NULL, size INTEGER NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (url, algorithm));
"""

#: The identity of a local file: (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns).
FileKey = tuple[int, int, int, int, int]


def cache_dir() -> Path:
    """Where modelver keeps local caches: ``$MODELVER_CACHE``, else the user cache dir."""
    override = os.environ.get(ENV_CACHE)
    return Path(override) if override else Path(platformdirs.user_cache_dir("modelver", appauthor=False))


def file_key(info: os.stat_result) -> FileKey:
    """The stat fields a cached digest depends on."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@functools.lru_cache(maxsize=1)
def _mounts() -> tuple[tuple[str, str], ...]:
    import psutil  # type: ignore[import-untyped]

    parts = psutil.disk_partitions(all=True)
    # Longest mount point first, so the first prefix match is the filesystem that holds a path.
    return tuple(sorted(((p.mountpoint, p.fstype) for p in parts), key=lambda m: len(m[0]), reverse=True))


def filesystem_type(path: str) -> str | None:
    """The type of the filesystem holding ``path`` (e.g. ``"ext4"``), or ``None`` when it cannot be told."""
    try:
        real = os.path.realpath(path)
        for mountpoint, fstype in _mounts():
            if real == mountpoint or real.startswith(mountpoint.rstrip(os.sep) + os.sep):
                return fstype
    except Exception:  # psutil missing a platform, a permission error: treat as unknown
        return None
    return None


def trusted(path: str) -> bool:
    """Whether stat fields on the filesystem of ``path`` are reliable enough to skip re-hashing."""
    return filesystem_type(path) in TRUSTED_FILESYSTEMS


class StatCache:
    """A digest cache for local files and remote objects (see the module docstring).

    Args:
        path: the SQLite file; default ``cache_dir() / "fingerprints.sqlite3"``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else cache_dir() / "fingerprints.sqlite3"
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection | None:
        # One connection per thread (sqlite3 connections are not shared across threads by default).
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError):
            return None
        self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[sqlite3.Connection | None]:
        conn = self._connect()
        try:
            yield conn
        except (sqlite3.Error, OSError):
            return  # a locked, read-only or corrupt cache only costs a re-hash

    def lookup_files(self, algorithm: str, keys: dict[str, FileKey]) -> dict[str, tuple[str, int]]:
        """Cached ``(digest, size)`` of those ``path -> file key`` entries whose key still matches."""
        found: dict[str, tuple[str, int]] = {}
        if not keys:
            return found
        with self._cursor() as conn:
            if conn is None:
                return found
            # One range scan over the primary key for the common parent directory: far cheaper than thousands of
            # point lookups; rows outside `keys` are simply ignored.
            prefix = os.path.commonpath(list(keys)) if len(keys) > 1 else next(iter(keys))
            rows = conn.execute(
                "SELECT path, dev, ino, size, mtime_ns, ctime_ns, digest FROM files "
                "WHERE path >= ? AND path <= ? AND algorithm = ?",
                (prefix, prefix + "\U0010ffff", algorithm),
            )
            for path, dev, ino, size, mtime_ns, ctime_ns, digest in rows:
                if keys.get(path) == (dev, ino, size, mtime_ns, ctime_ns):
                    found[path] = (digest, size)
        return found

    def store_files(self, algorithm: str, entries: Iterable[tuple[str, FileKey, str]]) -> None:
        """Remember ``(path, file key, digest)`` entries, skipping racy ones (modified just now)."""
        now_ns = time.time_ns()
        racy_ns = int(RACY_WINDOW_S * 1e9)
        rows = [
            (path, algorithm, *key, digest) for path, key, digest in entries if now_ns - max(key[3], key[4]) > racy_ns
        ]
        if not rows:
            return
        with self._cursor() as conn:
            if conn is None:
                return
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")

    def lookup_object(self, algorithm: str, url: str, marker: str, size: int) -> str | None:
        """The cached digest of a remote object whose change marker and size are unchanged, else ``None``."""
        with self._cursor() as conn:
            if conn is None:
                return None
            row = conn.execute(
                "SELECT marker, size, digest FROM objects WHERE url = ? AND algorithm = ?", (url, algorithm)
            ).fetchone()
            if row is not None and (row[0], row[1]) == (marker, size):
                return str(row[2])
        return None

    def store_object(self, algorithm: str, url: str, marker: str, size: int, digest: str) -> None:
        """Remember the digest of a remote object under its change marker."""
        with self._cursor() as conn:
            if conn is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)", (url, algorithm, marker, size, digest)
                )


@functools.lru_cache(maxsize=4)
def default_cache(path: str) -> StatCache:
    """One :class:`StatCache` per database path per process."""
    return StatCache(path)
