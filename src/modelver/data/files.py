"""Fingerprints of local files and directories: reading, re-reading racy files, and the stat cache.

Owns hashing a local path (a file, or every file a :mod:`.walk` finds below a directory, in threads), the
retry of files that change while they are read, and the use of :mod:`modelver.store.statcache` so unchanged
files are not read again; also the progress bar and the thread map that :mod:`.remote` shares.

Files that change while they are hashed
    Each file is ``fstat``-ed before and after it is read; if its size, mtime or ctime moved, or fewer or more
    bytes came than its size said, it is read again, up to three times, then a
    :class:`~modelver.errors.CaptureError` names it. A file's times only move when the clock the kernel stamps
    them with has moved (a tick of a few milliseconds on Linux), so a write that lands within the same tick as the
    last one changes nothing ``fstat`` shows. Hence git's racy-file rule: a read only counts when the file's
    mtime and ctime are strictly older than that clock read just before the ``fstat`` (:func:`_settled_stat` waits
    up to :data:`_SETTLE_LIMIT_NS` for the tick to pass); then any write during the read stamps a newer time and
    is seen. A file whose times stay too recent (a future mtime, a filesystem with whole-second times) must give
    the same digest under the same key twice in a row. A ``write`` call stamps the file when it starts, so one
    that began before the read and is still copying bytes during it (a writer descheduled mid-call) leaves no trace
    in the read's own ``fstat`` calls: files changed within the racy window are stat-ed again a tick after the reads
    (:func:`_restat_recent`, one sleep for a whole directory), which catches a writer that keeps writing. A lone
    write that stalls across the whole read, or stores through a shared ``mmap``, stamps nothing more and cannot
    be seen by any stat-based check (git and DVC have the same limit).

How a directory is read
    Big files (over :data:`_READ_BUFFER_BYTES`) go first, :data:`_BIG_FILE_STREAMS` at a time, each streamed
    through one buffer that blake3 hashes over every core; small files go in batches to the other threads, each
    in one ``read`` on a bare descriptor (:func:`_hash_small`, the same checks as above; a file that fails one is
    read again by the full rule). The threads are few (:data:`_HASH_THREADS`): small files are GIL-bound.

Unchanged local files are not read again (:mod:`modelver.store.statcache`)
    A file whose ``(device, inode, size, mtime_ns, ctime_ns)`` match the cache gets its cached digest; a directory
    whose walk finds exactly the names and keys of its last snapshot gets its cached fingerprint whole.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from modelver.data.fingerprint import SUPPORTED, Fingerprint, tree_fingerprint
from modelver.data.walk import Walk, scan
from modelver.errors import CaptureError
from modelver.store import statcache
from modelver.store.digest import new_hasher
from modelver.store.statcache import RACY_KEY, FileKey, StatCache, TreeSnapshot, file_key, is_racy, pack_keys, trusted
from modelver.threads import leave_signals_to_main

if TYPE_CHECKING:
    from modelver.store.digest import Hasher

__all__ = ["Options", "fingerprint_local", "hash_handle", "parallel", "progress_bar"]

_T = TypeVar("_T")
# Below this many bytes to read, no progress bar is worth drawing.
_PROGRESS_THRESHOLD_BYTES = 256 << 20
# Local files up to this size are read in one call; bigger ones stream through one buffer of this size.
_READ_BUFFER_BYTES = 4 << 20
# A file that keeps changing while it is read is read at most this many times, then reported.
_HASH_ATTEMPTS = 3
# CLOCK_REALTIME_COARSE: the clock Linux stamps file times with (include/uapi/linux/time.h); Python has no name.
_LINUX_COARSE_CLOCK = 5
_ON_LINUX = sys.platform.startswith("linux")
# Elsewhere the stamping clock may lag time.time_ns() by a tick (15.6 ms on Windows): times this close are racy.
_OTHER_CLOCK_SLACK_NS = 32_000_000
# A filesystem whose times are whole seconds (FAT, some network mounts) may stamp up to 2 s behind the clock.
_WHOLE_SECOND_SLACK_NS = 2_000_000_000
# The longest a read waits for a freshly written file's times to become older than the clock.
_SETTLE_LIMIT_NS = 50_000_000
# The shortest sleep while waiting for it.
_SETTLE_STEP_NS = 1_000_000
# After reading files changed within the racy window, wait this long (s) and stat them again: 2.5 Linux ticks at 250 Hz.
_RESTAT_AFTER_S = 0.01
# Threads hashing a directory: small files are GIL-bound Python around short reads, so threads beyond the cores (and
# beyond about 4 anywhere) only contend for the GIL; each big file is hashed by blake3 over every core already. On
# the shared 2-CPU machine of docs/performance.md, 2 and 3 threads were within the noise of each other.
_HASH_THREADS = max(2, min(os.cpu_count() or 1, 4))
# Big files are hashed this many at a time (one per thread, one after another in each): enough to overlap a read
# with hashing, few enough that their buffers do not thrash the CPU caches.
_BIG_FILE_STREAMS = 2
# Small files are opened as bare descriptors (no file object); O_CLOEXEC: not inherited by a concurrent subprocess.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


@attrs.frozen
class Options:
    """How one ``fingerprint()`` call hashes: digest algorithm, progress bar (``None``: when slow), stat cache."""

    algorithm: str
    progress: bool | None
    cache: StatCache | None


def fingerprint_local(path: str, shown: str, options: Options) -> Fingerprint:
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
    raise CaptureError(f"cannot fingerprint {shown!r}: not a regular file or directory; {SUPPORTED}")


def _fingerprint_file(path: str, key: FileKey, shown: str, options: Options) -> Fingerprint:
    algorithm = options.algorithm
    cache = options.cache if options.cache is not None and trusted(path) else None
    known = cache.lookup_files(algorithm, {path: key}) if cache is not None else {}
    if path in known:
        digest, size = known[path]
    else:
        with progress_bar(options.progress, key[2], shown) as advance:
            hashed = [_hash_file(path, shown, algorithm)]
            digest, size, key = _restat_recent(lambda _: path, hashed, shown, algorithm)[0]
            advance(size)
        if cache is not None:
            cache.store_files(algorithm, [(path, key, digest)])
    return Fingerprint(digest=digest, size_bytes=size, files=1, kind="file", method=algorithm, uri=path)


def _fingerprint_directory(root: str, shown: str, options: Options) -> Fingerprint:
    """Fingerprint a local directory: one walk that stats every file, then only what the stat cache cannot answer.

    The hot path, nothing changed since the last fingerprint, is one walk, one snapshot row read and two byte-string
    comparisons (:class:`~modelver.store.statcache.TreeSnapshot`): no per-file query, no file read, no listing rebuilt.
    """
    algorithm = options.algorithm
    walk = scan(root, shown)
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
        return tree_fingerprint(before, walk.skipped, root, algorithm, snapshot.digest, snapshot.total())

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
    with progress_bar(options.progress, sum(keys[i][2] for i in unique), shown) as advance:

        def digest(batch: list[int]) -> list[tuple[str, int, FileKey]]:
            results, small_bytes = [], 0
            for i in batch:
                if keys[i][2] <= _READ_BUFFER_BYTES:
                    results.append(_hash_small(walk.path(i), shown, algorithm))
                    small_bytes += results[-1][1]
                else:  # a big file moves the bar on its own
                    results.append(_hash_file(walk.path(i), shown, algorithm))
                    advance(results[-1][1])
            advance(small_bytes)
            return results

        # Small files go to the threads in batches: one task per file costs more than hashing a few KiB. Big ones
        # go to _BIG_FILE_STREAMS threads, one file at a time each (blake3 spreads each buffer over every core).
        batches = _batches(unique, [keys[i][2] for i in unique])
        order = [i for batch in batches for i in batch]  # big files first: not the order of ``unique``
        results = [result for batch in parallel(digest, batches, _HASH_THREADS) for result in batch]
        results = _restat_recent(lambda j: walk.path(order[j]), results, shown, algorithm)
        hashed = dict(zip(order, results, strict=True))
    for i in missing:
        digest_, size, key = hashed[first_of[keys[i][0], keys[i][1]]]
        known[i] = (digest_, size)
        keys[i] = key  # the key the bytes were read under, not the walk's
    names = walk.names
    entries = {names[i]: known[i] for i in sorted(range(count), key=names.__getitem__)}
    result = tree_fingerprint(entries, walk.skipped, root, algorithm)
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


def _trusted_devices(walk: Walk) -> set[int]:
    """The devices under the walk whose stat fields the cache may trust (a tree can span mounts)."""
    devices = walk.keys[0::5]
    return {device for device in set(devices) if trusted(walk.path(devices.index(device)))}


def _batches(items: list[int], sizes: list[int], target_bytes: int = 8 << 20, max_files: int = 256) -> list[list[int]]:
    """Group items into batches for the hashing threads; every item is in exactly one batch.

    First the big files (over :data:`_READ_BUFFER_BYTES`), dealt round-robin into at most :data:`_BIG_FILE_STREAMS`
    batches; then the others, in order, in batches of about ``target_bytes`` or ``max_files``.
    """
    big = [item for item, size in zip(items, sizes, strict=True) if size > _READ_BUFFER_BYTES]
    batches: list[list[int]] = [big[start::_BIG_FILE_STREAMS] for start in range(min(len(big), _BIG_FILE_STREAMS))]
    current: list[int] = []
    current_bytes = 0
    for item, size in zip(items, sizes, strict=True):
        if size > _READ_BUFFER_BYTES:
            continue
        current.append(item)
        current_bytes += size
        if current_bytes >= target_bytes or len(current) >= max_files:
            batches.append(current)
            current, current_bytes = [], 0
    if current:
        batches.append(current)
    return batches


@contextlib.contextmanager
def progress_bar(enabled: bool | None, total_bytes: int, label: str) -> Iterator[Callable[[int], None]]:
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
    then reported: a digest of bytes from two versions of a file names neither. A read whose file times are not
    older than the moment it began (the module docstring's racy-file rule) only counts when the next read gives
    the same digest under the same key.

    Raises:
        CaptureError: the file cannot be read, or it kept changing.
    """
    unconfirmed: tuple[str, int, FileKey] | None = None
    for _ in range(_HASH_ATTEMPTS):
        try:
            with open(path, "rb", buffering=0) as handle:
                start_ns, before = _settled_stat(handle.fileno())
                hasher = new_hasher(algorithm)
                size = hash_handle(handle, before.st_size, hasher)
                after = os.fstat(handle.fileno())
        except OSError as exc:
            raise CaptureError(f"cannot fingerprint {shown!r}: cannot read {path!r}: {exc.strerror or exc}") from exc
        key = file_key(before)
        if size != before.st_size or key != file_key(after):
            unconfirmed = None
            continue
        result = (f"{algorithm}:{hasher.hexdigest()}", size, key)
        if _unsettled_ns(key, start_ns) < 0 or result == unconfirmed:
            return result
        unconfirmed = result
    raise CaptureError(
        f"cannot fingerprint {shown!r}: {path!r} changed while it was being hashed, {_HASH_ATTEMPTS} times; "
        "fingerprint it when nothing is writing to it"
    )


