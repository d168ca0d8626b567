"""Serving cold start: a fresh process that loads a scikit-learn model with ``modelver.load`` vs ``joblib.load``.

Prints, measured in this run on this machine (runs alternate, so both see the same machine load):

- the median wall time, CPU time (user + system: on a loaded machine wall time mostly measures the wait for a CPU,
  CPU time what the process itself does) and peak memory (max RSS) of a fresh ``python`` that runs
  ``joblib.load(path)`` of a small scikit-learn pipeline (StandardScaler + LogisticRegression) and predicts one row:
  the baseline;
- the same for a fresh ``python`` that runs ``modelver.load("cold@production")`` of the same model from a local
  store, with the integrity check on (every byte hashed against its digest), and predicts the same row;
- a bare interpreter start, for reference;
- every child with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed, ``PYTHONPYCACHEPREFIX`` in the work
  directory, filled by the warm-up run), as on a serving host with installed packages: with it off, as in a
  development shell that sets it, every modelver module is compiled from source in every process (~50 ms) while
  the libraries' installed ``.pyc`` files are still read, which measured the checkout rather than the library;
- each as a ratio to the baseline; then the ratios of the fastest run of each (on a machine shared with other jobs,
  the least disturbed run: the medians move by ±0.1x from one run of this script to the next at load average 5+).

Run: ``.venv/bin/python benchmarks/load_cold.py`` (``--quick`` for 3 runs each instead of 9, ``--repeat N`` for N).
Goal (issue 20): at most 1.1x the time and 1.2x the peak memory of ``joblib.load``.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelver

BASELINE = "joblib.load (baseline)"
MODELVER = 'modelver.load("cold@production")'


# The child's own peak RSS: VmHWM starts afresh at exec (ru_maxrss of a child also counts its parent's at fork).
PEAK = "\nprint([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0])"


def run_child(code: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall time (s), CPU time (user + system, s) and peak RSS (MiB) of a fresh ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + PEAK], env=env, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, int(out.stdout.split()[-1]) / 1024  # VmHWM is in kB


def main() -> None:
    """Measure and print."""
    repeat = 3 if "--quick" in sys.argv else 9
    if "--repeat" in sys.argv:
        repeat = int(sys.argv[sys.argv.index("--repeat") + 1])
    work = Path(tempfile.mkdtemp(prefix="modelver-bench-cold-"))
    env = dict(os.environ, MODELVER_STORE=str(work / "store"), MODELVER_CACHE=str(work / "cache"))
    os.environ.update(env)
    children = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    children["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    x, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    with modelver.track("cold") as run:
        run.save_model(model)
    assert run.version is not None
    modelver.promote(run.version.ref, "production", by="bench", reason="cold start benchmark")
    path = work / "model.joblib"
    joblib.dump(model, path)
    row = x[:1].tolist()

    codes = {
        "bare interpreter start": "pass",
        BASELINE: f"import joblib\nm = joblib.load({str(path)!r})\nm.predict({row!r})",
        MODELVER: f"import modelver\nm = modelver.load('cold@production')\nm.predict({row!r})",
    }
    for code in codes.values():  # warm the OS page cache and modelver's caches (as a serving host would be)
        run_child(code, children)
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label in codes}
    for _ in range(repeat):
        for label, code in codes.items():
            samples[label].append(run_child(code, children))

    seconds = {label: statistics.median(s for s, _, _ in runs) for label, runs in samples.items()}
    cpu = {label: statistics.median(c for _, c, _ in runs) for label, runs in samples.items()}
    mib = {label: statistics.median(m for _, _, m in runs) for label, runs in samples.items()}
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"fresh process, small scikit-learn pipeline, median of {repeat} alternating runs, load average {load}")
    print(f"  {'':<36}{'time':>10}{'ratio':>8}{'CPU':>10}{'ratio':>8}{'peak RSS':>12}{'ratio':>8}")
    for label in codes:
        print(
            f"  {label:<36}{seconds[label] * 1000:>7.0f} ms{seconds[label] / seconds[BASELINE]:>7.2f}x"
            f"{cpu[label] * 1000:>7.0f} ms{cpu[label] / cpu[BASELINE]:>7.2f}x"
            f"{mib[label]:>8.0f} MiB{mib[label] / mib[BASELINE]:>7.2f}x"
        )
    best = {label: (min(s for s, _, _ in runs), min(c for _, c, _ in runs)) for label, runs in samples.items()}
    print(f"  fastest run of each, as a ratio to the fastest baseline run: {MODELVER} ", end="")
    print(f"{best[MODELVER][0] / best[BASELINE][0]:.2f}x time, {best[MODELVER][1] / best[BASELINE][1]:.2f}x CPU")


if __name__ == "__main__":
    main()
