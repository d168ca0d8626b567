"""How much time does ``track()`` add to a training run?

Prints, measured in this run on this machine:
- the wall time of an empty ``with modelver.track(...)`` block (capture + publish to a local store),
- the time of ``import modelver`` (fresh interpreter, minus a bare interpreter start),
- a bare ``importlib.metadata`` scan of installed distributions (what pip-free environment capture costs),
- modelver's own environment capture and code capture (they run in a background thread during the block),
- ``pip_api.installed_distributions()`` (runs pip in a subprocess), the reason it is kept off the hot path.

Run: ``.venv/bin/python benchmarks/track_overhead.py`` (``make bench``). Target: empty block well under 100 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from importlib import metadata


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in milliseconds over ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def subprocess_ms(code: str, repeat: int = 7) -> float:
    """Median wall time in ms of a fresh ``python -c code``."""
    return median_ms(lambda: subprocess.run([sys.executable, "-c", code], check=True), repeat)


def main() -> None:
    """Measure and print the figures."""
    import modelver
    from modelver.capture.code import capture_code
    from modelver.capture.environment import capture_environment

    bare = subprocess_ms("pass")
    with_import = subprocess_ms("import modelver")
    import_ms = with_import - bare

    def metadata_scan() -> dict[str, str]:
        return {d.metadata["Name"]: d.version for d in metadata.distributions()}

    scan_ms = median_ms(metadata_scan, 10)
    env_ms = median_ms(capture_environment, 10)
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        digest = modelver.store.digest.digest_bytes(data)
        blobs[digest] = data
        return digest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", modelver.CaptureWarning)
        code_ms = median_ms(lambda: capture_code(put_blob=put), 10)
        with tempfile.TemporaryDirectory() as tmp:

            def empty_block() -> None:
                with modelver.track("bench", store=tmp):
                    pass

            track_ms = median_ms(empty_block, 20)

    try:
        import pip_api

        pip_ms = median_ms(pip_api.installed_distributions, 3)
    except ImportError:
        pip_ms = float("nan")

    packages = len(metadata_scan())
    print(f"machine: {sys.platform}, Python {sys.version.split()[0]}, {packages} distributions installed")
    print(f"{'measurement':<52}{'ms':>9}{'x empty track()':>17}")
    rows = [
        ("empty track() block (capture + publish, local store)", track_ms),
        ("import modelver (fresh interpreter, minus bare start)", import_ms),
        ("bare importlib.metadata scan (Name + version)", scan_ms),
        ("modelver environment capture (dist-info names)", env_ms),
        ("modelver code capture (git, this checkout)", code_ms),
        ("pip_api.installed_distributions() (pip subprocess)", pip_ms),
    ]
    for label, ms in rows:
        print(f"{label:<52}{ms:>9.1f}{ms / track_ms:>17.2f}")
    verdict = "meets" if track_ms < 100 else "MISSES"
    print(
        f"empty track() overhead {track_ms:.1f} ms {verdict} the < 100 ms target; "
        f"pip-api is {pip_ms / scan_ms:.0f}x an importlib.metadata scan"
    )


if __name__ == "__main__":
    main()
