"""The README's main job: examples/train.py and examples/serve.py run as real processes, so `make demo` cannot rot."""

from __future__ import annotations

from pathlib import Path

import modelver
from helpers import run_python

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_train_then_serve_from_another_directory(tmp_path: Path) -> None:
    """train.py publishes a version with every facet; serve.py, started elsewhere, loads it and predicts."""
    trained = run_python(EXAMPLES / "train.py", cwd=tmp_path)
    assert "published breast-cancer-classifier@0.1.0" in trained.stdout
    version = modelver.get("breast-cancer-classifier@0.1.0")
    m = version.manifest
    assert "examples/train.py" == m.code.entrypoint
    assert {"accuracy", "f1"} == set(m.metrics)
    assert m.metrics["accuracy"] > 0.9
    assert ["model.skops"] == list(m.artifacts)
    assert m.resources.cpu_time_s > 0
    served = run_python(EXAMPLES / "serve.py", cwd=tmp_path / "..")
    predicted, true = served.stdout.splitlines()[1:3]
    assert predicted.split(":", 1)[1].strip() == true.split(":", 1)[1].strip()
