"""How does resolving a reference scale with the number of versions of a name?

Prints, measured in this run on this machine:

- on a local store with 10 and with 10,000 versions, the median time to resolve ``name@latest``, a range
  (``name@^0``), an alias (``name@production``) and an exact version, and the ratio 10,000 / 10. Two columns: a
  *warm* process (a serving process that has resolved before; its listing is older than the racy window, so it is
  reused while the directory is unchanged) and a *cold* one (the process's caches emptied before every resolve,
  as in the first resolve after start or after any tag was created);
- on S3 (a moto server on 127.0.0.1 behind a counting TCP relay) with 10,000 versions, the HTTP requests each
  resolve sends, cold and warm, by method.

Run: ``.venv/bin/python benchmarks/resolve.py`` (about a minute; ``--quick`` for 1,000 instead of 10,000).
Goal (issue 3): 10,000 versions resolve in at most 3x the time of 10.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from modelver import (
    Store,
    _events,
    _registry,
)
from modelver.manifest import CreatedBy
from modelver.registry.events import new_event, write_event
from modelver.registry.resolution import RACY_WINDOW_NS, VersionTag, resolve

BY = CreatedBy("bench", "localhost")
DIGEST = "blake3:" + "ab" * 32
REFS = {"latest": "m@latest", "range": "m@^0", "alias": "m@production", "exact": "m@0.0.3"}


def version_strings(count: int) -> list[str]:
    """``count`` distinct versions below 1.0.0: 0.MINOR.PATCH with PATCH < 100."""
    return [f"0.{i // 100}.{i % 100}" for i in range(count)]


def tag_bytes(version: str) -> bytes:
    """A tag for ``m@version`` (all tags point at one manifest: resolution never reads it)."""
    return VersionTag("m", version, DIGEST, "2026-01-01T00:00:00.000Z", BY).to_bytes()


def add_lifecycle(store: Store, versions: list[str]) -> None:
    """Promote one version and yank the highest, so alias and yank handling are part of what is measured."""
    write_event(store, new_event("m", "promote", by="bench", created_by=BY, alias="production", version=versions[0]))
    write_event(store, new_event("m", "yank", by="bench", created_by=BY, version=versions[-1], reason="bench"))


def clear_caches() -> None:
    """Forget everything a process keeps between resolves (the state of a process that just started)."""
    for cache in (_registry._listings, _registry._indexes, _registry._tags, _events._cache):
        cache.clear()


def median_ms(fn: Callable[[], object], repeat: int, before: Callable[[], None] = lambda: None) -> float:
    """Median wall time of ``fn`` in milliseconds over ``repeat`` calls, ``before`` run untimed before each."""
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def local(counts: tuple[int, ...]) -> None:
    """Time each reference on local stores of each size."""
    results: dict[tuple[int, str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {}
        for count in counts:
            store = Store(Path(tmp) / f"s{count}")
            store.initialize()
            versions = version_strings(count)
            for version in versions:
                store.create_tag("m", version, tag_bytes(version))
            add_lifecycle(store, versions)
            stores[count] = store
        # A serving process's cached listing is trusted only once the directory is older than the racy window.
        time.sleep(RACY_WINDOW_NS / 1e9 + 0.2)
        for count, store in stores.items():
            for label, ref in REFS.items():

                def once(store: Store = store, ref: str = ref) -> object:
                    return resolve(store, ref)

                once()
                results[count, label, "warm"] = median_ms(once, 200)
                results[count, label, "cold"] = median_ms(once, 5, clear_caches)
    small, large = counts
    print(f"local store: median resolve time, {small} vs {large:,} versions")
    print(
        f"  {'reference':<18}{'warm ' + str(small):>10}{'warm ' + str(large):>12}{'ratio':>8}"
        f"{'cold ' + str(small):>12}{'cold ' + str(large):>12}{'ratio':>8}"
    )
    for label, ref in REFS.items():
        ws, wl = results[small, label, "warm"], results[large, label, "warm"]
        cs, cl = results[small, label, "cold"], results[large, label, "cold"]
        print(f"  {ref:<18}{ws:>8.3f}ms{wl:>10.3f}ms{wl / ws:>7.1f}x{cs:>10.3f}ms{cl:>10.3f}ms{cl / cs:>7.1f}x")


def s3(count: int) -> None:
    """Count the HTTP requests of each resolve against a moto S3 server with ``count`` versions."""
    from s3server import DUMMY_ENV, CountingProxy, S3Server, make_bucket, s3_options

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    os.environ.update(DUMMY_ENV)
    os.environ.pop("AWS_PROFILE", None)
    server = S3Server()
    server.start()
    proxy = CountingProxy(server.port)
    try:
        bucket = make_bucket(server.endpoint)
        store = Store(f"s3://{bucket}/store", **s3_options(proxy.endpoint))
        store.initialize()
        versions = version_strings(count)
        # Bulk upload for the setup only (fsspec sends these concurrently); publishing uses create-if-absent.
        store.fs.pipe({store.tag_path("m", v): tag_bytes(v) for v in versions})
        add_lifecycle(store, versions)
        print(f"\nS3 (moto on 127.0.0.1, counted on the wire): HTTP requests per resolve, {count:,} versions")
        for ref in REFS.values():
            row = []
            for state in ("cold", "warm"):
                if state == "cold":
                    clear_caches()
                proxy.reset()
                resolve(store, ref)
                methods = Counter(method for method, _ in proxy.requests)
                row.append(
                    f"{state}: {len(proxy.requests):>3} ({', '.join(f'{n} {m}' for m, n in sorted(methods.items()))})"
                )
            print(f"  {ref:<16}" + "   ".join(row))
    finally:
        proxy.close()
        server.stop()


def main() -> None:
    """Run both measurements."""
    large = 1_000 if "--quick" in sys.argv else 10_000
    local((10, large))
    s3(large)


if __name__ == "__main__":
    main()
