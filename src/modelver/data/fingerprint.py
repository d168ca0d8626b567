"""Content fingerprints of data sources: files, directories, fsspec URLs, bytes, numpy arrays and in-memory tables.

A fingerprint names *content*, not where it lives or how it is laid out in memory: the same bytes under two paths,
a directory listed in any order, a DataFrame before and after ``copy()`` all get the same digest. The one exception
is deliberate: an object-store file whose store already holds a content hash gets that hash, not a download (below).

Files and bytes
    The plain digest of the bytes (``method`` is the algorithm, e.g. ``"blake3"``), so a file and the same bytes
    in memory fingerprint alike.

Directories (``method`` ``"<algorithm>-tree"``)
    Every regular file below the root is hashed (in parallel threads: blake3 releases the GIL). The tree digest is
    the digest of the canonical JSON (:func:`modelver.serde.canonical_json`) of::

        {"type": "modelver.tree/1", "entries": [[relative/posix/path, digest, size_bytes], ...]}

    with the entries sorted by path, so the digest does not depend on creation or listing order nor on the OS path
    separator. :func:`tree_json` returns those bytes, so a caller can store the listing as a blob whose digest *is*
    the tree digest. Only files make entries: empty directories do not change the digest (as in git). Skipped
    entries (below) do not change it either; they are reported in :attr:`Fingerprint.skipped`.

Symlink policy (local directories)
    Nothing outside the directory is read silently (docs/architecture.md, Safety):

    - a symlink to a regular file inside the tree is hashed as the target's content, under the link's path;
    - a symlink whose target leaves the tree, a dangling or looping symlink, and a symlink to a directory are not
      followed: they are listed in ``skipped`` as ``"<relative path>: <reason>"``;
    - special files (FIFOs, sockets, devices) are skipped the same way, since reading them can block forever;
    - the source path itself is resolved, so ``fingerprint("link-to-dir")`` fingerprints the directory it names;
    - an unreadable file or subdirectory raises :class:`~modelver.errors.CaptureError`;
    - hard links: every name is an entry with the inode's content; an inode named several times (by hard links or
      in-tree symlinks) is read once per fingerprint.

    Remote filesystems (``s3://``, ``memory://``...) have no symlinks; every object below the prefix is hashed.

Files that change while they are hashed
    Each file is ``fstat``-ed before and after it is read; if its size, mtime or ctime moved, or fewer or more
    bytes came than its size said, it is read again, up to three times, then a
    :class:`~modelver.errors.CaptureError` names it. The check is as fine as the filesystem's timestamps (a few
    milliseconds on Linux): a single ``write`` call that started before the read and ends during it, within one
    timestamp tick, cannot be seen by any stat-based check (git and DVC have the same limit).

Unchanged local files are not read again (:mod:`modelver.store.statcache`)
    A file whose ``(device, inode, size, mtime_ns, ctime_ns)`` match the cache gets its cached digest; a directory
    whose walk finds exactly the names and keys of its last snapshot gets its cached fingerprint whole.

Object stores: the store's own checksum when it hashes the content
    An S3 object with a full-object ``ChecksumSHA256`` is recorded as ``sha256:<hex>`` (method ``"s3-sha256"``);
    else a single-part ETag (the MD5 of the bytes, unless SSE-KMS or SSE-C) as ``md5:<hex>`` (``"s3-etag-md5"``);
    a GCS object's ``md5Hash`` as ``md5:<hex>`` (``"gcs-md5"``). Nothing is downloaded for those. A multipart
    ETag (``<hex>-N``), a composite checksum and a CRC are not content hashes: those objects are streamed and
    hashed with the requested algorithm, and remembered under the store's change marker (ETag/VersionId). A
    remote directory's ``summary`` counts the methods (``{"methods": {"s3-etag-md5": 3, "blake3": 1}}``); its tree
    digest is still computed with the requested algorithm over the per-file digests, whatever made them. The same
    bytes therefore get an ``md5:``/``sha256:`` digest on S3 and a ``blake3:`` one on disk: the drift check
    reconciles them by hashing the current copy with the recorded algorithm (:func:`rehash`).

numpy arrays (``method`` ``"<algorithm>-ndarray"``)
    ``dtype.str`` (``dtype.descr`` for structured dtypes), the shape and the bytes in C order: a non-contiguous
    view hashes like its contiguous copy, and the same bytes under another dtype or shape hash differently. The
    bytes are taken as they are (two NaNs with different payloads differ). Object arrays are refused: their bytes
    are pointers.

pandas DataFrame and Series (``method`` ``"<algorithm>-pandas"``)
    All rows, the index (every level, with names), the column labels in order (with the columns' names) and, per
    column, its dtype and values, hashed column by column from ``df.iloc[:, i]``, so equal frames hash equal
    whatever their internal block layout. Numeric, boolean and datetime columns go in as their numpy bytes (every
    NaN written as the same canonical NaN; ``-0.0`` stays distinct from ``0.0``); nullable extension columns as
    a missing-value mask plus their values; categoricals as their categories, ordered flag and codes;
    time-zone-aware datetimes as UTC instants (the zone is in the dtype); object, string and other columns
    element by element, each element length-prefixed and tagged with its type so ``1`` and ``"1"`` differ.
    Element types are compared by kind: a numpy integer hashes like a Python ``int`` of the same value, but
    ``True`` differs from ``1``. ``None``, ``NaN``, ``pd.NA`` and ``NaT`` are four distinct, stable tags. Lists,
    tuples, dicts (key order ignored), sets, Decimals, dates, times, Timestamps, Timedeltas, Periods, Intervals and
    numpy arrays are supported as elements; any other element type raises
    :class:`~modelver.errors.CaptureError` rather than hash something unstable such as a ``repr`` with an
    address. ``size_bytes`` is pandas' deep ``memory_usage`` including the index.

Arrow and polars tables (``method`` ``"<algorithm>-arrow"`` / ``"<algorithm>-polars"``)
    pyarrow Tables and RecordBatches (kind ``"table"``), polars DataFrames and Series: all rows, and the schema in
    column order (Arrow: name, type and nullability, not schema metadata; polars: name and dtype). Each column's
    values go into a few sub-digests (a one-byte-per-row null mask; fixed-width values with null slots zeroed and
    every NaN one bit pattern; int64 lengths plus data bytes for strings and binary; lengths and child values for
    lists, maps and structs; dictionary columns as their decoded values) fed chunk by chunk, so a table hashes the
    same however it is chunked, sliced or rechunked, and a RecordBatch like the one-batch Table. Other Arrow types
    (unions, run-end encoded) go element by element through the pandas element encoding. Polars objects are
    hashed through their zero-copy Arrow export (pyarrow needed); ``Object`` columns and LazyFrames are refused.
    ``size_bytes`` is ``Table.nbytes`` / polars' ``estimated_size()``.

numpy, pandas, pyarrow and polars are imported only when the source is one of their objects, so importing
modelver stays fast.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import hashlib
import math
import os
import re
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from modelver.capture.redact import strip_url_credentials
from modelver.errors import CaptureError
from modelver.serde import canonical_json
from modelver.store.digest import CHUNK_BYTES, DEFAULT_ALGORITHM, digest_bytes, digest_chunks, new_hasher
from modelver.store.statcache import RACY_KEY, FileKey, StatCache, TreeSnapshot, file_key, is_racy, pack_keys, trusted

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from modelver.store.digest import Hasher

__all__ = ["TREE_TYPE", "Fingerprint", "fingerprint", "rehash", "tree_json"]

TREE_TYPE = "modelver.tree/1"
_SUPPORTED = (
    "supported sources: a local file or directory path (str or os.PathLike), an fsspec URL "
    "(memory://, s3://, gs://, file://, ...), bytes, a numpy ndarray, a pandas DataFrame or Series, "
    "a pyarrow Table or RecordBatch, a polars DataFrame or Series"
)
# An fsspec URL: a protocol of two or more characters (so "C:\\data" stays a Windows path), then "://" or "::".
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+(://|::)")
# Arrays are fed to the hasher in blocks of about this size, so a non-contiguous view never gets copied whole.
_BLOCK_BYTES = 16 << 20
# Arrow columns are hashed this many rows at a time (16 MiB of int64).
_ARROW_ROWS_PER_BLOCK = 1 << 21
# Object columns are encoded this many elements at a time: bounded memory, few hasher calls.
_ELEMENTS_PER_BLOCK = 1 << 14
_T = TypeVar("_T")
# Below this many bytes to read, no progress bar is worth drawing.
_PROGRESS_THRESHOLD_BYTES = 256 << 20
# Local files up to this size are read in one call; bigger ones stream through one buffer of this size.
_READ_BUFFER_BYTES = 4 << 20
# Threads listing directories: enough to overlap stat calls with Python, few enough not to thrash a small machine.
_SCAN_THREADS = min(2, os.cpu_count() or 1)
# Directories are listed through an open descriptor where os.scandir accepts one (POSIX).
_SCANDIR_FD = os.scandir in os.supports_fd
# A file that keeps changing while it is read is read at most this many times, then reported.
_HASH_ATTEMPTS = 3
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")


@attrs.frozen
class Fingerprint:
    """Content fingerprint of a data source.

    Attributes:
        digest: ``"<algorithm>:<hex>"``; for a directory, the tree digest (see the module docstring).
        size_bytes: total size in bytes (for pandas objects, the deep in-memory size).
        files: number of files hashed; 1 for a file or an in-memory object.
        kind: ``"file"``, ``"directory"``, ``"ndarray"``, ``"dataframe"``, ``"series"``, ``"table"`` or
            ``"bytes"``.
        method: how the digest was computed: ``"blake3"``, ``"blake3-tree"``, ``"blake3-ndarray"``,
            ``"blake3-pandas"``, ``"blake3-arrow"``, ``"blake3-polars"`` (with the chosen algorithm in place of
            blake3), or for an object-store file the store's checksum used: ``"s3-sha256"``, ``"s3-etag-md5"``,
            ``"gcs-md5"``.
        uri: absolute local path, the URL as given, or ``"<numpy.ndarray>"``, ``"<pandas.DataFrame>"``,
            ``"<pandas.Series>"``, ``"<pyarrow.Table>"``, ``"<pyarrow.RecordBatch>"``, ``"<polars.DataFrame>"``,
            ``"<polars.Series>"``, ``"<bytes>"`` for in-memory data.
        summary: for arrays ``{"shape", "dtype"}``; for frames and tables ``{"rows", "columns", "dtypes"}``
            (column labels and dtypes as strings, in column order); for series ``{"rows", "name", "dtype"}``; for
            remote directories ``{"methods": {method: files}}``.
        entries: directories only: POSIX path relative to the root to ``(digest, size_bytes)``.
        skipped: directories only: ``"<relative path>: <reason>"`` for each entry not hashed, sorted.
    """

    digest: str
    size_bytes: int
    files: int
    kind: str
    method: str
    uri: str
    summary: dict[str, Any] = attrs.field(factory=dict)
    entries: dict[str, tuple[str, int]] = attrs.field(factory=dict)
    skipped: tuple[str, ...] = ()


def tree_json(entries: Mapping[str, tuple[str, int]]) -> bytes:
    """Return the canonical JSON listing of a directory whose digest is the tree digest.

    Args:
        entries: POSIX relative path to ``(digest, size_bytes)``, as in :attr:`Fingerprint.entries`.

    Returns:
        UTF-8 canonical JSON ``{"type": "modelver.tree/1", "entries": [[path, digest, size], ...]}``, sorted by path.
    """
    listing = [[path, digest, size] for path, (digest, size) in sorted(entries.items())]
    return canonical_json({"type": TREE_TYPE, "entries": listing})


def fingerprint(
    source: object, *, algorithm: str = DEFAULT_ALGORITHM, progress: bool | None = None, cache: bool = True
) -> Fingerprint:
    """Fingerprint the content of a data source.

    Args:
        source: a local path (``str`` or ``os.PathLike``) to a file or directory; an fsspec URL string with a
            protocol (``memory://``, ``s3://``, ``file://``...) to a file or directory; ``bytes``, ``bytearray``
            or ``memoryview``; a numpy ``ndarray``; a pandas ``DataFrame`` or ``Series``; a pyarrow ``Table`` or
            ``RecordBatch``; a polars ``DataFrame`` or ``Series``.
        algorithm: digest algorithm, ``"blake3"`` (default) or ``"sha256"``; object-store files whose store holds
            a content hash get that hash instead (``sha256:``/``md5:``, see the module docstring).
        progress: show a progress bar on stderr: ``None`` (default) when stderr is a terminal and more than
            256 MiB must be read, ``True`` always, ``False`` never.
        cache: reuse digests of files and objects that have not changed since they were last hashed
            (:mod:`modelver.store.statcache`); ``False`` reads everything.

    Returns:
        The fingerprint; see the module docstring for what each kind of source hashes.

    Raises:
        CaptureError: the source type is not supported, the path does not exist, a file cannot be read or kept
            changing while it was read, an array has object dtype, a pandas column holds an element type that has
            no stable encoding, or a polars column has dtype Object.
        ValueError: ``algorithm`` is unknown.
    """
    new_hasher(algorithm)  # fail fast on an unknown algorithm, before touching any data
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _fingerprint_bytes(source, algorithm)
    if isinstance(source, (str, os.PathLike)):
        with contextlib.closing(StatCache()) if cache else contextlib.nullcontext() as stat_cache:
            options = _Options(algorithm, progress, stat_cache)
            if isinstance(source, str) and _URL_RE.match(source):
                return _fingerprint_url(source, options)
            return _fingerprint_local(os.fspath(source), os.fspath(source), options)
    # Decide from the class's modules before importing anything, so numpy/pandas load only for their own objects.
    packages = {cls.__module__.partition(".")[0] for cls in type(source).__mro__}
    try:
        if "pyarrow" in packages:
            import pyarrow as pa

            if isinstance(source, (pa.Table, pa.RecordBatch)):
                return _fingerprint_arrow(source, algorithm)
        if "polars" in packages:
            import polars as pl

            if isinstance(source, (pl.DataFrame, pl.Series)):
                return _fingerprint_polars(source, algorithm)
            if isinstance(source, pl.LazyFrame):
                raise CaptureError("cannot fingerprint a polars LazyFrame: it is a query, not data; pass .collect()")
        if "pandas" in packages:
            import pandas as pd

            if isinstance(source, (pd.DataFrame, pd.Series)):
                return _fingerprint_pandas(source, algorithm)
        if "numpy" in packages:
            import numpy as np

            if isinstance(source, np.ma.MaskedArray):
                raise CaptureError(
                    "cannot fingerprint a numpy masked array: its mask is not part of its bytes; "
                    "pass np.ma.filled(array) or the data and mask separately"
                )
            if isinstance(source, np.ndarray):
                return _fingerprint_ndarray(source, algorithm)
    except RecursionError as exc:
        raise CaptureError(f"cannot fingerprint a {type(source).__name__}: it contains itself") from exc
    raise CaptureError(f"cannot fingerprint an object of type {_type_name(source)}; {_SUPPORTED}")


# --- bytes ---------------------------------------------------------------------------------------------------------


def _fingerprint_bytes(source: bytes | bytearray | memoryview, algorithm: str) -> Fingerprint:
    data = memoryview(source)
    if not data.c_contiguous:
        data = memoryview(data.tobytes())
    data = data.cast("B")
    return Fingerprint(
        digest=digest_bytes(data, algorithm),
        size_bytes=data.nbytes,
        files=1,
        kind="bytes",
        method=algorithm,
        uri="<bytes>",
    )


# --- local files and directories -----------------------------------------------------------------------------------


@attrs.frozen
class _Options:
    algorithm: str
    progress: bool | None
    cache: StatCache | None


def _fingerprint_local(path: str, shown: str, options: _Options) -> Fingerprint:
    """Fingerprint a local file or directory; ``shown`` is how the caller named it, for messages."""
    uri = os.path.abspath(path)
    try:
        info = os.stat(path)  # follows a symlink: the source itself is resolved
    except FileNotFoundError as exc:
        raise CaptureError(f"cannot fingerprint {shown!r}: no such file or directory") from exc
    except OSError as exc:
        raise CaptureError(f"cannot fingerprint {shown!r}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(info.st_mode):
        return _fingerprint_file(uri, file_key(info), shown, options)
    if stat.S_ISDIR(info.st_mode):
        return _fingerprint_directory(uri, shown, options)
    raise CaptureError(f"cannot fingerprint {shown!r}: not a regular file or directory; {_SUPPORTED}")


def _fingerprint_file(path: str, key: FileKey, shown: str, options: _Options) -> Fingerprint:
    algorithm = options.algorithm
    cache = options.cache if options.cache is not None and trusted(path) else None
    known = cache.lookup_files(algorithm, {path: key}) if cache is not None else {}
    if path in known:
        digest, size = known[path]
    else:
        with _progress_bar(options.progress, key[2], shown) as advance:
            digest, size, key = _hash_file(path, shown, algorithm)
            advance(size)
        if cache is not None:
            cache.store_files(algorithm, [(path, key, digest)])
    return Fingerprint(digest=digest, size_bytes=size, files=1, kind="file", method=algorithm, uri=path)


def _fingerprint_directory(root: str, shown: str, options: _Options) -> Fingerprint:
    """Fingerprint a local directory: one walk that stats every file, then only what the stat cache cannot answer.

    The hot path, nothing changed since the last fingerprint, is one walk, one snapshot row read and two byte-string
    comparisons (:class:`~modelver.store.statcache.TreeSnapshot`): no per-file query, no file read, no listing rebuilt.
    """
    algorithm = options.algorithm
    walk = _scan(root, shown)
    cache = options.cache
    trusted_devices = _trusted_devices(walk) if cache is not None else set()
    everywhere = len(trusted_devices) == len(set(walk.keys[0::5]))
    packed = pack_keys(walk.keys) if cache is not None and everywhere else None
    snapshot = cache.lookup_tree(algorithm, root) if cache is not None and packed is not None else None
    count = len(walk.names)
    try:  # a snapshot that does not decode (a damaged cache) only costs a re-hash
        before = snapshot.entries() if snapshot is not None else {}
    except ValueError:  # UnicodeDecodeError included
        snapshot, before = None, {}
    unchanged = snapshot is not None and snapshot.walk_keys == packed and snapshot.walk_names == walk.joined_names
    if snapshot is not None and unchanged and len(before) == count:
        return _tree_fingerprint(before, walk.skipped, root, algorithm, snapshot.digest, snapshot.total())

    keys: list[FileKey] = list(zip(*(walk.keys[field::5] for field in range(5)), strict=True))
    known: dict[int, tuple[str, int]] = {}
    if cache is not None:
        with contextlib.suppress(ValueError):
            remembered = snapshot.keys() if snapshot is not None else {}
            for index, (name, key) in enumerate(zip(walk.names, keys, strict=True)):
                if remembered.get(name) == key and name in before:
                    known[index] = before[name]
        asked = {walk.path(i): i for i in range(count) if i not in known and keys[i][0] in trusted_devices}
        found = cache.lookup_files(algorithm, {path: keys[i] for path, i in asked.items()}) if asked else {}
        known.update((asked[path], result) for path, result in found.items())
    missing = [i for i in range(count) if i not in known]
    # Hard links (and in-tree symlinks) name one inode several times: it is read once, every name gets its digest.
    first_of: dict[tuple[int, int], int] = {}
    for i in missing:
        first_of.setdefault((keys[i][0], keys[i][1]), i)
    unique = list(first_of.values())
    with _progress_bar(options.progress, sum(keys[i][2] for i in unique), shown) as advance:

        def digest(batch: list[int]) -> list[tuple[str, int, FileKey]]:
            results = [_hash_file(walk.path(i), shown, algorithm) for i in batch]
            advance(sum(size for _, size, _ in results))
            return results

        # Small files go to the threads in batches: one task per file costs more than hashing a few KiB.
        batches = _batches(unique, [keys[i][2] for i in unique])
        hashed = dict(zip(unique, (result for batch in _parallel(digest, batches) for result in batch), strict=True))
    for i in missing:
        digest_, size, key = hashed[first_of[keys[i][0], keys[i][1]]]
        known[i] = (digest_, size)
        keys[i] = key  # the key the bytes were read under, not the walk's
    entries = dict(sorted((walk.names[i], known[i]) for i in range(count)))
    result = _tree_fingerprint(entries, walk.skipped, root, algorithm)
    if cache is not None:
        fresh = [(walk.path(i), keys[i], known[i][0]) for i in missing if keys[i][0] in trusted_devices]
        tree = None
        if everywhere:
            now_ns = time.time_ns()
            flat = [field for key in keys for field in (RACY_KEY if is_racy(key, now_ns) else key)]
            packed = pack_keys(flat)
            if packed is not None:
                tree = (root, TreeSnapshot.build(result.digest, walk.joined_names, packed, entries))
        cache.store_files(algorithm, fresh, tree=tree)
    return result


def _trusted_devices(walk: _Walk) -> set[int]:
    """The devices under the walk whose stat fields the cache may trust (a tree can span mounts)."""
    devices = walk.keys[0::5]
    return {device for device in set(devices) if trusted(walk.path(devices.index(device)))}


def _batches(items: list[int], sizes: list[int], target_bytes: int = 8 << 20, max_files: int = 256) -> list[list[int]]:
    """Group items, in order, into batches of about ``target_bytes`` or ``max_files``."""
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for item, size in zip(items, sizes, strict=True):
        current.append(item)
        current_bytes += size
        if current_bytes >= target_bytes or len(current) >= max_files:
            batches.append(current)
            current, current_bytes = [], 0
    if current:
        batches.append(current)
    return batches


@contextlib.contextmanager
def _progress_bar(enabled: bool | None, total_bytes: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yield a callback that advances a rich progress bar by a number of bytes (a no-op when off)."""
    show = enabled if enabled is not None else total_bytes > _PROGRESS_THRESHOLD_BYTES and sys.stderr.isatty()
    if not show:
        yield lambda _: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    lock = threading.Lock()
    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    # On stderr, never stdout: `modelver fingerprint --json` output must stay parseable.
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"fingerprinting {label}", total=total_bytes)

        def advance(size: int) -> None:
            with lock:
                bar.advance(task, size)

        yield advance


