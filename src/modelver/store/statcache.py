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
- **Whole directories** also get one snapshot row keyed by their absolute path: the names and file keys in listing
  order, the sorted per-file digests and sizes, and the tree digest. When a walk of the directory finds exactly the
  same names with exactly the same keys, the tree's fingerprint is answered from that one row, with no per-file
  query and no re-computation of the listing; when some files changed, the snapshot still supplies the digests of
  those that did not. Every file is still ``stat``-ed on every fingerprint: a file's content can change without
  its directory changing, so nothing cheaper is safe.
- **Remote objects** are keyed by URL and algorithm and trusted while the store's own change markers
  (``ETag``/``VersionId``/generation and size) are unchanged. The digest stays ours: remote checksums only say
  whether a re-hash is needed.

Several processes may use the cache at once (SQLite WAL mode, a busy timeout). The cache is an optimisation: any
failure to open, read or write it is ignored and the data is hashed.
"""

from __future__ import annotations

import array
import contextlib
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import attrs

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
CREATE TABLE IF NOT EXISTS trees (
    root TEXT NOT NULL, algorithm TEXT NOT NULL, digest TEXT NOT NULL, walk_names BLOB NOT NULL,
    walk_keys BLOB NOT NULL, names BLOB NOT NULL, digests BLOB NOT NULL, sizes BLOB NOT NULL,
    PRIMARY KEY (root, algorithm));
CREATE TABLE IF NOT EXISTS objects (
    url TEXT NOT NULL, algorithm TEXT NOT NULL, marker TEXT NOT NULL, size INTEGER NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (url, algorithm));
"""

#: The identity of a local file: (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns).
FileKey = tuple[int, int, int, int, int]
#: Stands in for the key of a racy file in a snapshot: no real file has it, so the file is re-hashed next time.
RACY_KEY: FileKey = (-1, -1, -1, -1, -1)
# Point lookups up to this many paths; beyond, one range scan over the common parent is cheaper.
_POINT_LOOKUPS = 256
_SEP = b"\0"


def cache_dir() -> Path:
    """Where modelver keeps local caches: ``$MODELVER_CACHE``, else the user cache dir."""
    override = os.environ.get(ENV_CACHE)
    if override:
        return Path(override)
    import platformdirs  # only when $MODELVER_CACHE is unset

    return Path(platformdirs.user_cache_dir("modelver", appauthor=False))


