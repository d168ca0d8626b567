"""How fast is ``modelver.search`` over a large local store, against a plain Python scan of the same records?

Generates (once, under $BENCH_DIR or /tmp/modelver-bench-search-<N>) a local store of N versions (default 100,000)
across N/100 names, manifest-only: canonical manifests and version tags written straight into the store layout
(correct digests, no fsync, so generation takes seconds, not the hours 100,000 ``track()`` runs would). Then prints,
in one run:

- the time of a full index build (an empty index, every tag and manifest read and verified),
- the time of a refresh after 100 new versions, as a ratio to the full build (goal <= 0.05),
- a selective filter + order + limit query on the warm index (median of 20), as a ratio to the same query over an
  in-memory list of dicts (goal <= 2x) and in absolute milliseconds (goal <= 50 ms on this machine),
- the same query with its refresh (one listing of the store) included.

Run: ``.venv/bin/python benchmarks/search.py [--versions N]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelver.catalog.api import search_hits
from modelver.catalog.index import index_path, refresh
from modelver.manifest import CreatedBy, DataEntry, Manifest
from modelver.registry.resolution import VersionTag
from modelver.serde import canonical_json, to_json_dict
from modelver.store.digest import digest_bytes
from modelver.store.objects import Store

BY = CreatedBy("bench", "host")
FILTER = "metrics.accuracy > 0.99 AND config.optimizer.lr < 0.0005 AND packages.torch LIKE '2.%'"
ORDER = ["metrics.accuracy DESC", "created ASC"]
LIMIT = 10


def record(rng: random.Random, index: int) -> dict[str, Any]:
    """One version's content: two metrics, a nested config, a data digest, three packages."""
    return {
        "name": f"model-{index % max(1, NAMES)}",
        "created": f"2026-{1 + index % 12:02d}-{1 + index % 28:02d}T00:00:{index % 60:02d}Z",
        "metrics": {"accuracy": rng.random(), "loss": rng.random() * 3},
        "config": {"optimizer": {"name": rng.choice(["adam", "sgd"]), "lr": rng.random() / 100}, "batch": 32},
        "packages": {"torch": rng.choice(["2.3.1", "2.4.0", "1.13.1"]), "numpy": "2.1.0", "attrs": "24.2.0"},
        "data": "blake3:" + f"{index:064x}",
    }


NAMES = 1000


def write_version(store: Store, rec: dict[str, Any], version: str) -> None:
    """Write a manifest and its tag straight into the layout (the same bytes a publish writes, minus fsync)."""
    from modelver.manifest import EnvironmentFacet

    manifest = Manifest(
        name=rec["name"],
        created_at=rec["created"],
        created_by=BY,
        run_id=f"run-{version}-{rec['name']}",
        metrics=rec["metrics"],
        config=rec["config"],
        environment=EnvironmentFacet(packages=rec["packages"]),
        data={
            "train": DataEntry(uri="s3://b/train", digest=rec["data"], size_bytes=1, files=1, kind="file", method="x")
        },
    )
    body = to_json_dict(manifest)
    del body["version"], body["digest"]
    raw = canonical_json(body)
    digest = digest_bytes(raw, store.algorithm)
    path = Path(store.manifest_path(digest))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    tag = Path(store.tag_path(rec["name"], version))
    tag.parent.mkdir(parents=True, exist_ok=True)
    tag.write_bytes(VersionTag(rec["name"], version, digest, rec["created"], BY, metrics=rec["metrics"]).to_bytes())


def generate(store: Store, count: int, start: int, rng: random.Random) -> list[dict[str, Any]]:
    """Write versions ``start .. start + count - 1``; version ``0.1.<k>`` is the k-th of its name."""
    out = []
    for index in range(start, start + count):
        rec = record(rng, index)
        write_version(store, rec, f"0.1.{index // NAMES}")
        out.append(rec | {"version": f"0.1.{index // NAMES}"})
    return out


def baseline(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The same query over an in-memory list of dicts."""
    chosen = [
        r
        for r in rows
        if r["metrics"]["accuracy"] > 0.99
        and r["config"]["optimizer"]["lr"] < 0.0005
        and r["packages"]["torch"].startswith("2.")
    ]
    chosen.sort(key=lambda r: (-r["metrics"]["accuracy"], r["created"]))
    return [(r["name"], r["version"]) for r in chosen[:LIMIT]]


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Generate, build, refresh, query; print the ratios."""
    global NAMES
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=100_000)
    args = parser.parse_args()
    NAMES = max(1, args.versions // 100)
    root = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / f"modelver-bench-search-{args.versions}"
    os.environ.setdefault("MODELVER_CACHE", str(root / "cache"))
    store = Store(root / "store")
    rng = random.Random(18)
    if not (root / ".complete").exists():
        store.initialize()
        start = time.perf_counter()
        generate(store, args.versions, 0, rng)
        (root / ".complete").touch()
        print(f"generated {args.versions} versions across {NAMES} names in {time.perf_counter() - start:.1f} s")
    rng = random.Random(18)
    rows = [record(rng, i) | {"version": f"0.1.{i // NAMES}"} for i in range(args.versions)]
    # Versions added by an earlier run of this benchmark (the refresh measurement) are part of the store too.
    extra_start = args.versions
    while Path(store.tag_path(f"model-{extra_start % NAMES}", f"0.1.{extra_start // NAMES}")).exists():
        rows.append(record(rng, extra_start) | {"version": f"0.1.{extra_start // NAMES}"})
        extra_start += 1

    index_path(store).unlink(missing_ok=True)
    start = time.perf_counter()
    report = refresh(store)
    full_s = time.perf_counter() - start
    print(f"full index build: {report.added} versions in {full_s:.2f} s")

    rows += generate(store, 100, extra_start, rng)
    start = time.perf_counter()
    report = refresh(store)
    incremental_s = time.perf_counter() - start
    ratio = incremental_s / full_s
    print(
        f"refresh after {report.added} new versions: {incremental_s:.3f} s = {ratio:.3f} of a full build (goal <= 0.05)"
    )

    hits = search_hits(FILTER, order_by=ORDER, limit=LIMIT, store=store, update=False)
    assert baseline(rows) == [(h.name, h.version) for h in hits], "the index and the scan disagree"
    ours = median_ms(lambda: search_hits(FILTER, order_by=ORDER, limit=LIMIT, store=store, update=False), 20)
    theirs = median_ms(lambda: baseline(rows), 20)
    with_refresh = median_ms(lambda: search_hits(FILTER, order_by=ORDER, limit=LIMIT, store=store), 5)
    print(
        f"query, warm index: {ours:.1f} ms; list-of-dicts scan: {theirs:.1f} ms; ratio {ours / theirs:.2f} (goal <= 2)"
    )
    print(f"query including its refresh (one listing of {len(rows)} tags): {with_refresh:.0f} ms")


if __name__ == "__main__":
    main()
