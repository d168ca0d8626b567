"""What does the racy-file rule (``modelver.data.files``) cost, as ratios against the same fingerprint without it?

In one run, with the page cache warm and the stat cache off (every byte is read each time), medians of seven
runs, the two sides alternating:
- a settled tree (every file older than the racy window): with the rule / without it (goal <= 1.05: the rule adds
  one clock read per file and nothing else),
- the same tree just rewritten (every file inside the racy window): with the rule / without it (the rule waits for
  the clock to tick once before the first read and stats every file again one tick after the reads; goal <= 1.5),
- one big file just written: with the rule / without it (one tick of waiting, and one re-stat after a tick),
- the same big file with a future mtime: with the rule / without it (it is read twice; expected about 2).

"Without it" is the same code with :func:`_settled_stat` reduced to one ``fstat`` and :func:`_restat_recent` to a
no-op, patched in this process: the baseline shares the machine and the moment with the measurement.

Run: ``.venv/bin/python benchmarks/racy_files.py [--small N] [--big-mb N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import modelver
from modelver.data import files
from modelver.store.statcache import RACY_WINDOW_S


@contextlib.contextmanager
def rule_off() -> Iterator[None]:
    """Fingerprint as before the racy-file rule: one fstat before and after each read, nothing else."""
    settled, restat = files._settled_stat, files._restat_recent
    files._settled_stat = lambda fd: (0, os.fstat(fd))  # type: ignore[assignment]
    files._unsettled_ns, unsettled = (lambda key, now_ns: -1), files._unsettled_ns  # type: ignore[assignment]
    files._restat_recent = lambda paths, results, shown, algorithm: results  # type: ignore[assignment]
    try:
        yield
    finally:
        files._settled_stat, files._restat_recent, files._unsettled_ns = settled, restat, unsettled


def once(prepare: Callable[[], None], path: Path) -> float:
    """Seconds of one ``fingerprint(path)``, after ``prepare()`` (not timed)."""
    prepare()
    start = time.perf_counter()
    modelver.fingerprint(path, cache=False)
    return time.perf_counter() - start


def ratio(prepare: Callable[[], None], path: Path, runs: int = 7) -> tuple[float, float, float]:
    """``(with the rule / without, median seconds with, median seconds without)``; the two alternate run by run,
    so both see the same machine."""
    with_rule, without = [], []
    for _ in range(runs):
        with_rule.append(once(prepare, path))
        with rule_off():
            without.append(once(prepare, path))
    best_with, best_without = statistics.median(with_rule), statistics.median(without)
    return best_with / best_without, best_with, best_without


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="small files in the tree (2-6 KiB each)")
    parser.add_argument("--big-mb", type=int, default=256, help="size of the big file in MiB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelver-bench-racy-") as scratch:
        root = Path(scratch)
        tree, big = root / "tree", root / "big.bin"
        contents = [os.urandom(2048 + i % 4096) for i in range(args.small)]
        tree.mkdir()

        def write_tree() -> None:
            for i, data in enumerate(contents):
                (tree / f"{i}.bin").write_bytes(data)

        chunk = os.urandom(1 << 20)

        def write_big() -> None:
            with open(big, "wb") as handle:
                for _ in range(args.big_mb):
                    handle.write(chunk)

        def future_big() -> None:
            future_ns = time.time_ns() + 3600 * 1_000_000_000
            os.utime(big, ns=(future_ns, future_ns))

        write_tree()
        write_big()
        fresh_tree = ratio(write_tree, tree)
        fresh_big = ratio(write_big, big)
        future = ratio(future_big, big)
        write_tree()
        time.sleep(RACY_WINDOW_S + 0.5)  # every file now older than the racy window
        settled = ratio(lambda: None, tree)
    print(f"settled tree of {args.small} files, with / without the rule: {settled[0]:.3f}  (goal <= 1.05)")
    print(f"just-written tree, with / without: {fresh_tree[0]:.3f}  ({fresh_tree[1]:.4f} s vs {fresh_tree[2]:.4f} s)")
    print(f"just-written {args.big_mb} MiB file, with / without: {fresh_big[0]:.3f}")
    print(f"{args.big_mb} MiB file with a future mtime, with / without: {future[0]:.3f}  (read twice: about 2)")


if __name__ == "__main__":
    main()
