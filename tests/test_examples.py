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
    assert [("split", False), ("fit", False)] == [(s.name.rsplit(".", 1)[-1], s.cached) for s in m.lineage.steps]
    served = run_python(EXAMPLES / "serve.py", cwd=tmp_path / "..")
    predicted, true = served.stdout.splitlines()[1:3]
    assert predicted.split(":", 1)[1].strip() == true.split(":", 1)[1].strip()


def test_second_training_run_reuses_both_steps_and_publishes_the_same_model(tmp_path: Path) -> None:
    """Nothing changed between two runs of train.py: both steps are reused, and the model bytes are identical."""
    run_python(EXAMPLES / "train.py", cwd=tmp_path)
    again = run_python(EXAMPLES / "train.py", cwd=tmp_path)
    first, second = modelver.get("breast-cancer-classifier@0.1.0"), modelver.get("breast-cancer-classifier@0.1.1")
    assert "split: reused the stored result" in again.stdout
    assert [True, True] == [step.cached for step in second.manifest.lineage.steps]
    assert first.manifest.artifacts["model.skops"].digest == second.manifest.artifacts["model.skops"].digest
    assert first.manifest.metrics == second.manifest.metrics
