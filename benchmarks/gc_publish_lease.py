"""What gc safety costs a publish: the publish lease and the re-check of referenced objects before the tag.

Prints, measured in this run on this machine, for a manifest referencing N blobs on a local store:
- the time of ``create_version_tag`` (lease + wait-for-gc listing + re-check of every object + tag + lease removal)
  as a ratio to a bare ``Store.create_tag`` of the same tag bytes (the tag write alone, the baseline);
- the same ratio against a whole ``track()`` block that saves one small model (what a user actually waits for).

Run: ``.venv/bin/python benchmarks/gc_publish_lease.py [ROUNDS]`` (default 200).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

import modelver
from modelver import Store
from modelver.manifest import CreatedBy
from modelver.registry.resolution import VersionTag
from modelver.tracking.spool import create_version_tag


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"{tmp}/store")
        with modelver.track("bench", store=store) as run:
            for i in range(8):
                run.save_model({"part": i}, f"part-{i}.json")
        assert run.version is not None
        digest = run.version.digest
        referenced = len(run.version.manifest.artifacts)
        by = CreatedBy("bench", "bench")
        bare, leased, whole = [], [], []
        for i in range(rounds):
            tag = VersionTag("bare", f"0.0.{i}", digest, "2026-01-01T00:00:00Z", by)
            start = time.perf_counter()
            store.create_tag("bare", f"0.0.{i}", tag.to_bytes())
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            create_version_tag(store, "bench", digest, f"1.0.{i}", by)
            leased.append(time.perf_counter() - start)
        for i in range(max(5, rounds // 20)):
            start = time.perf_counter()
            with modelver.track("whole", store=store) as run:
                run.save_model({"i": i})
            whole.append(time.perf_counter() - start)
    b, le, w = statistics.median(bare), statistics.median(leased), statistics.median(whole)
    print(f"artifacts referenced: {referenced} (+ code and environment blobs)")
    print(f"leased publish / bare tag write: {le / b:.1f}x (median of {rounds})")
    print(f"lease + re-check overhead / whole track() block: {(le - b) / w:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
