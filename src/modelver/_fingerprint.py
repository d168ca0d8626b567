"""Content fingerprints of data sources: files, directories, fsspec URLs, bytes, numpy arrays, pandas tables.

A fingerprint names *content*, not where it lives or how it is laid out in memory: the same bytes under two paths,
a directory listed in any order, a DataFrame before and after ``copy()`` all get the same digest.

Files and bytes
    The plain digest of the bytes (``method`` is the algorithm, e.g. ``"blake3"``), so a file and the same bytes
    in memory fingerprint alike.

Directories (``method`` ``"<algorithm>-tree"``)
    Every regular file below the root is hashed (in parallel threads: blake3 releases the GIL). The tree digest is
    the digest of the canonical JSON (:func:`modelver._serde.canonical_json`) of::

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
    - an unreadable file or subdirectory raises :class:`~modelver.errors.CaptureError`.

    Remote filesystems (``s3://``, ``memory://``...) have no symlinks; every object below the prefix is hashed.

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

numpy and pandas are imported only when the source is one of their objects, so importing modelver stays fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import os
import re
import stat
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._digest import CHUNK_BYTES, DEFAULT_ALGORITHM, digest_bytes, digest_chunks, digest_file, new_hasher
from ._redact import strip_url_credentials
from ._serde import canonical_json
from ._statcache import FileKey, StatCache, file_key, trusted
from .errors import CaptureError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ._digest import Hasher

__all__ = ["TREE_TYPE", "Fingerprint", "fingerprint", "tree_json"]

TREE_TYPE = "modelver.tree/1"
_SUPPORTED = (
    "supported sources: a local file or directory path (str or os.PathLike), an fsspec URL "
    "(memory://, s3://, gs://, file://, ...), bytes, a numpy ndarray, a pandas DataFrame or Series"
)
# An fsspec URL: a protocol of two or more characters (so "C:\\data" stays a Windows path), then "://" or "::".
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+(://|::)")
# Arrays are fed to the hasher in blocks of about this size, so a non-contiguous view never gets copied whole.
_BLOCK_BYTES = 16 << 20
# Object columns are encoded this many elements at a time: bounded memory, few hasher calls.
_ELEMENTS_PER_BLOCK = 1 << 14
_T = TypeVar("_T")
# Below this many bytes to read, no progress bar is worth drawing.
_PROGRESS_THRESHOLD_BYTES = 256 << 20
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")


@attrs.frozen
class Fingerprint:
    """Content fingerprint of a data source.

    Attributes:
        digest: ``"<algorithm>:<hex>"``; for a directory, the tree digest (see the module docstring).
        size_bytes: total size in bytes (for pandas objects, the deep in-memory size).
        files: number of files hashed; 1 for a file or an in-memory object.
        kind: ``"file"``, ``"directory"``, ``"ndarray"``, ``"dataframe"``, ``"series"`` or ``"bytes"``.
        method: how the digest was computed: ``"blake3"``, ``"blake3-tree"``, ``"blake3-ndarray"``,
            ``"blake3-pandas"`` (with the chosen algorithm in place of blake3).
        uri: absolute local path, the URL as given, or ``"<numpy.ndarray>"``, ``"<pandas.DataFrame>"``,
            ``"<pandas.Series>"``, ``"<bytes>"`` for in-memory data.
        summary: for arrays ``{"shape", "dtype"}``; for frames ``{"rows", "columns", "dtypes"}`` (column labels
            and dtypes as strings, in column order); for series ``{"rows", "name", "dtype"}``.
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
            or ``memoryview``; a numpy ``ndarray``; a pandas ``DataFrame`` or ``Series``.
        algorithm: digest algorithm, ``"blake3"`` (default) or ``"sha256"``.
        progress: show a progress bar on stderr: ``None`` (default) when stderr is a terminal and more than
            256 MiB must be read, ``True`` always, ``False`` never.
        cache: reuse digests of files and objects that have not changed since they were last hashed
            (:mod:`modelver._statcache`); ``False`` reads everything.

    Returns:
        The fingerprint; see the module docstring for what each kind of source hashes.

    Raises:
        CaptureError: the source type is not supported, the path does not exist, a file cannot be read, an array
            has object dtype, or a pandas column holds an element type that has no stable encoding.
        ValueError: ``algorithm`` is unknown.
    """
    new_hasher(algorithm)  # fail fast on an unknown algorithm, before touching any data
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _fingerprint_bytes(source, algorithm)
    options = _Options(algorithm, progress, StatCache() if cache else None)
    if isinstance(source, str) and _URL_RE.match(source):
        return _fingerprint_url(source, options)
    if isinstance(source, (str, os.PathLike)):
        return _fingerprint_local(os.fspath(source), os.fspath(source), options)
    # Decide from the class's modules before importing anything, so numpy/pandas load only for their own objects.
    packages = {cls.__module__.partition(".")[0] for cls in type(source).__mro__}
    try:
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
    algorithm = options.algorithm
    uri = os.path.abspath(path)
    try:
        info = os.stat(path)  # follows a symlink: the source itself is resolved
    except FileNotFoundError as exc:
        raise CaptureError(f"cannot fingerprint {shown!r}: no such file or directory") from exc
    except OSError as exc:
        raise CaptureError(f"cannot fingerprint {shown!r}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(info.st_mode):
        digest, size = _digest_local_files([(uri, uri)], shown, options)[uri]
        return Fingerprint(digest=digest, size_bytes=size, files=1, kind="file", method=algorithm, uri=uri)
    if stat.S_ISDIR(info.st_mode):
        files, skipped = walk_tree(uri, shown)  # an absolute root gives absolute paths: no abspath per file
        entries = _digest_local_files(files, shown, options)
        return _tree_fingerprint(entries, skipped, uri, algorithm)
    raise CaptureError(f"cannot fingerprint {shown!r}: not a regular file or directory; {_SUPPORTED}")


def _digest_local_files(files: list[tuple[str, str]], shown: str, options: _Options) -> dict[str, tuple[str, int]]:
    """Digest ``(name, absolute path)`` pairs: from the stat cache when unchanged, else read in parallel."""
    keys: dict[str, FileKey] = {}
    for _, path in files:
        try:
            keys[path] = file_key(os.stat(path))
        except OSError as exc:
            raise CaptureError(f"cannot fingerprint {shown!r}: cannot read {path!r}: {exc.strerror or exc}") from exc
    cache = options.cache if options.cache is not None and files and trusted(files[0][1]) else None
    known = cache.lookup_files(options.algorithm, keys) if cache is not None else {}
    missing = [path for _, path in files if path not in known]
    with _progress_bar(options.progress, sum(keys[p][2] for p in missing), shown) as advance:

        def digest(batch: list[str]) -> list[tuple[str, int]]:
            results = [_digest_local_file(path, shown, options.algorithm) for path in batch]
            advance(sum(size for _, size in results))
            return results

        # Small files go to the threads in batches: one task per file costs more than hashing a few KiB.
        batches = _batches(missing, [keys[p][2] for p in missing])
        hashed = [result for batch in _parallel(digest, batches) for result in batch]
        fresh = dict(zip(missing, hashed, strict=True))
    if cache is not None and fresh:
        cache.store_files(options.algorithm, ((p, keys[p], d) for p, (d, _) in fresh.items()))
    return {name: known.get(path) or fresh[path] for name, path in files}


def _batches(paths: list[str], sizes: list[int], target_bytes: int = 8 << 20, max_files: int = 256) -> list[list[str]]:
    """Group paths, in order, into batches of about ``target_bytes`` or ``max_files``."""
    batches: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for path, size in zip(paths, sizes, strict=True):
        current.append(path)
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
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    lock = threading.Lock()
    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
    ) as bar:
        task = bar.add_task(f"fingerprinting {label}", total=total_bytes)

        def advance(size: int) -> None:
            with lock:
                bar.advance(task, size)

        yield advance


def _digest_local_file(path: str, shown: str, algorithm: str) -> tuple[str, int]:
    try:
        return digest_file(path, algorithm)
    except OSError as exc:
        raise CaptureError(f"cannot fingerprint {shown!r}: cannot read {path!r}: {exc.strerror or exc}") from exc


def walk_tree(root: str, shown: str) -> tuple[list[tuple[str, str]], list[str]]:
    """List ``(relative POSIX path, path to read)`` of the files below ``root`` and the skipped entries with reasons.

    This is the one symlink policy of modelver (module docstring), shared by data fingerprints and
    ``Run.log_artifact``: nothing outside ``root`` is read. ``shown`` is how errors name the source.

    Raises:
        CaptureError: a directory or file cannot be read, or a name is not valid UTF-8.
    """
    real_root = os.path.realpath(root)
    files: list[tuple[str, str]] = []
    skipped: list[str] = []
    stack: list[tuple[str, str]] = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as listing:
                children = list(listing)
        except OSError as exc:
            where = prefix.rstrip("/") or "."
            raise CaptureError(f"cannot fingerprint {shown!r}: cannot list {where!r}: {exc.strerror or exc}") from exc
        for entry in children:
            rel = prefix + entry.name
            _check_name(rel, shown)
            try:
                if entry.is_symlink():
                    reason = _symlink_skip_reason(entry.path, real_root)
                    if reason is None:
                        files.append((rel, entry.path))
                    else:
                        skipped.append(f"{rel}: {reason}")
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    files.append((rel, entry.path))
                else:
                    skipped.append(f"{rel}: not a regular file")
            except OSError as exc:
                raise CaptureError(f"cannot fingerprint {shown!r}: cannot read {rel!r}: {exc.strerror or exc}") from exc
    return files, sorted(skipped)


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


def _check_name(rel: str, shown: str) -> None:
    # A name that is not valid UTF-8 (POSIX allows any bytes) has no canonical JSON form; refuse it by name rather
    # than hash an escaped spelling that another OS would spell differently.
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CaptureError(
            f"cannot fingerprint {shown!r}: the file name {rel!r} is not valid UTF-8; rename it"
        ) from exc


def _tree_fingerprint(entries: dict[str, tuple[str, int]], skipped: list[str], uri: str, algorithm: str) -> Fingerprint:
    return Fingerprint(
        digest=digest_bytes(tree_json(entries), algorithm),
        size_bytes=sum(size for _, size in entries.values()),
        files=len(entries),
        kind="directory",
        method=f"{algorithm}-tree",
        uri=uri,
        entries=dict(sorted(entries.items())),
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
        digest, size = _digest_remote_file(fs, path, info, url, options)
        return Fingerprint(
            digest=digest, size_bytes=size, files=1, kind="file", method=algorithm, uri=strip_url_credentials(url)
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
        _check_name(rel, url)
        files.append((rel, name))
    hashed = _parallel(lambda item: _digest_remote_file(fs, item[1], found[item[1]], url, options), files)
    entries = {rel: result for (rel, _), result in zip(files, hashed, strict=True)}
    return _tree_fingerprint(entries, [], strip_url_credentials(url), algorithm)


def _change_marker(info: Mapping[str, Any]) -> str | None:
    """The backend's own marker of an object's content version, when it has one (S3, GCS, Azure)."""
    for field in ("VersionId", "ETag", "etag", "generation", "md5Hash", "crc32c", "content_md5"):
        value = info.get(field)
        if value:
            return f"{field}={value}"
    return None


def _digest_remote_file(fs: Any, path: str, info: Mapping[str, Any], url: str, options: _Options) -> tuple[str, int]:
    marker = _change_marker(info)
    size = int(info.get("size") or 0)
    object_url = f"{_protocol(fs)}://{path}"
    if marker is not None and options.cache is not None:
        cached = options.cache.lookup_object(options.algorithm, object_url, marker, size)
        if cached is not None:
            return cached, size
    try:
        with fs.open(path, "rb") as handle:
            digest, read = digest_chunks(iter(lambda: handle.read(CHUNK_BYTES), b""), options.algorithm)
    except Exception as exc:  # as above: backend-specific error types
        raise CaptureError(f"cannot fingerprint {url!r}: cannot read {path!r}: {type(exc).__name__}: {exc}") from exc
    if marker is not None and options.cache is not None and read == size:
        options.cache.store_object(options.algorithm, object_url, marker, size, digest)
    return digest, read


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
