"""How fast are data fingerprints, against the limits of this machine?

Generates (once, under $BENCH_DIR or /tmp/modelver-bench-fingerprint) a directory of about 2 GB: a few big files
and 20,000 small ones. Then prints, in one run, with the page cache warm:
- our throughput as a ratio to a raw single-pass blake3 of the same bytes (goal >= 0.9, issue 20),
- the ratio to hashlib MD5 (DVC's approach: one thread, one file at a time),
- the time of a second, unchanged fingerprint (stat cache), the median of five, as a ratio to its floor on this
  machine (goal <= 1.5, issue 20): a bare ``os.walk`` of the tree and one ``os.stat`` per file, which no correct
  cache can skip (a file's content can change without its directory changing); and, for reference, to a bare
  ``os.stat`` of a list of paths known in advance, and to the first pass. That is on an *aged* tree, every file
  last changed more than the racy window (``RACY_WINDOW_S``, 2 s) before: the realistic case, data written earlier.
- the same on a *fresh* tree: every file re-stamped (``os.utime``, as if just written; the bytes do not change)
  right before a fingerprint that fills the cache and the one measured after it. Files changed within the racy
  window are never cached (git's racy-file rule, :mod:`modelver.store.statcache`), so this one reads everything
  again, by design; it is printed so that the figure above is not mistaken for it,
- the peak memory above the baseline (goal: < 200 MB whatever the file sizes).

Run: ``.venv/bin/python benchmarks/fingerprint.py [--small N] [--big-mb N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import blake3

import modelver
from modelver.store.statcache import RACY_WINDOW_S


def make_tree(root: Path, big_files: int, big_mb: int, small_files: int) -> None:
    """Write the benchmark tree unless it is already there (random bytes, so nothing compresses)."""
    marker = root / ".complete"
    if marker.exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    chunk = os.urandom(1 << 20)
    for i in range(big_files):
        with open(root / f"big-{i}.bin", "wb") as handle:
            for j in range(big_mb):
                handle.write(chunk[j % 7 :] + chunk[: j % 7])
    small = root / "small"
    for i in range(small_files):
        directory = small / f"{i % 100:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{i}.txt").write_bytes(os.urandom(2048 + i % 4096))
    marker.touch()


def files_of(root: Path) -> list[Path]:
    """Every regular file under ``root`` except the marker."""
    return [p for p in root.rglob("*") if p.is_file() and p.name != ".complete"]


def raw_blake3(paths: list[Path]) -> float:
    """Seconds for one blake3 pass over every file, the fastest way the library offers (mmap, all threads)."""
    start = time.perf_counter()
    for path in paths:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        if path.stat().st_size > 8 << 20:
            hasher.update_mmap(str(path))
        else:
            hasher.update(path.read_bytes())
        hasher.hexdigest()
    return time.perf_counter() - start


def stat_floor(paths: list[Path]) -> float:
    """Seconds for one bare ``os.stat`` of every file: the least an unchanged fingerprint must do."""
    names = [str(path) for path in paths]
    start = time.perf_counter()
    for name in names:
        os.stat(name)
    return time.perf_counter() - start


def walk_stat_floor(root: Path) -> float:
    """Seconds for a bare ``os.walk`` of ``root`` plus one ``os.stat`` per file: the floor of any stat cache."""
    start = time.perf_counter()
    for directory, _, names in os.walk(root):
        for name in names:
            os.stat(os.path.join(directory, name))
    return time.perf_counter() - start


def restamp(paths: list[Path]) -> float:
    """Stamp every file with the time now, as if the tree had just been written; return when (``time.time()``)."""
    for path in paths:
        os.utime(path)
    return time.time()


def md5_pass(paths: list[Path]) -> float:
    """Seconds for DVC's way: hashlib MD5, one file at a time, one thread."""
    start = time.perf_counter()
    for path in paths:
        hasher = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                hasher.update(chunk)
        hasher.hexdigest()
    return time.perf_counter() - start


# VmHWM (Linux), not ru_maxrss: the latter carries over exec the peak of the forked copy of this (big) process.
PEAK_PROBE = """
import sys, psutil, modelver
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
baseline = psutil.Process().memory_info().rss
modelver.fingerprint(sys.argv[1], cache=False)
print(hwm() - baseline)
"""


