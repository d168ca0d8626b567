"""Several local files to one store at once, within a memory budget.

Why: a directory artifact (a sharded checkpoint, a tokenizer folder) is many files, and each upload to an object
store is mostly waiting (an existence check, a PUT, or the create and complete calls of a multipart upload).
Sending several at once hides that wait. Each file in flight holds memory (a small file is read whole before it is
sent; a large one keeps a few parts in flight, :mod:`modelver.store.multipart`), so each reserves its size, at most
the whole of :data:`BUDGET_BYTES`, before it starts: many small files go together, a few mid-sized shards go
together, and a file as large as the budget goes alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from modelver.threads import leave_signals_to_main

__all__ = ["BUDGET_BYTES", "FILE_WORKERS", "put_many"]

#: Files uploaded at once, at most.
FILE_WORKERS = 4

#: Bytes the files in flight may reserve between them (a file reserves its size, at most the whole budget).
BUDGET_BYTES = 64 << 20


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

    Up to ``workers`` files at once, each reserving its size (at most :data:`BUDGET_BYTES`) until it is stored.
    With ``workers`` 1 every file is sent in turn, in order.

    Raises:
        Exception: the first error ``put`` raised (files not yet started are not sent; the ones already stored stay,
            as orphans for ``gc`` until a version references them).

    Example:
        >>> put_many(store.put_file, ["shard-0.bin", "shard-1.bin"])  # doctest: +SKIP
        [('blake3:...', 33554432), ('blake3:...', 33554432)]
    """
    sizes = [_size(path) for path in sources]
    results: list[tuple[str, int] | None] = [None] * len(sources)
    if workers > 1 and len(sources) > 1:
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
            futures: list[tuple[int, Future[tuple[str, int] | None]]] = [
                (i, pool.submit(one, i)) for i in range(len(sources))
            ]
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
