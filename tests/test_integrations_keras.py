"""Keras 3 integration (torch backend): epoch metrics, config, and a `.keras` model loaded with safe_mode=True in a
fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ["KERAS_BACKEND"] = "torch"  # read when keras is imported

import keras

import modelver
from modelver.integrations.keras import ModelverCallback

# Keras 3.15's torch backend calls np.array(tensor, copy=False) when saving; numpy 2 warns (not modelver's code).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _mlp() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.slow
def test_keras_callback_versions_epochs_config_and_a_safe_model(tmp_path: Path) -> None:
    """One version: loss per epoch (steps 1..3), batch metrics when asked, the model config, and a .keras model
    that a fresh process loads with safe_mode=True and that predicts what the in-memory model predicts."""
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = _mlp()
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[ModelverCallback(name="mlp", log_every_n_batches=2)])
    version = modelver.get("mlp")
    history = version.metrics_history()
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "predict.py"
    script.write_text(
        textwrap.dedent("""
        import json, sys
        import numpy as np
        import modelver
        model = modelver.load("mlp")
        print(json.dumps({"type": type(model).__name__,
                          "pred": np.asarray(model.predict(np.load(sys.argv[1]), verbose=0)).tolist()}))
    """)
    )
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        env=os.environ | {"KERAS_BACKEND": "torch"},
    )
    assert 0 == out.returncode, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])

    assert [1, 2, 3] == [h["step"] for h in history if "loss" in h["metrics"]]
    assert [2, 4, 6, 8, 10, 12] == [h["step"] for h in history if "batch/loss" in h["metrics"]]
    assert "keras" == version.config(plain=True)["integration"]["framework"]
    assert "Sequential" == version.config(plain=True)["keras"]["class"]
    assert "keras" == version.manifest.artifacts["model.keras"].format
    assert "Sequential" == loaded["type"]
    assert np.asarray(model.predict(x, verbose=0)).tolist() == loaded["pred"]


def test_keras_model_with_a_lambda_is_refused_on_load() -> None:
    """A model holding a Lambda layer (Python bytecode in its config) saves, but loading refuses it: safe_mode."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    with modelver.track("lambda") as run:
        run.save_model(model)

    with pytest.raises(modelver.FormatError, match="safe_mode"):
        modelver.load("lambda")
