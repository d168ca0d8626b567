"""What do the vetted allow-list and the tree structure check add to loading a tree model with skops?

Prints, measured in this run on this machine, for a ``RandomForestClassifier`` (200 trees, unlimited depth) and a
``HistGradientBoostingClassifier`` (200 iterations, 3 classes) fitted on 20,000 rows of 20 features:

- the median time of ``skops.io.loads(data, trusted=[...])`` of the skops file, with the types named by hand and
  nothing checked (the baseline: what loading took before, with ``trusted=`` passed);
- the median time of ``Skops.load`` (modelver's format: the untrusted-type scan, the allow-list, ``skops.io.loads``
  and :func:`modelver.formats.sklearn_check.check_tree_structures`), and of the check alone;
- each as a ratio to the baseline.

Run: ``.venv/bin/python benchmarks/sklearn_trust.py`` (about a minute; ``--quick`` for 20 trees).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import skops.io as sio
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from modelver.formats import get_format
from modelver.formats.core import LoadContext
from modelver.formats.sklearn_check import check_tree_structures


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``fn``, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Fit the two models, time the three loads of each, print the ratios."""
    quick = "--quick" in sys.argv
    trees = 20 if quick else 200
    x, y = make_classification(n_samples=20_000, n_features=20, n_informative=10, n_classes=3, random_state=0)
    models = {
        f"RandomForestClassifier({trees} trees)": RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=1),
        f"HistGradientBoostingClassifier({trees} iterations)": HistGradientBoostingClassifier(
            max_iter=trees, early_stopping=False, random_state=0
        ),
    }
    for label, model in models.items():
        model.fit(x, y)
        baseline, full, check, size = _measure(model)
        print(f"{label}: {size / 1e6:.1f} MB skops file")
        print(f"  skops.io.loads(trusted=...) (baseline)   {baseline * 1e3:8.1f} ms   1.00x")
        print(f"  modelver Skops.load (scan + check)       {full * 1e3:8.1f} ms   {full / baseline:.2f}x")
        print(f"  check_tree_structures alone              {check * 1e3:8.1f} ms   {check / baseline:.2f}x")


def _measure(model: object) -> tuple[float, float, float, int]:
    skops = get_format("skops")
    data = skops.dump(model)
    trusted = sio.get_untrusted_types(data=data)
    loaded = sio.loads(data, trusted=trusted)
    baseline = median_seconds(lambda: sio.loads(data, trusted=trusted), 5)
    full = median_seconds(lambda: skops.load(data, LoadContext()), 5)
    check = median_seconds(lambda: check_tree_structures(loaded), 5)
    return baseline, full, check, len(data)


if __name__ == "__main__":
    main()
