"""What does ``@modelver.versioned`` cost?

Prints, measured in this run on this machine, on a local store in a temporary directory:

- the per-call overhead of ``@versioned`` on a trivial function ``add(a, b)``: the median time of a decorated call
  minus that of the plain call, for a cache hit (the usual case: same arguments), a miss (new arguments every call)
  and ``cache=False``. Every call writes one call record (a create-if-absent write with fsync), which dominates;
- the time of a cache hit on a step whose output is a 100 MB float64 array, against ``numpy.load`` of the same
  array from a ``.npy`` file in the same directory (the page cache warm for both), as a ratio. The hit reads the
  blob, checks its digest (blake3), and parses the ``.npy`` bytes without pickle.

Run: ``.venv/bin/python benchmarks/steps.py`` (about 30 s; ``--quick`` for a 20 MB array and fewer calls).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def median_seconds(call: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``call()`` in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    quick = "--quick" in sys.argv
    calls = 100 if quick else 400
    megabytes = 20 if quick else 100
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MODELVER_STORE"] = str(Path(tmp) / "store")
        os.environ["MODELVER_CACHE"] = str(Path(tmp) / "cache")
        import modelver

        def add(a: int, b: int) -> int:
            return a + b

        cached = modelver.versioned(name="add-cached")(add)
        uncached = modelver.versioned(name="add-uncached", cache=False)(add)
        cached(1, 2)  # the first call computes the code identity and stores the output
        counter = iter(range(10**9))

        plain = median_seconds(lambda: add(1, 2), calls)
        hit = median_seconds(lambda: cached(1, 2), calls)
        miss = median_seconds(lambda: cached(next(counter), 2), calls)
        off = median_seconds(lambda: uncached(1, 2), calls)
        print(f"trivial function add(a, b), median of {calls} calls, local store in {tmp}")
        print(f"  plain call                 {plain * 1e6:10.2f} us")
        print(f"  @versioned, cache hit      {hit * 1e6:10.2f} us   overhead {(hit - plain) * 1e3:.3f} ms per call")
        print(f"  @versioned, cache miss     {miss * 1e6:10.2f} us   overhead {(miss - plain) * 1e3:.3f} ms per call")
        print(f"  @versioned(cache=False)    {off * 1e6:10.2f} us   overhead {(off - plain) * 1e3:.3f} ms per call")

        size = megabytes * 1_000_000 // 8
        array = np.random.default_rng(0).random(size)

        @modelver.versioned(name="big")
        def big(n: int) -> np.ndarray:
            return array[:n]

        big(size)  # stores the output
        npy = Path(tmp) / "same.npy"
        np.save(npy, array)
        repeat = 5 if quick else 9
        load = median_seconds(lambda: np.load(npy), repeat)
        reuse = median_seconds(lambda: big(size), repeat)
        assert np.array_equal(big(size), array)
        print(f"cache hit on a {array.nbytes / 1e6:.0f} MB float64 output, median of {repeat}")
        print(f"  numpy.load of the .npy     {load * 1e3:10.1f} ms")
        print(f"  @versioned cache hit       {reuse * 1e3:10.1f} ms   ratio {reuse / load:.2f}x numpy.load")


if __name__ == "__main__":
    main()