def _hash_small(path: str, shown: str, algorithm: str) -> tuple[str, int, FileKey]:
    """:func:`_hash_file` for a file the walk found small, in one ``read`` on a bare descriptor when nothing moves.

    The same checks as :func:`_hash_file` (settled times, the same key and the whole size before and after the
    read), on ``os.open``/``os.read`` instead of a file object: a tree of small files spends more time on
    per-file Python than on hashing. A file that fails any check, or cannot be opened, goes to :func:`_hash_file`,
    which reads it again from the start with the full retry and confirmation rules (and names the error).
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return _hash_file(path, shown, algorithm)
    try:
        start_ns = _stamp_clock_ns()  # before the fstat, as in _settled_stat
        before = os.fstat(fd)
        key = file_key(before)
        expected = before.st_size
        # Times not yet older than the clock (written this tick), or a file that grew past the walk's size:
        # _hash_file waits for the tick, or streams it.
        if _unsettled_ns(key, start_ns) >= 0 or expected > _READ_BUFFER_BYTES:
            return _hash_file(path, shown, algorithm)
        data = _read_fd(fd, expected + 1)  # +1 sees a file that grew since the fstat
        after = os.fstat(fd)
    except OSError:
        return _hash_file(path, shown, algorithm)
    finally:
        os.close(fd)
    if len(data) != expected or key != file_key(after):
        return _hash_file(path, shown, algorithm)
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return f"{algorithm}:{hasher.hexdigest()}", expected, key


def _read_fd(fd: int, count: int) -> bytes:
    """Read up to ``count`` bytes from a descriptor (one ``read``; a short one is retried by :func:`_hash_file`)."""
    return os.read(fd, count)


def _restat_recent(
    path_of: Callable[[int], str], results: list[tuple[str, int, FileKey]], shown: str, algorithm: str
) -> list[tuple[str, int, FileKey]]:
    """Git's racy-file rule after the reads: stat files changed within the racy window again a tick later.

    A ``write`` call stamps the file when it starts; one that started before a read and was still copying bytes
    during it leaves no trace in the read's two ``fstat`` calls, but a writer that keeps writing stamps the file
    again. So every file whose times are within :data:`~modelver.store.statcache.RACY_WINDOW_S` of now is stat-ed
    again after one sleep of :data:`_RESTAT_AFTER_S` (one sleep for all of them), and those whose key moved are
    read again, up to :data:`_HASH_ATTEMPTS` rounds.

    Args:
        path_of: the path of the file of ``results[i]`` (asked only for the few recent files, not for all).
        results: ``(digest, size in bytes, key read under)`` per file, from :func:`_hash_file`.
        shown: how the caller named the source, for messages.
        algorithm: the digest algorithm.

    Returns:
        The results, with the files that moved read again.

    Raises:
        CaptureError: a file kept changing, or cannot be read any more.
    """
    results = list(results)
    # is_racy() inlined: one comparison per file instead of a call (a tree of small files has tens of thousands).
    cutoff_ns = time.time_ns() - int(statcache.RACY_WINDOW_S * 1e9)
    keys = list(map(itemgetter(2), results))
    # The usual case, nothing recent, is answered by two C-level maxima before any per-file Python runs.
    recent = bool(keys) and max(max(map(itemgetter(3), keys)), max(map(itemgetter(4), keys))) >= cutoff_ns
    suspects = [i for i, key in enumerate(keys) if key[3] >= cutoff_ns or key[4] >= cutoff_ns] if recent else []
    for _ in range(_HASH_ATTEMPTS):
        if not suspects:
            return results
        _wait_a_tick()
        moved = [i for i in suspects if _current_key(path_of(i)) != results[i][2]]
        again = parallel(lambda i: _hash_file(path_of(i), shown, algorithm), moved)
        for i, result in zip(moved, again, strict=True):
            results[i] = result
        suspects = moved
    if not suspects:
        return results
    raise CaptureError(
        f"cannot fingerprint {shown!r}: {path_of(suspects[0])!r} changed while it was being hashed, "
        f"{_HASH_ATTEMPTS} times; fingerprint it when nothing is writing to it"
    )


def _wait_a_tick() -> None:
    """Sleep long enough for a writer that is still busy to stamp the file again (:func:`_restat_recent`)."""
    time.sleep(_RESTAT_AFTER_S)


def _current_key(path: str) -> FileKey | None:
    """The file's key now; ``None`` if it cannot be stat-ed (then it is read again, and that read says why)."""
    try:
        return file_key(os.stat(path))
    except OSError:
        return None


