"""How fast is ``modelver.used_by`` (answered from the search index) against the full store scan it replaced?

Generates a local store of N manifest-only versions (default 5,000; the generator of ``benchmarks/search.py``), each
with one data digest, builds the index once, then prints in one run the median time of ``used_by(<one version's data
digest>)`` from the warm index (its refresh, one listing, included) and of the old full scan
(``modelver.steps.usage.used_by``: every tag and manifest read), and their ratio (index / scan; lower is better).

Run: ``.venv/bin/python benchmarks/used_by.py [--versions N]``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from search import generate, median_ms

from modelver.catalog.lineage import used_by
from modelver.steps.usage import used_by as scan_used_by
from modelver.store.objects import Store


def main() -> None:
    """Generate, index, query both ways; print the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MODELVER_CACHE"] = str(Path(tmp) / "cache")
        store = Store(Path(tmp) / "store")
        store.initialize()
        rows = generate(store, args.versions, 0, random.Random(7))
        target = rows[len(rows) // 2]["data"]
        start = time.perf_counter()
        first = used_by(target, store=store)
        build_s = time.perf_counter() - start
        expected = [(u.ref, u.role) for u in scan_used_by(target, store=store)]
        assert expected == [(u.ref, u.role) for u in first], (expected, first)
        index_ms = median_ms(lambda: used_by(target, store=store), args.repeat)
        scan_ms = median_ms(lambda: scan_used_by(target, store=store), args.repeat)
        print(f"versions: {args.versions}; first call (index build included): {build_s:.2f} s")
        print(f"used_by from the warm index: {index_ms:.1f} ms; full scan: {scan_ms:.1f} ms")
        print(f"ratio index / scan: {index_ms / scan_ms:.4f}")


if __name__ == "__main__":
    main()
