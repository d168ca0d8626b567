"""Several local files to one store at once: small files in parallel under a memory budget, large ones in turn.

Why: a directory artifact (a sharded checkpoint, a tokenizer folder) is many files, and each small upload to an
object store is mostly waiting (an existence check, then a PUT). Sending several at once hides that wait, as a
multipart upload hides it inside one large file. Large files are sent one after the other because each is already
parallel inside (:mod:`modelver.store.multipart`), and small files are read whole into memory before they are sent,
so the files in flight hold at most :data:`BUDGET_BYTES` between them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from modelver.store.multipart import MULTIPART_MIN_BYTES
from modelver.threads import leave_signals_to_main

__all__ = ["BUDGET_BYTES", "FILE_WORKERS", "put_many"]

#: Small files uploaded at once.
FILE_WORKERS = 4

#: Bytes of small files read but not yet sent, at most (a file larger than this waits until it is alone).
BUDGET_BYTES = 32 << 20


class _Budget:
    """A counting budget of bytes: ``take(n)`` waits until ``n`` bytes (at most the whole budget) are free."""

    __slots__ = ("_free", "_total", "_turn")

    def __init__(self, total: int) -> None:
        self._total = total
        self._free = total
        self._turn = threading.Condition()

    def take(self, count: int) -> int:
        count = min(count, self._total)
        with self._turn:
            self._turn.wait_for(lambda: self._free >= count)
            self._free -= count
        return count

    def give(self, count: int) -> None:
        with self._turn:
            self._free += count
            self._turn.notify_all()


def put_many(
    put: Callable[[str], tuple[str, int]], sources: Sequence[str], *, workers: int = FILE_WORKERS
) -> list[tuple[str, int]]:
    """Run ``put`` on every path of ``sources``; return their ``(digest, size in bytes)`` in the same order.

    Files of at least :data:`~modelver.store.multipart.MULTIPART_MIN_BYTES` go one at a time, smaller ones on
    ``workers`` threads within :data:`BUDGET_BYTES`. With ``workers`` 1 every file is sent in turn, in order.

    Raises:
        Exception: the first error ``put`` raised (files not yet started are not sent; the ones already stored stay,
            as orphans for ``gc`` until a version references them).
    """
    sizes = [_size(path) for path in sources]
    results: list[tuple[str, int] | None] = [None] * len(sources)
    small = [i for i, size in enumerate(sizes) if size < MULTIPART_MIN_BYTES]
    if workers > 1 and len(small) > 1:
        budget = _Budget(BUDGET_BYTES)
        failed = threading.Event()

        def one(index: int) -> tuple[str, int] | None:
            if failed.is_set():
                return None
            held = budget.take(sizes[index])
            try:
                return put(sources[index])
            except BaseException:
                failed.set()
                raise
            finally:
                budget.give(held)

        with ThreadPoolExecutor(workers, "modelver-file", leave_signals_to_main) as pool:
            futures: list[tuple[int, Future[tuple[str, int] | None]]] = [(i, pool.submit(one, i)) for i in small]
        for index, future in futures:
            results[index] = future.result()
    for index, path in enumerate(sources):
        if results[index] is None:
            results[index] = put(path)
    return [result for result in results if result is not None]


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # ``put`` reports the error in its own words