def file_key(info: os.stat_result) -> FileKey:
    """The stat fields a cached digest depends on."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def is_racy(key: FileKey, now_ns: int | None = None) -> bool:
    """Whether a file with this key was modified too recently (:data:`RACY_WINDOW_S`) for its digest to be kept."""
    now = time.time_ns() if now_ns is None else now_ns
    return now - max(key[3], key[4]) <= int(RACY_WINDOW_S * 1e9)


def pack_keys(flat: Sequence[int]) -> bytes | None:
    """File keys, five integers per file, as one native int64 array; ``None`` if a value does not fit."""
    try:
        return array.array("q", flat).tobytes()
    except OverflowError:  # a 64-bit unsigned inode or device number above 2**63: such trees are not snapshotted
        return None


@attrs.frozen
class TreeSnapshot:
    """What a directory looked like when it was last fingerprinted (module docstring).

    Stored as a few blobs, not one row per file, so that reading it back and comparing it is a handful of C-level
    operations whatever the number of files.

    Attributes:
        digest: the tree digest.
        walk_names: relative POSIX paths in the order the walk listed them, UTF-8, NUL-separated.
        walk_keys: the files' keys in the same order (:func:`pack_keys`), :data:`RACY_KEY` for racy files.
        names: the relative paths sorted, UTF-8, NUL-separated.
        digests: the files' digests in sorted-path order, NUL-separated.
        sizes: the files' sizes in bytes in sorted-path order, native int64 array.
    """

    digest: str
    walk_names: bytes
    walk_keys: bytes
    names: bytes
    digests: bytes
    sizes: bytes

    @classmethod
    def build(
        cls,
        digest: str,
        walk_names: bytes,
        walk_keys: bytes,
        entries: dict[str, tuple[str, int]],
    ) -> TreeSnapshot:
        """Make a snapshot from a walk and the tree's entries (sorted by path, as in a fingerprint)."""
        names = _SEP.join(name.encode("utf-8") for name in entries)
        digests = _SEP.join(digest.encode("ascii") for digest, _ in entries.values())
        sizes = array.array("q", [size for _, size in entries.values()]).tobytes()
        return cls(digest, walk_names, walk_keys, names, digests, sizes)

    def entries(self) -> dict[str, tuple[str, int]]:
        """Relative path to ``(digest, size)``, sorted by path."""
        if not self.names:
            return {}
        names = self.names.decode("utf-8").split("\0")
        digests = self.digests.decode("ascii").split("\0")
        sizes = array.array("q", self.sizes).tolist()
        return dict(zip(names, zip(digests, sizes, strict=True), strict=True))

    def total(self) -> int:
        """The sum of the files' sizes in bytes."""
        return sum(array.array("q", self.sizes))

    def keys(self) -> dict[str, FileKey]:
        """Relative path to the file key recorded for it."""
        if not self.walk_names:
            return {}
        names = self.walk_names.decode("utf-8").split("\0")
        flat = array.array("q", self.walk_keys).tolist()
        keys = zip(flat[0::5], flat[1::5], flat[2::5], flat[3::5], flat[4::5], strict=True)
        return dict(zip(names, keys, strict=True))


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
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A cache dropped without close() (one per call is fine) must not leave connections for the GC to warn about.
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        """Close every connection this cache opened (in any thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection | None:
        # One connection per thread: a connection is not used by two threads at once. check_same_thread=False only
        # so that close() may close them all from the calling thread.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError):
            return None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error:
            conn.close()
            return None
        with self._lock:
            self._connections.append(conn)
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
        columns = "SELECT path, dev, ino, size, mtime_ns, ctime_ns, digest FROM files"
        with self._cursor() as conn:
            if conn is None:
                return found
            paths = list(keys)
            if len(paths) <= _POINT_LOOKUPS:
                marks = ",".join("?" * len(paths))
                rows = conn.execute(f"{columns} WHERE algorithm = ? AND path IN ({marks})", (algorithm, *paths))
            else:
                # One range scan over the primary key below the common parent (every path sorts between min and max,
                # so shares their prefix): far cheaper than thousands of point lookups; other rows are ignored.
                prefix = os.path.commonpath([min(paths), max(paths)])
                rows = conn.execute(
                    f"{columns} WHERE path >= ? AND path <= ? AND algorithm = ?",
                    (prefix, prefix + "\U0010ffff", algorithm),
                )
            for path, dev, ino, size, mtime_ns, ctime_ns, digest in rows:
                if keys.get(path) == (dev, ino, size, mtime_ns, ctime_ns):
                    found[path] = (digest, size)
        return found

    def store_files(
        self,
        algorithm: str,
        entries: Iterable[tuple[str, FileKey, str]],
        tree: tuple[str, TreeSnapshot] | None = None,
    ) -> None:
        """Remember ``(path, file key, digest)`` entries, skipping racy ones (modified just now), in one transaction.

        Args:
            algorithm: the digest algorithm.
            entries: absolute path, key and digest of each file hashed.
            tree: also replace the snapshot of the directory at this absolute path, in the same transaction.
        """
        now_ns = time.time_ns()
        rows = [(path, algorithm, *key, digest) for path, key, digest in entries if not is_racy(key, now_ns)]
        if not rows and tree is None:
            return
        with self._cursor() as conn:
            if conn is None:
                return
            conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock upgrading a read lock later
            try:
                conn.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                if tree is not None:
                    root, snap = tree
                    conn.execute(
                        "INSERT OR REPLACE INTO trees VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            root,
                            algorithm,
                            snap.digest,
                            snap.walk_names,
                            snap.walk_keys,
                            snap.names,
                            snap.digests,
                            snap.sizes,
                        ),
                    )
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def lookup_tree(self, algorithm: str, root: str) -> TreeSnapshot | None:
        """The snapshot of the directory at absolute path ``root``, if one was stored."""
        with self._cursor() as conn:
            if conn is None:
                return None
            row = conn.execute(
                "SELECT digest, walk_names, walk_keys, names, digests, sizes FROM trees "
                "WHERE root = ? AND algorithm = ?",
                (root, algorithm),
            ).fetchone()
            if row is not None and all(isinstance(blob, bytes) for blob in row[1:]) and isinstance(row[0], str):
                return TreeSnapshot(row[0], *row[1:])
        return None

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
