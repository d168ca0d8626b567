"""What does versioning a small scikit-learn model cost, whole process, with modelver and with MLflow?

Each variant is a fresh ``python`` process that imports, trains a StandardScaler + LogisticRegression pipeline on
iris, and then (except the baselines) versions it:

- modelver: ``with modelver.track(...)``, ``log_metrics``, ``save_model`` (skops), published to a local store;
- MLflow 3.x: a sqlite tracking store, ``start_run``, ``log_params``, ``log_metric`` and
  ``mlflow.sklearn.log_model(..., registered_model_name=...)``;
- the same script without versioning, once per virtual environment (the baseline each variant is compared with).

Prints the median wall time of each (runs alternate, so all see the same machine load), the overhead of each
versioning library (its median minus its baseline's) and the ratio MLflow overhead / modelver overhead.

MLflow is never a dependency of modelver: this script creates its own virtual environment, ``.bench-venv/`` at the
repository root (git-ignored), and installs ``mlflow>=3,<4`` and scikit-learn there on its first run.

Run: ``.venv/bin/python benchmarks/vs_mlflow.py`` (``--quick`` for 3 runs each instead of 7).
Goal (issue 20): modelver's overhead at least 20x smaller than MLflow's.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".bench-venv"
BENCH_PYTHON = BENCH_VENV / "bin" / "python"

TRAIN = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
x, y = load_iris(return_X_y=True)
model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)).fit(x, y)
accuracy = float(model.score(x, y))
"""

MODELVER = (
    "import modelver\n"
    + "with modelver.track('iris', config={'C': 0.5}) as run:\n"
    + "".join(f"    {line}\n" for line in TRAIN.strip().splitlines())
    + "    run.log_metrics({'accuracy': accuracy})\n"
    + "    run.save_model(model)\n"
)

MLFLOW = (
    "import mlflow, mlflow.sklearn\n"
    + "mlflow.set_tracking_uri('sqlite:///' + __import__('os').path.abspath('mlflow.db'))\n"
    + "with mlflow.start_run():\n"
    + "".join(f"    {line}\n" for line in TRAIN.strip().splitlines())
    + "    mlflow.log_params({'C': 0.5})\n"
    + "    mlflow.log_metric('accuracy', accuracy)\n"
    + "    mlflow.sklearn.log_model(model, name='model', registered_model_name='iris')\n"
)


def ensure_bench_venv() -> None:
    """Create ``.bench-venv`` with MLflow and scikit-learn unless it already imports MLflow."""
    if BENCH_PYTHON.exists() and subprocess.run([BENCH_PYTHON, "-c", "import mlflow"]).returncode == 0:
        return
    subprocess.run([sys.executable, "-m", "venv", BENCH_VENV], check=True)
    subprocess.run([BENCH_PYTHON, "-m", "pip", "install", "-q", "mlflow>=3,<4", "scikit-learn"], check=True)


def seconds(python: Path | str, code: str, cwd: Path, env: dict[str, str]) -> float:
    """Wall time of a fresh ``python -c code`` in ``cwd``."""
    start = time.perf_counter()
    subprocess.run([python, "-c", code], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    """Measure and print."""
    repeat = 3 if "--quick" in sys.argv else 7
    ensure_bench_venv()
    work = Path(tempfile.mkdtemp(prefix="modelver-bench-mlflow-"))
    env = dict(os.environ, MODELVER_STORE=str(work / "store"), MODELVER_CACHE=str(work / "cache"))
    env.pop("MLFLOW_TRACKING_URI", None)
    runs = {
        "baseline (project venv)": (sys.executable, TRAIN),
        "modelver": (sys.executable, MODELVER),
        "baseline (MLflow venv)": (str(BENCH_PYTHON), TRAIN),
        "MLflow 3.x": (str(BENCH_PYTHON), MLFLOW),
    }
    for python, code in runs.values():  # warm-up: page cache, the sqlite schema, modelver's caches
        seconds(python, code, work, env)
    samples: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(repeat):
        for label, (python, code) in runs.items():
            samples[label].append(seconds(python, code, work, env))
    median = {label: statistics.median(values) for label, values in samples.items()}
    ours = median["modelver"] - median["baseline (project venv)"]
    theirs = median["MLflow 3.x"] - median["baseline (MLflow venv)"]
    version = subprocess.run(
        [BENCH_PYTHON, "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"fresh process: import, train, version a small scikit-learn pipeline; median of {repeat}; MLflow {version}")
    for label, value in median.items():
        print(f"  {label:<28}{value * 1000:>8.0f} ms")
    print(f"  modelver overhead           {ours * 1000:>8.0f} ms")
    print(f"  MLflow overhead             {theirs * 1000:>8.0f} ms")
    print(f"  MLflow / modelver           {theirs / ours:>8.1f}x   (goal >= 20)")


if __name__ == "__main__":
    main()