def _hash_file(path: str, shown: str, algorithm: str) -> tuple[str, int, FileKey]:
    """Digest a local file; return ``(digest, size in bytes, the file key it was read under)``.

    A file whose size, mtime or ctime moves while it is read is read again, up to :data:`_HASH_ATTEMPTS` times,
    then reported: a digest of bytes from two versions of a file names neither.

    Raises:
        CaptureError: the file cannot be read, or it kept changing.
    """
    for _ in range(_HASH_ATTEMPTS):
        try:
            with open(path, "rb", buffering=0) as handle:
                before = os.fstat(handle.fileno())
                hasher = new_hasher(algorithm)
                size = _hash_handle(handle, before.st_size, hasher)
                after = os.fstat(handle.fileno())
        except OSError as exc:
            raise CaptureError(f"cannot fingerprint {shown!r}: cannot read {path!r}: {exc.strerror or exc}") from exc
        key = file_key(before)
        if size == before.st_size and key == file_key(after):
            return f"{algorithm}:{hasher.hexdigest()}", size, key
    raise CaptureError(
        f"cannot fingerprint {shown!r}: {path!r} changed while it was being hashed, {_HASH_ATTEMPTS} times; "
        "fingerprint it when nothing is writing to it"
    )


def _hash_handle(handle: Any, expected: int, hasher: Hasher) -> int:
    """Feed an open unbuffered file to ``hasher``; return the number of bytes read."""
    if expected <= _READ_BUFFER_BYTES:
        data = handle.read(expected + 1)  # one read for a small file; +1 sees a file that grew since fstat
        size = len(data)
        hasher.update(data)
        while data := handle.read(_READ_BUFFER_BYTES):
            hasher.update(data)
            size += len(data)
        return size
    # One reused buffer: memory stays flat whatever the size; blake3 hashes each buffer with all cores.
    buffer = bytearray(_READ_BUFFER_BYTES)
    view = memoryview(buffer)
    size = 0
    while count := handle.readinto(buffer):
        hasher.update(view[:count])
        size += count
    return size


