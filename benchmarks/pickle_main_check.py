"""What does the ``__main__`` class check add to ``Pickle.dump`` (``save_model(obj, allow_pickle=True)``)?

Prints, measured in this run on this machine, the median time of ``Pickle.dump`` as a ratio to ``pickle.dumps``
(protocol 5: the baseline, what the format did before the check) for three objects: a 64 MiB float array, a list of
200,000 ``Fraction``s and a dict of 200,000 tuples. Each is measured twice: with a ``__main__`` that defines no class
(a library, a server: the check is one scan of ``__main__``'s names) and with one that does (a training script: the
pickle's bytes are also searched for ``__main__``; only a hit pickles again to name the classes).

Run: ``.venv/bin/python benchmarks/pickle_main_check.py`` (about 20 s).
"""

from __future__ import annotations

import pickle
import statistics
import sys
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from modelver.formats.pickle import Pickle


def median_seconds(fn: Callable[[], object], repeat: int = 7) -> float:
    """The median wall time of ``repeat`` calls of ``fn``, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class ScriptClass:
    """Stands for a class a training script defines in its ``__main__`` (it is never pickled here)."""


def main() -> None:
    """Print the ratios."""
    rng = np.random.default_rng(0)
    cases = {
        "64 MiB float array": rng.standard_normal(8 * 1024 * 1024),
        "200k Fractions": [Fraction(i, 7) for i in range(200_000)],
        "dict of 200k tuples": {f"k{i}": (float(i), i) for i in range(200_000)},
    }
    fmt = Pickle()
    main_module = sys.modules["__main__"]
    for label, defines_class in (("no class in __main__", False), ("a class in __main__", True)):
        ScriptClass.__module__ = "__main__" if defines_class else "benchmarks"
        vars(main_module)["ScriptClass"] = ScriptClass
        for name, obj in cases.items():
            base = median_seconds(lambda obj=obj: pickle.dumps(obj, protocol=5))
            checked = median_seconds(lambda obj=obj: fmt.dump(obj))
            print(f"{label:22} {name:20} Pickle.dump / pickle.dumps = {checked / base:.2f}")


if __name__ == "__main__":
    main()
