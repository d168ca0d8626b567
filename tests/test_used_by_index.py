"""Reverse lineage from the search index: data used directly, through steps (two levels), or by loading a version."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import modelver
from modelver.catalog.index import index_path
from modelver.catalog.lineage import used_by_index


def test_used_by_finds_three_names_through_two_levels_of_steps_and_a_loaded_version(tmp_path: Path) -> None:
    """`prep` reads the file only through step `clean`; `train` only consumes clean's output in step `features`
    (clean ran outside its run); `serve` only loads `train`; `other` never touches the data. Asking by the file's
    path finds the first three, and the same answer comes back after the index is deleted."""
    data = tmp_path / "raw.csv"
    data.write_text("1\n2\n3\n")

    @modelver.versioned(name="clean")
    def clean(path: Path) -> np.ndarray:
        return np.array([float(x) for x in path.read_text().split()])

    @modelver.versioned(name="features")
    def features(values: np.ndarray) -> np.ndarray:
        return values * 2

    with modelver.track("prep") as run:
        clean(data)
        run.log_metrics({"rows": 3})
    cleaned = clean(data)  # cached: the same output digest, recorded in no version
    with modelver.track("train") as run:
        run.log_metrics({"sum": float(features(cleaned).sum())})
    with modelver.track("serve") as run:
        modelver.get("train")
    with modelver.track("other") as run:
        run.log_metrics({"x": 1})

    trained = modelver.get("train").digest
    found = [(u.ref, u.role) for u in used_by_index(str(data))]
    assert [
        ("prep@0.1.0", "step clean input 'path'"),
        ("serve@0.1.0", f"loaded version train@{trained} ← train@0.1.0"),
        ("train@0.1.0", "step features input 'values' ← step clean in prep@0.1.0"),
    ] == found
    index_path(modelver.Store(str(tmp_path / "store"))).unlink()
    digest = modelver.fingerprint(data).digest
    assert found == [(u.ref, u.role) for u in used_by_index(digest[:16])]