@attrs.define
class _Walk:
    """The regular files below a root: listing order, keys and what was skipped (see :func:`_scan`)."""

    root: str
    names: list[str] = attrs.field(factory=list)
    keys: list[int] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)
    links: dict[int, str] = attrs.field(factory=dict)
    joined_names: bytes = b""

    def path(self, index: int) -> str:
        """The path to read for file ``index``: the link's path for a symlink, else root joined with the name."""
        if self.links and index in self.links:
            return self.links[index]
        # Plain concatenation (os.path.join costs more than the rest of the lookup); the root has no trailing
        # separator unless it is the filesystem root.
        base = self.root if self.root.endswith(os.sep) else self.root + os.sep
        name = self.names[index]
        return base + (name if os.sep == "/" else name.replace("/", os.sep))


def _scan(root: str, shown: str) -> _Walk:
    """Walk ``root`` once, stat-ing every regular file (``lstat`` from the directory entry; a symlink's target).

    Directories are listed a level at a time by a few threads (``stat`` releases the GIL, so one thread's system
    calls overlap another's Python), and their results are joined in the order of their relative paths, so the
    listing order is the same from run to run whatever the threads' timing.

    Returns:
        A :class:`_Walk` whose ``keys`` hold five integers per file (:data:`~modelver.store.statcache.FileKey` fields)
        in listing order, with no per-file object beyond the name: the stat cache compares them as one array.

    Raises:
        CaptureError: a directory or file cannot be read, or a name is not valid UTF-8.
    """
    real_root = os.path.realpath(root)
    listed: list[_Listing] = []
    level = [(root, "")]
    with ThreadPoolExecutor(max_workers=_SCAN_THREADS, thread_name_prefix="modelver-scan") as executor:
        while level:
            found = (
                list(executor.map(lambda item: _list_directory(item[0], item[1], real_root, shown), level))
                if len(level) > 1
                else [_list_directory(*level[0], real_root, shown)]
            )
            listed += found
            level = [subdirectory for listing in found for subdirectory in listing.subdirectories]
    listed.sort(key=lambda listing: listing.prefix)
    walk = _Walk(root)
    for listing in listed:
        offset = len(walk.names)
        walk.links.update((offset + index, path) for index, path in listing.links)
        walk.names += listing.names
        walk.keys += listing.keys
        walk.skipped += listing.skipped
    try:
        walk.joined_names = "\0".join(walk.names).encode("utf-8")  # one check of every name (NUL is never in one)
    except UnicodeEncodeError:
        for name in walk.names:
            _checked(name, shown)
    walk.skipped.sort()
    return walk