def peak_above_baseline(root: Path) -> int:
    """Peak RSS of a fresh process fingerprinting ``root``, minus its RSS after importing modelver (bytes)."""
    out = subprocess.run([sys.executable, "-c", PEAK_PROBE, str(root)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def main() -> None:
    """Build the tree, warm the cache, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big-files", type=int, default=4)
    parser.add_argument("--big-mb", type=int, default=450)
    parser.add_argument("--small", type=int, default=20_000)
    args = parser.parse_args()
    root = Path(os.environ.get("BENCH_DIR", "/tmp/modelver-bench-fingerprint"))
    make_tree(root, args.big_files, args.big_mb, args.small)
    paths = files_of(root)
    total = sum(p.stat().st_size for p in paths)
    # Files written in the last RACY_WINDOW_S are never cached (modelver.store.statcache): let a fresh tree age first.
    newest = max(max(p.stat().st_mtime, p.stat().st_ctime) for p in paths)
    time.sleep(max(0.0, newest + RACY_WINDOW_S + 0.5 - time.time()))
    raw_blake3(paths)  # warm the page cache

    with tempfile.TemporaryDirectory() as cache:
        os.environ["MODELVER_CACHE"] = cache
        md5 = md5_pass(paths)
        raws, passes = [], []
        for _ in range(3):  # alternate, so both see the same machine load; the median of three of each
            raws.append(raw_blake3(paths))
            start = time.perf_counter()
            first = modelver.fingerprint(root, cache=False)
            passes.append(time.perf_counter() - start)
        raw, ours = statistics.median(raws), statistics.median(passes)
        start = time.perf_counter()
        modelver.fingerprint(root)  # fills the stat cache (files are older than the racy window)
        filling = time.perf_counter() - start
        seconds = []
        for _ in range(5):
            start = time.perf_counter()
            second = modelver.fingerprint(root)
            seconds.append(time.perf_counter() - start)
            assert first.digest == second.digest
        cached = sorted(seconds)[2]
        floor = min(stat_floor(paths) for _ in range(3))
        walk_floor = statistics.median(walk_stat_floor(root) for _ in range(5))
        # Last, as it leaves the tree fresh (the next run waits for it to age, above).
        stamped = restamp(paths)
        modelver.fingerprint(root)  # the racy files are hashed but not cached
        filled_age = time.time() - stamped  # past RACY_WINDOW_S (a slow, loaded run), the fill cached them after all
        start = time.perf_counter()
        fresh_second = modelver.fingerprint(root)
        fresh = time.perf_counter() - start
        fresh_age = time.time() - stamped
        assert first.digest == fresh_second.digest
    peak = peak_above_baseline(root)

    gib = total / 2**30
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    print(f"tree: {len(paths)} files, {gib:.2f} GiB, {os.cpu_count()} CPUs, page cache warm, load average {load}")
    print(f"raw blake3 (mmap, all threads)    {raw:7.2f} s  {gib / raw:6.2f} GiB/s")
    print(f"hashlib md5 (DVC's way)           {md5:7.2f} s  {gib / md5:6.2f} GiB/s")
    print(f"modelver.fingerprint (no cache)   {ours:7.2f} s  {gib / ours:6.2f} GiB/s")
    print(f"  ratio to raw blake3             {raw / ours:7.2f}   (goal >= 0.9)")
    print(f"  ratio to md5                    {md5 / ours:7.2f}   (x faster than DVC's approach)")
    print(f"first fingerprint filling cache   {filling:7.2f} s")
    print(f"second, unchanged, AGED tree      {cached:7.3f} s  {cached / walk_floor:.2f}x the floor (goal <= 1.5)")
    print(f"  (every file last changed > {RACY_WINDOW_S:g} s before: data written earlier; the stat cache answers)")
    print(f"  floor: os.walk + os.stat        {walk_floor:7.3f} s  (median of five)")
    print(f"  ratio to the first pass         {cached / ours:7.3f}")
    print(f"  fastest of the five             {min(seconds):7.3f} s  ratio {min(seconds) / ours:.3f}")
    print(f"  floor: one os.stat per file     {floor:7.3f} s  ratio {floor / ours:.3f} to the first")
    print(
        f"second, unchanged, FRESH tree     {fresh:7.3f} s  {fresh / walk_floor:.2f}x the floor, "
        f"{fresh / ours:.2f}x the first pass"
    )
    if filled_age <= RACY_WINDOW_S:
        print(f"  (cache filled {filled_age:.1f} s after the files were stamped: racy, so read again by design)")
    else:
        print(
            f"  (NOT a fresh measurement: the cache fill ended {filled_age:.1f} s after the stamp, past the racy "
            f"window, so it cached the files; the run ended {fresh_age:.1f} s after it; rerun on a quieter machine)"
        )
    print(f"peak RSS above baseline           {peak / 2**20:7.0f} MiB (goal < 200; a fresh process)")


if __name__ == "__main__":
    main()