def _stamp_clock_ns() -> int:
    """Now, by the clock file times are stamped with (or as near to it as this platform allows)."""
    return time.clock_gettime_ns(_LINUX_COARSE_CLOCK) if _ON_LINUX else time.time_ns()


def _unsettled_ns(key: FileKey, now_ns: int) -> int:
    """How long until a file with this key is safely older than ``now_ns`` (ns); negative once it is.

    Safe means a write stamped at or after ``now_ns`` would give a different mtime or ctime than the key's.
    """
    mtime_ns, ctime_ns = key[3], key[4]
    if mtime_ns % 1_000_000_000 == 0 and ctime_ns % 1_000_000_000 == 0:
        slack = _WHOLE_SECOND_SLACK_NS
    else:
        slack = 0 if _ON_LINUX else _OTHER_CLOCK_SLACK_NS
    return max(mtime_ns, ctime_ns) + slack - now_ns


def _settled_stat(fd: int) -> tuple[int, os.stat_result]:
    """``fstat`` an open file once its times are older than the stamping clock; return ``(clock in ns, stat)``.

    The clock is read before the ``fstat``, so any write after that moment stamps a time the returned stat does not
    have. A file written in the current tick is waited for (at most :data:`_SETTLE_LIMIT_NS` in all); one whose
    times stay too recent is returned as it is, and :func:`_hash_file` confirms its digest with a second read.
    """
    deadline_ns = time.monotonic_ns() + _SETTLE_LIMIT_NS
    while True:
        now_ns = _stamp_clock_ns()
        info = os.fstat(fd)
        wait_ns = _unsettled_ns(file_key(info), now_ns) + 1
        if wait_ns <= 0 or time.monotonic_ns() + wait_ns > deadline_ns:
            return now_ns, info
        # A coarse clock moves a whole tick at a time: never spin on nanosecond sleeps while it catches up.
        time.sleep(max(wait_ns, _SETTLE_STEP_NS) / 1e9)


def hash_handle(handle: Any, expected: int, hasher: Hasher) -> int:
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


def parallel(function: Callable[[Any], _T], items: list[Any], max_workers: int | None = None) -> list[_T]:
    """Map ``function`` over ``items`` in threads, in order; the first error cancels what has not started.

    ``max_workers``: how many threads (``None``: the :class:`~concurrent.futures.ThreadPoolExecutor` default).
    """
    if len(items) <= 1:
        return [function(item) for item in items]
    executor = ThreadPoolExecutor(max_workers, "modelver-hash", leave_signals_to_main)
    try:
        return list(executor.map(function, items))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