@attrs.define
class _Listing:
    """What one directory holds (:func:`_list_directory`)."""

    prefix: str
    names: list[str] = attrs.field(factory=list)
    keys: list[int] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)
    links: list[tuple[int, str]] = attrs.field(factory=list)
    subdirectories: list[tuple[str, str]] = attrs.field(factory=list)


def _list_directory(directory: str, prefix: str, real_root: str, shown: str) -> _Listing:
    """List one directory: its files with their keys, its subdirectories, and what the symlink policy skips.

    Where the platform allows, the directory is opened once and its entries are ``stat``-ed relative to it
    (``fstatat``): the kernel resolves one name per file instead of the whole path.
    """
    result = _Listing(prefix)
    names, keys, skipped = result.names, result.keys, result.skipped
    fd = None
    try:
        if _SCANDIR_FD:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        listing = os.scandir(directory if fd is None else fd)
    except OSError as exc:
        if fd is not None:
            os.close(fd)
        where = prefix.rstrip("/") or "."
        raise CaptureError(f"cannot fingerprint {shown!r}: cannot list {where!r}: {exc.strerror or exc}") from exc
    try:
        with listing:
            for entry in listing:
                try:
                    if entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                    elif entry.is_dir(follow_symlinks=False):
                        result.subdirectories.append((os.path.join(directory, entry.name), f"{prefix}{entry.name}/"))
                        continue
                    elif entry.is_symlink():
                        path = os.path.join(directory, entry.name)
                        reason = _symlink_skip_reason(path, real_root)
                        if reason is not None:
                            skipped.append(_checked(f"{prefix}{entry.name}: {reason}", shown))
                            continue
                        info = os.stat(path)
                        result.links.append((len(names), path))
                    else:
                        skipped.append(_checked(f"{prefix}{entry.name}: not a regular file", shown))
                        continue
                except OSError as exc:
                    rel = prefix + entry.name
                    raise CaptureError(
                        f"cannot fingerprint {shown!r}: cannot read {rel!r}: {exc.strerror or exc}"
                    ) from exc
                names.append(prefix + entry.name)
                keys += (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    finally:
        if fd is not None:
            os.close(fd)
    return result


def walk_tree(root: str, shown: str) -> tuple[list[tuple[str, str]], list[str]]:
    """List ``(relative POSIX path, path to read)`` of the files below ``root`` and the skipped entries with reasons.

    This is the one symlink policy of modelver (module docstring), shared by data fingerprints and
    ``Run.log_artifact``: nothing outside ``root`` is read. ``shown`` is how errors name the source.

    Raises:
        CaptureError: a directory or file cannot be read, or a name is not valid UTF-8.
    """
    walk = _scan(root, shown)
    return [(name, walk.path(index)) for index, name in enumerate(walk.names)], walk.skipped


def _symlink_skip_reason(link: str, real_root: str) -> str | None:
    """Return why a symlink is not followed, or ``None`` when it is a file inside the tree."""
    target = os.path.realpath(link)
    if not os.path.lexists(target) or os.path.islink(target):
        # realpath stops on a loop and leaves a link in place; on a missing target it returns a path that is absent.
        return "dangling or looping symlink, not followed"
    try:
        inside = os.path.commonpath([real_root, target]) == real_root
    except ValueError:  # Windows: another drive
        inside = False
    if not inside:
        return "symlink leaves the directory, not followed"
    if os.path.isdir(target):
        return "symlink to a directory, not followed"
    if not os.path.isfile(target):
        return "symlink to something that is not a regular file, not followed"
    return None


def _checked(rel: str, shown: str) -> str:
    # A name that is not valid UTF-8 (POSIX allows any bytes) has no canonical JSON form; refuse it by name rather
    # than hash an escaped spelling that another OS would spell differently.
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CaptureError(
            f"cannot fingerprint {shown!r}: the file name {rel!r} is not valid UTF-8; rename it"
        ) from exc
    return rel


def _tree_fingerprint(
    entries: dict[str, tuple[str, int]],
    skipped: list[str],
    uri: str,
    algorithm: str,
    digest: str | None = None,
    size_bytes: int | None = None,
) -> Fingerprint:
    """A directory's fingerprint from its entries sorted by path (``digest``, ``size_bytes``: when known)."""
    return Fingerprint(
        digest=digest or digest_bytes(tree_json(entries), algorithm),
        size_bytes=sum(size for _, size in entries.values()) if size_bytes is None else size_bytes,
        files=len(entries),
        kind="directory",
        method=f"{algorithm}-tree",
        uri=uri,
        entries=entries,
        skipped=tuple(skipped),
    )


def _parallel(function: Callable[[Any], _T], items: list[Any]) -> list[_T]:
    """Map ``function`` over ``items`` in threads, in order; the first error cancels what has not started."""
    if len(items) <= 1:
        return [function(item) for item in items]
    executor = ThreadPoolExecutor(thread_name_prefix="modelver-hash")
    try:
        return list(executor.map(function, items))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


# --- fsspec URLs ---------------------------------------------------------------------------------------------------


def _fingerprint_url(url: str, options: _Options) -> Fingerprint:
    import fsspec.core
    from fsspec.implementations.local import LocalFileSystem

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise CaptureError(f"cannot fingerprint {url!r}: {exc}") from exc
    except Exception as exc:  # backends raise their own types for bad URLs and credentials
        raise CaptureError(f"cannot fingerprint {url!r}: {type(exc).__name__}: {exc}") from exc
    if isinstance(fs, LocalFileSystem):
        # Same code path as a plain path, so file:// URLs get the same symlink policy and parallel hashing.
        local = _fingerprint_local(path, url, options)
        return attrs.evolve(local, uri=strip_url_credentials(url))
    algorithm = options.algorithm
    try:
        info = fs.info(path)
    except FileNotFoundError as exc:
        raise CaptureError(f"cannot fingerprint {url!r}: no such file or directory") from exc
    except Exception as exc:  # network, permission and credential errors come in backend-specific types
        raise CaptureError(f"cannot fingerprint {url!r}: {type(exc).__name__}: {exc}") from exc
    if info.get("type") != "directory":
        with _progress_bar(options.progress, int(info.get("size") or 0), url) as advance:
            digest, size, method = _digest_remote_file(fs, path, info, url, options, advance)
        return Fingerprint(
            digest=digest, size_bytes=size, files=1, kind="file", method=method, uri=strip_url_credentials(url)
        )
    prefix = path.rstrip("/") + "/"
    try:
        found = fs.find(path, withdirs=False, detail=True)
    except Exception as exc:  # as above
        raise CaptureError(f"cannot fingerprint {url!r}: cannot list it: {type(exc).__name__}: {exc}") from exc
    files: list[tuple[str, str]] = []
    for name, detail in sorted(found.items()):
        # Object stores may hold zero-byte "dir/" markers: they are directories, not files.
        if detail.get("type", "file") != "file" or not name.startswith(prefix) or name.endswith("/"):
            continue
        rel = name[len(prefix) :]
        _checked(rel, url)
        files.append((rel, name))
    with _progress_bar(options.progress, sum(int(found[name].get("size") or 0) for _, name in files), url) as advance:
        hashed = _parallel(lambda item: _digest_remote_file(fs, item[1], found[item[1]], url, options, advance), files)
    entries = dict(sorted((rel, (digest, size)) for (rel, _), (digest, size, _) in zip(files, hashed, strict=True)))
    methods: dict[str, int] = {}
    for _, _, method in hashed:
        methods[method] = methods.get(method, 0) + 1
    result = _tree_fingerprint(entries, [], strip_url_credentials(url), algorithm)
    return attrs.evolve(result, summary={"methods": dict(sorted(methods.items()))})


def _change_marker(info: Mapping[str, Any]) -> str | None:
    """The backend's own marker of an object's content version, when it has one (S3, GCS, Azure)."""
    for field in ("VersionId", "ETag", "etag", "generation", "md5Hash", "crc32c", "content_md5"):
        value = info.get(field)
        if value:
            return f"{field}={value}"
    return None


def _digest_remote_file(
    fs: Any, path: str, info: Mapping[str, Any], url: str, options: _Options, advance: Callable[[int], None]
) -> tuple[str, int, str]:
    """Digest one remote object: ``(digest, size in bytes, method)``, from the store's own checksum when it has one.

    ``advance`` is told every byte accounted for (read, or answered without reading), for the progress bar.
    """
    size = int(info.get("size") or 0)
    try:
        checksum = _store_checksum(fs, path, info)
    except Exception as exc:  # backend-specific error types
        raise CaptureError(f"cannot fingerprint {url!r}: cannot stat {path!r}: {type(exc).__name__}: {exc}") from exc
    if checksum is not None:
        advance(size)
        return checksum[0], size, checksum[1]
    marker = _change_marker(info)
    object_url = f"{_protocol(fs)}://{path}"
    if marker is not None and options.cache is not None:
        cached = options.cache.lookup_object(options.algorithm, object_url, marker, size)
        if cached is not None:
            advance(size)
            return cached, size, options.algorithm

    def chunks(handle: Any) -> Iterator[bytes]:
        while chunk := handle.read(CHUNK_BYTES):
            advance(len(chunk))
            yield chunk

    try:
        with fs.open(path, "rb") as handle:
            digest, read = digest_chunks(chunks(handle), options.algorithm)
    except Exception as exc:  # as above: backend-specific error types
        raise CaptureError(f"cannot fingerprint {url!r}: cannot read {path!r}: {type(exc).__name__}: {exc}") from exc
    if marker is not None and options.cache is not None and read == size:
        options.cache.store_object(options.algorithm, object_url, marker, size, digest)
    return digest, read, options.algorithm


_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


def _store_checksum(fs: Any, path: str, info: Mapping[str, Any]) -> tuple[str, str] | None:
    """The store's own content hash of an object as ``(digest, method)``, or ``None`` when it has none to trust.

    - S3: a full-object ``ChecksumSHA256`` (asked for with ``ChecksumMode=ENABLED``) gives ``sha256:<hex>``,
      method ``"s3-sha256"``; else a single-part ETag is the MD5 of the bytes (unless the object is encrypted with
      SSE-KMS or SSE-C, where it is not), ``md5:<hex>``, method ``"s3-etag-md5"``. A multipart ETag (``<hex>-N``)
      and a composite checksum (``...-N``) hash the parts, not the bytes: ``None``, the object is streamed.
    - GCS: ``md5Hash`` (absent on composite objects) gives ``md5:<hex>``, method ``"gcs-md5"``. ``crc32c`` is a
      32-bit check, not an identity: never used.
    """
    protocol = _protocol(fs)
    if protocol in ("s3", "s3a"):
        etag = str(info.get("ETag") or "").strip('"')
        if not _MD5_HEX.match(etag) or not hasattr(fs, "call_s3"):
            return None  # multipart upload, or no usable ETag
        bucket, key, version = fs.split_path(path)
        head = fs.call_s3(
            "head_object",
            Bucket=bucket,
            Key=key,
            ChecksumMode="ENABLED",
            **({"VersionId": version} if version else {}),
        )
        sha256 = str(head.get("ChecksumSHA256") or "")
        if sha256 and "-" not in sha256 and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            return f"sha256:{base64.b64decode(sha256).hex()}", "s3-sha256"
        etag = str(head.get("ETag") or "").strip('"')
        encrypted = head.get("SSECustomerAlgorithm") or str(head.get("ServerSideEncryption", "")).startswith("aws:kms")
        if _MD5_HEX.match(etag) and not encrypted:
            return f"md5:{etag}", "s3-etag-md5"
        return None
    if protocol in ("gs", "gcs") and info.get("md5Hash"):
        return f"md5:{base64.b64decode(str(info['md5Hash'])).hex()}", "gcs-md5"
    return None


def rehash(location: str, algorithm: str) -> str:
    """Digest the bytes of one local file or fsspec URL with ``algorithm`` (``blake3``, ``sha256`` or ``md5``).

    For comparing a digest a store computed (``md5:`` from an ETag, ``sha256:`` from S3) with the same file
    elsewhere: the drift check uses it when a recorded and a current digest were made by different methods.

    Raises:
        CaptureError: the file cannot be read.
        ValueError: the algorithm is unknown.
    """
    hasher: Hasher = hashlib.md5(usedforsecurity=False) if algorithm == "md5" else new_hasher(algorithm)
    try:
        if _URL_RE.match(location):
            import fsspec

            with fsspec.open(location, "rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
                    hasher.update(chunk)
        else:
            with open(location, "rb", buffering=0) as handle:
                _hash_handle(handle, 0, hasher)
    except Exception as exc:  # backend-specific error types
        raise CaptureError(f"cannot read {location!r}: {type(exc).__name__}: {exc}") from exc
    return f"{algorithm}:{hasher.hexdigest()}"


def _protocol(fs: Any) -> str:
    protocol = fs.protocol
    return str(protocol if isinstance(protocol, str) else protocol[0])


# --- numpy ---------------------------------------------------------------------------------------------------------


class _Feed:
    """Writes self-delimiting records into a hasher: a 1-byte tag, a little-endian u64 length, the payload.

    Every piece of structure goes through a record, so two different inputs cannot produce the same stream.
    """

    def __init__(self, hasher: Hasher) -> None:
        self.hasher = hasher

    def record(self, tag: bytes, payload: bytes | memoryview) -> None:
        self.begin(tag, memoryview(payload).nbytes)
        self.hasher.update(payload)

    def text(self, tag: bytes, value: str) -> None:
        self.record(tag, value.encode("utf-8", "surrogatepass"))

    def begin(self, tag: bytes, length: int) -> None:
        """Start a record whose ``length`` payload bytes the caller writes next with :meth:`raw`."""
        self.hasher.update(tag + _U64.pack(length))

    def raw(self, data: bytes | memoryview) -> None:
        self.hasher.update(data)


def _fingerprint_ndarray(array: np.ndarray[Any, Any], algorithm: str) -> Fingerprint:
    if array.dtype.hasobject:
        raise CaptureError(
            f"cannot fingerprint a numpy array of dtype {array.dtype}: object arrays hold pointers, not data; "
            "convert it to a fixed-size dtype, or wrap it in a pandas Series"
        )
    hasher = new_hasher(algorithm)
    feed = _Feed(hasher)
    feed.text(b"T", "modelver.ndarray/1")
    _feed_array(feed, array, canonical_nan=False)
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=int(array.nbytes),
        files=1,
        kind="ndarray",
        method=f"{algorithm}-ndarray",
        uri="<numpy.ndarray>",
        summary={"shape": [int(n) for n in array.shape], "dtype": str(array.dtype)},
    )


def _feed_array(feed: _Feed, array: np.ndarray[Any, Any], *, canonical_nan: bool) -> None:
    """Feed dtype, shape and C-order bytes of a fixed-size array, block by block."""
    blocks = _c_order_blocks(array) if array.size else iter(())
    _feed_blocks(feed, array.dtype, array.shape, blocks, canonical_nan=canonical_nan)


def _feed_blocks(
    feed: _Feed,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    blocks: Iterator[np.ndarray[Any, Any]],
    *,
    canonical_nan: bool,
) -> None:
    """Feed an array given as dtype, shape and the 1-d blocks of its C-order values."""
    import numpy as np

    # dtype.str of a structured dtype is just "|V<n>": descr keeps the field names and types.
    feed.record(b"d", canonical_json(dtype.str if dtype.fields is None else dtype.descr))
    feed.record(b"s", canonical_json([int(n) for n in shape]))
    feed.begin(b"v", dtype.itemsize * math.prod(shape))
    nan_view = None
    if canonical_nan and dtype.kind in "fc":
        nan_view = np.dtype(f"{dtype.byteorder}f{dtype.itemsize // (2 if dtype.kind == 'c' else 1)}")
    for block in blocks:
        if nan_view is not None:
            floats = block.view(nan_view)
            missing = np.isnan(floats)
            if missing.any():
                floats = floats.copy()
                floats[missing] = np.nan  # one bit pattern for every NaN: NaN payloads are not data in pandas
                block = floats.view(dtype)
        feed.raw(_as_bytes(block))


def _c_order_blocks(array: np.ndarray[Any, Any]) -> Iterator[np.ndarray[Any, Any]]:
    """Yield 1-d contiguous blocks whose concatenation is ``array`` in C order, copying at most a block at a time."""
    import numpy as np

    if array.ndim == 0:
        array = array.reshape(1)
    if array.flags.c_contiguous:
        flat = array.reshape(-1)
        step = max(1, _BLOCK_BYTES // max(1, array.itemsize))
        for start in range(0, flat.shape[0], step):
            yield flat[start : start + step]
        return
    row_bytes = max(1, array.itemsize * math.prod(array.shape[1:]))
    rows = max(1, _BLOCK_BYTES // row_bytes)
    for start in range(0, array.shape[0], rows):
        yield np.ascontiguousarray(array[start : start + rows]).reshape(-1)


def _as_bytes(block: np.ndarray[Any, Any]) -> memoryview:
    import numpy as np

    try:
        return block.view(np.uint8).data  # no copy; datetime64 has no buffer format of its own
    except (TypeError, ValueError):  # zero-size items cannot be viewed as uint8
        return memoryview(block.tobytes())


# --- Arrow tables and polars frames --------------------------------------------------------------------------------


def _fingerprint_arrow(source: pa.Table | pa.RecordBatch, algorithm: str) -> Fingerprint:
    import pyarrow as pa

    table = source if isinstance(source, pa.Table) else pa.Table.from_batches([source])
    hasher = new_hasher(algorithm)
    feed = _Feed(hasher)
    feed.text(b"T", "modelver.arrow/1")
    feed.text(b"n", f"{table.num_rows},{table.num_columns}")
    # Names, types and nullability in column order; schema metadata (pandas' index notes...) is not content.
    feed.record(b"l", canonical_json([[field.name, str(field.type), field.nullable] for field in table.schema]))
    for column in table.columns:
        _feed_arrow_column(feed, column.chunks, algorithm)
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=int(table.nbytes),
        files=1,
        kind="table",
        method=f"{algorithm}-arrow",
        uri="<pyarrow.Table>" if isinstance(source, pa.Table) else "<pyarrow.RecordBatch>",
        summary={
            "rows": table.num_rows,
            "columns": list(table.column_names),
            "dtypes": [str(field.type) for field in table.schema],
        },
    )


def _fingerprint_polars(source: pl.DataFrame | pl.Series, algorithm: str) -> Fingerprint:
    import polars as pl

    try:
        import pyarrow  # noqa: F401 - polars' to_arrow() needs it
    except ImportError as exc:
        raise CaptureError("cannot fingerprint a polars object without pyarrow; pip install pyarrow") from exc
    hasher = new_hasher(algorithm)
    feed = _Feed(hasher)
    if isinstance(source, pl.DataFrame):
        feed.text(b"T", "modelver.polars-frame/1")
        feed.text(b"n", f"{source.height},{source.width}")
        feed.record(b"l", canonical_json([[name, str(dtype)] for name, dtype in source.schema.items()]))
        for column in source.get_columns():
            _feed_arrow_column(feed, _polars_chunks(column), algorithm)
        kind, uri = "dataframe", "<polars.DataFrame>"
        summary: dict[str, Any] = {
            "rows": source.height,
            "columns": list(source.columns),
            "dtypes": [str(dtype) for dtype in source.dtypes],
        }
    else:
        feed.text(b"T", "modelver.polars-series/1")
        feed.text(b"n", str(len(source)))
        feed.record(b"l", canonical_json([source.name, str(source.dtype)]))
        _feed_arrow_column(feed, _polars_chunks(source), algorithm)
        kind, uri = "series", "<polars.Series>"
        summary = {"rows": len(source), "name": source.name, "dtype": str(source.dtype)}
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=int(source.estimated_size()),
        files=1,
        kind=kind,
        method=f"{algorithm}-polars",
        uri=uri,
        summary=summary,
    )


def _polars_chunks(series: pl.Series) -> list[pa.Array]:
    """The Arrow arrays of a polars Series, chunk by chunk, without copying (polars' own Arrow export)."""
    import polars as pl

    if series.dtype == pl.Object:
        raise CaptureError(
            f"cannot fingerprint polars column {series.name!r} of dtype Object: it holds Python objects with no stable "
            "encoding; cast it to a polars type"
        )
    exported = series.to_arrow()
    return list(exported.chunks) if hasattr(exported, "chunks") else [exported]


class _Streams:
    """Named sub-digests of one column: each stream is the concatenation of its pieces over all chunks.

    That is what makes a column's digest independent of its chunking: ``[1, 2] + [3]`` and ``[1, 2, 3]`` feed the
    same bytes to every stream. A stream that received no bytes is left out, so "no chunk" equals "an empty chunk".
    """

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.streams: dict[str, tuple[Hasher, list[int]]] = {}

    def update(self, name: str, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")  # hashers take bytes, not typed buffers
        if not view.nbytes:
            return
        if name not in self.streams:
            self.streams[name] = (new_hasher(self.algorithm), [0])
        hasher, count = self.streams[name]
        hasher.update(view)
        count[0] += view.nbytes

    def feed_into(self, feed: _Feed) -> None:
        for name in sorted(self.streams):
            hasher, count = self.streams[name]
            feed.text(b"S", f"{name}|{count[0]}|{hasher.hexdigest()}")


def _feed_arrow_column(feed: _Feed, chunks: list[pa.Array], algorithm: str) -> None:
    """Feed one Arrow column, given as its chunks, as streams of canonical bytes (see :class:`_Streams`)."""
    streams = _Streams(algorithm)
    encoder: list[_ElementEncoder] = []  # made on first need: nested fallbacks only
    for chunk in chunks:
        # Zero-copy slices of a bounded number of rows: the copies made to zero null slots or canonicalize NaNs stay
        # small whatever the chunk size, and slicing cannot change the digest (that is the property above).
        for start in range(0, len(chunk), _ARROW_ROWS_PER_BLOCK):
            _feed_arrow_array(streams, "", chunk.slice(start, _ARROW_ROWS_PER_BLOCK), encoder)
    streams.feed_into(feed)


def _feed_arrow_array(streams: _Streams, path: str, array: pa.Array, encoder: list[_ElementEncoder]) -> None:
    """Add one Arrow array's values to the streams under ``path``, by type (module docstring)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if len(array) == 0 or pa.types.is_null(kind):
        return  # nothing but a count, and counts are in the header (rows) or the parent's lengths stream
    if isinstance(kind, pa.ExtensionType):
        _feed_arrow_array(streams, path, array.storage, encoder)
        return
    if pa.types.is_dictionary(kind):
        # The values, not the codes: two chunks may carry different dictionaries for the same data.
        _feed_arrow_array(streams, path, array.dictionary_decode(), encoder)
        return
    for is_view, plain in (("is_string_view", pa.large_string()), ("is_binary_view", pa.large_binary())):
        if getattr(pa.types, is_view, lambda _: False)(kind):
            array, kind = array.cast(plain), plain
    nulls = array.null_count
    mask = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    streams.update(f"{path}m", mask.view(np.uint8).data)  # one byte per value, whatever the bitmap's offset
    if pa.types.is_boolean(kind):
        values = pc.fill_null(array, False).to_numpy(zero_copy_only=False)
        streams.update(f"{path}v", np.asarray(values, dtype=np.bool_).view(np.uint8).data)
    elif _fixed_width(kind):
        width = kind.bit_width // 8
        raw = np.frombuffer(array.buffers()[1], dtype=np.uint8, count=len(array) * width, offset=array.offset * width)
        if nulls or pa.types.is_floating(kind):
            raw = raw.reshape(len(array), width).copy()
            raw[mask] = 0  # what sits under a null slot is not data
            if pa.types.is_floating(kind):
                floats = raw.view(f"<f{width}").reshape(-1)
                floats[np.isnan(floats)] = np.nan  # one NaN bit pattern, as for pandas
        streams.update(f"{path}v", _as_bytes(raw.reshape(-1)))
    elif (
        pa.types.is_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_string(kind)
        or (pa.types.is_large_binary(kind))
    ):
        if nulls:
            array = pc.fill_null(
                array, pa.scalar(b"" if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) else "", type=kind)
            )
        offset_type = np.int64 if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind) else np.int32
        offsets = np.frombuffer(
            array.buffers()[1],
            dtype=offset_type,
            count=len(array) + 1,
            offset=array.offset * np.dtype(offset_type).itemsize,
        )
        streams.update(f"{path}l", np.diff(offsets).astype("<i8").data)  # int64 lengths: string == large_string
        data = array.buffers()[2]
        if data is not None:
            streams.update(f"{path}d", memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    elif (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_map(kind)
        or (pa.types.is_fixed_size_list(kind))
    ):
        lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
        streams.update(f"{path}l", np.asarray(lengths, dtype="<i8").data)
        _feed_arrow_array(streams, f"{path}[", array.flatten(), encoder)  # the values of non-null lists only
    elif pa.types.is_struct(kind):
        for index, child in enumerate(array.flatten()):  # children with the struct's offset and nulls applied
            _feed_arrow_array(streams, f"{path}{index}.", child, encoder)
    else:  # unions, run-end encoded, ...: element by element through the pandas element encoding
        if not encoder:
            try:
                encoder.append(_ElementEncoder())
            except ImportError as exc:
                raise CaptureError(f"cannot fingerprint an Arrow column of type {kind} without pandas") from exc
        encode = encoder[0].encode
        values = array.to_pylist()
        for start in range(0, len(values), _ELEMENTS_PER_BLOCK):
            streams.update(f"{path}o", b"".join(map(encode, values[start : start + _ELEMENTS_PER_BLOCK])))


def _fixed_width(kind: pa.DataType) -> bool:
    """Whether values of this Arrow type are fixed-size byte strings in one buffer (numbers, times, decimals...)."""
    import pyarrow as pa

    if pa.types.is_nested(kind) or pa.types.is_boolean(kind):
        return False
    try:
        bits = kind.bit_width
    except ValueError:  # variable width
        return False
    return bool(bits) and bits % 8 == 0


# --- pandas --------------------------------------------------------------------------------------------------------


def _fingerprint_pandas(source: pd.DataFrame | pd.Series, algorithm: str) -> Fingerprint:
    import pandas as pd

    hasher = new_hasher(algorithm)
    feed = _Feed(hasher)
    encoder = _ElementEncoder()
    if isinstance(source, pd.DataFrame):
        rows, columns = source.shape
        feed.text(b"T", "modelver.dataframe/1")
        feed.text(b"n", f"{rows},{columns}")
        _feed_index(feed, encoder, source.index)
        _feed_labels(feed, encoder, source.columns)
        for position in range(columns):
            _feed_column(feed, encoder, source.iloc[:, position])
        kind = "dataframe"
        summary: dict[str, Any] = {
            "rows": rows,
            "columns": [str(label) for label in source.columns],
            "dtypes": [str(dtype) for dtype in source.dtypes],
        }
        size = int(source.memory_usage(index=True, deep=True).sum())
    else:
        feed.text(b"T", "modelver.series/1")
        feed.text(b"n", str(len(source)))
        feed.record(b"N", encoder.encode(source.name))
        _feed_index(feed, encoder, source.index)
        _feed_column(feed, encoder, source)
        kind = "series"
        summary = {"rows": len(source), "name": None if source.name is None else str(source.name)}
        summary["dtype"] = str(source.dtype)
        size = int(source.memory_usage(index=True, deep=True))
    return Fingerprint(
        digest=f"{algorithm}:{hasher.hexdigest()}",
        size_bytes=size,
        files=1,
        kind=kind,
        method=f"{algorithm}-pandas",
        uri="<pandas.DataFrame>" if kind == "dataframe" else "<pandas.Series>",
        summary=summary,
    )


def _feed_index(feed: _Feed, encoder: _ElementEncoder, index: pd.Index) -> None:
    import numpy as np
    import pandas as pd

    feed.record(b"i", encoder.encode(list(index.names)))
    if isinstance(index, pd.RangeIndex):
        # A RangeIndex and an int64 Index with the same values are the same index, so it goes in exactly as
        # _feed_column would feed the int64 values, generated a block at a time instead of materialized whole.
        dtype = np.dtype(np.int64)
        feed.text(b"t", str(dtype))
        per_block = _BLOCK_BYTES // dtype.itemsize
        blocks = (
            index.start + index.step * np.arange(offset, min(offset + per_block, len(index)), dtype=dtype)
            for offset in range(0, len(index), per_block)
        )
        _feed_blocks(feed, dtype, (len(index),), blocks, canonical_nan=False)
        return
    for level in range(index.nlevels):
        _feed_column(feed, encoder, pd.Series(index.get_level_values(level), copy=False))


def _feed_labels(feed: _Feed, encoder: _ElementEncoder, columns: pd.Index) -> None:
    feed.record(b"c", encoder.encode(list(columns.names)))
    feed.record(b"l", encoder.encode(columns.tolist()))


def _feed_column(feed: _Feed, encoder: _ElementEncoder, column: pd.Series) -> None:
    """Feed one column's dtype and values; the encoding depends on the dtype only, never on memory layout."""
    import numpy as np
    import pandas as pd

    dtype = column.dtype
    feed.text(b"t", str(dtype))
    if isinstance(dtype, np.dtype):
        if dtype.kind in "biufcmM":
            _feed_array(feed, column.to_numpy(), canonical_nan=True)
        else:
            _feed_objects(feed, encoder, column.to_numpy(dtype=object))
    elif isinstance(dtype, pd.CategoricalDtype):
        feed.text(b"o", "ordered" if dtype.ordered else "unordered")
        _feed_column(feed, encoder, pd.Series(dtype.categories, copy=False))
        _feed_array(feed, column.cat.codes.to_numpy(), canonical_nan=False)
    elif isinstance(dtype, pd.DatetimeTZDtype):
        # UTC instants; the zone is already in str(dtype).
        _feed_array(feed, column.dt.tz_convert(None).to_numpy(), canonical_nan=False)
    elif dtype.kind in "biuf" and isinstance(getattr(dtype, "numpy_dtype", None), np.dtype):
        # Nullable (masked or Arrow) numbers: the mask, then the values with a fixed filler where missing.
        numpy_dtype = dtype.numpy_dtype
        _feed_array(feed, column.isna().to_numpy(dtype=bool), canonical_nan=False)
        filler = False if numpy_dtype.kind == "b" else 0
        _feed_array(feed, column.to_numpy(dtype=numpy_dtype, na_value=filler), canonical_nan=True)
    else:
        _feed_objects(feed, encoder, column.to_numpy(dtype=object))


def _feed_objects(feed: _Feed, encoder: _ElementEncoder, values: np.ndarray[Any, Any]) -> None:
    feed.text(b"e", str(len(values)))
    encode = encoder.encode
    for start in range(0, len(values), _ELEMENTS_PER_BLOCK):
        feed.raw(b"".join(map(encode, values[start : start + _ELEMENTS_PER_BLOCK])))


class _ElementEncoder:
    """Encodes one Python value as a self-delimiting, type-tagged byte string (see the module docstring)."""

    def __init__(self) -> None:
        import numpy as np
        import pandas as pd

        self.np = np
        self.pd = pd

    def encode(self, value: object) -> bytes:
        # The common cases first, by exact type: this runs once per element of every object column.
        if type(value) is str:
            return _tagged(b"s", value.encode("utf-8", "surrogatepass"))
        if type(value) is int:
            return _tagged(b"i", str(value).encode())
        if type(value) is float:
            return _float(value)
        if value is None:
            return b"N"
        return self._encode_other(value)

    def _encode_other(self, value: object) -> bytes:
        np, pd = self.np, self.pd
        if value is pd.NA:
            return b"A"
        if value is pd.NaT:
            return b"T"
        # bool before int (bool is an int); numpy scalars hash like the Python value of the same kind.
        if isinstance(value, (bool, np.bool_)):
            return b"?1" if value else b"?0"
        if isinstance(value, str):
            return _tagged(b"s", str(value).encode("utf-8", "surrogatepass"))
        if isinstance(value, (bytes, bytearray, np.bytes_)):
            return _tagged(b"b", bytes(value))
        if isinstance(value, (np.datetime64, np.timedelta64)):
            # timedelta64 is a numpy integer: test it first. The unit is part of the value.
            return _tagged(b"m", f"{value.dtype.str}|{value}".encode())
        if isinstance(value, (int, np.integer)):
            return _tagged(b"i", str(int(value)).encode())
        if isinstance(value, np.longdouble):
            return _tagged(b"g", str(value).encode())  # float() would drop precision
        if isinstance(value, (float, np.floating)):
            return _float(float(value))
        if isinstance(value, (complex, np.complexfloating)):
            number = complex(value)
            return b"c" + _float(number.real) + _float(number.imag)
        if isinstance(value, decimal.Decimal):
            return _tagged(b"D", str(value).encode())
        if isinstance(value, pd.Timestamp):  # a datetime subclass, with nanoseconds
            return _tagged(b"P", f"{value.isoformat()}|{value.tz}|{value.unit}".encode())
        if isinstance(value, dt.datetime):
            return _tagged(b"t", f"{value.isoformat()}|{value.tzinfo}|{value.fold}".encode())
        if isinstance(value, dt.date):
            return _tagged(b"a", value.isoformat().encode())
        if isinstance(value, dt.time):
            return _tagged(b"h", f"{value.isoformat()}|{value.tzinfo}|{value.fold}".encode())
        if isinstance(value, pd.Timedelta):  # a timedelta subclass, with nanoseconds
            return _tagged(b"Q", f"{value.value}|{value.unit}".encode())
        if isinstance(value, dt.timedelta):
            return _tagged(b"q", f"{value.days},{value.seconds},{value.microseconds}".encode())
        if isinstance(value, pd.Period):
            return _tagged(b"p", f"{value}|{value.freqstr}".encode())
        if isinstance(value, pd.Interval):
            return _tagged(b"I", value.closed.encode()) + self.encode(value.left) + self.encode(value.right)
        if isinstance(value, tuple):
            return self._sequence(b"(", value)
        if isinstance(value, list):
            return self._sequence(b"[", value)
        if isinstance(value, dict):
            # Equal dicts hash equal whatever their insertion order: pairs sorted by their encodings.
            pairs = sorted(self.encode(key) + self.encode(item) for key, item in value.items())
            return b"{" + _U64.pack(len(pairs)) + b"".join(pairs)
        if isinstance(value, (set, frozenset)):
            members = sorted(self.encode(member) for member in value)
            return b"<" + _U64.pack(len(members)) + b"".join(members)
        if isinstance(value, np.ndarray):
            return self._array(value)
        raise CaptureError(
            f"cannot fingerprint a pandas value of type {_type_name(value)}: it has no stable encoding; "
            "supported element types: str, bytes, bool, int, float, complex, Decimal, None, NaN, pd.NA, NaT, "
            "date/time/datetime/timedelta, pandas Timestamp/Timedelta/Period/Interval, numpy scalars and arrays, "
            "and lists, tuples, dicts and sets of these"
        )

    def _sequence(self, tag: bytes, items: Iterable[object]) -> bytes:
        parts = [self.encode(item) for item in items]
        return tag + _U64.pack(len(parts)) + b"".join(parts)

    def _array(self, array: np.ndarray[Any, Any]) -> bytes:
        shape = [int(n) for n in array.shape]
        if array.dtype.hasobject:
            return _tagged(b"O", canonical_json(shape)) + self._sequence(b"[", array.reshape(-1).tolist())
        dtype = array.dtype.str if array.dtype.fields is None else array.dtype.descr
        header = _tagged(b"#", canonical_json([dtype, shape]))
        return header + _tagged(b"v", self.np.ascontiguousarray(array).tobytes())


def _tagged(tag: bytes, payload: bytes) -> bytes:
    return tag + _U64.pack(len(payload)) + payload


def _float(value: float) -> bytes:
    if value != value:  # NaN: one tag, whatever its sign or payload
        return b"n"
    return b"f" + _F64.pack(value)


def _type_name(value: object) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
