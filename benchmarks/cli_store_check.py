"""What does the CLI's store-location check (a store that is a file, or a directory of other things) cost?

Every store command now calls :func:`modelver.cli.location.check_store_location` before it runs: one ``stat`` of
the store path, one of its marker, and a listing of the directory only when the marker is missing. Measured here
against what every command did anyway (``choose_store``, the baseline) and against the cheapest real read of the
store (``Store.list_names`` of a store with 50 names, what ``modelver list`` starts with).

Prints, measured in this run on this machine, the median time per call of each, as ratios to the baseline.

Run: ``.venv/bin/python benchmarks/cli_store_check.py [calls]`` (default 2000).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import modelver
from modelver.cli.location import check_store_location
from modelver.settings import choose_store
from modelver.store.objects import Store


def _median_s(call: Callable[[], object], calls: int) -> float:
    """Median seconds per call over 5 rounds of ``calls`` calls."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - start) / calls)
    return statistics.median(rounds)


def main(calls: int = 2000) -> None:
    """Print the ratios (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        for i in range(50):
            with modelver.track(f"model-{i}", store=root) as run:
                run.log_metrics({"acc": 0.5})
        url = str(root)
        store = Store(url)
        baseline = _median_s(lambda: choose_store(url), calls)
        check = _median_s(lambda: check_store_location(url), calls)
        listing = _median_s(store.list_names, max(calls // 20, 10))
    print(f"choose_store (baseline)       {baseline * 1e6:8.1f} us  1.00")
    print(f"check_store_location          {check * 1e6:8.1f} us  {check / baseline:.2f}")
    print(f"Store.list_names (50 names)   {listing * 1e6:8.1f} us  {listing / baseline:.2f}")
    print(f"check as a share of list_names: {check / listing:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
