"""XGBoost and LightGBM integrations: metrics per iteration, config, a native-format model that loads back in a fresh
process, and training that survives a failing callback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.datasets import make_classification

import modelver
from modelver import CaptureWarning
from modelver.integrations.lightgbm import ModelverCallback as LgbCallback
from modelver.integrations.xgboost import ModelverCallback as XgbCallback


def _data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=200, n_features=6, random_state=0)  # type: ignore[no-any-return]


def _predict_in_fresh_process(ref: str, x: np.ndarray, tmp_path: Path, kind: str) -> list[float]:
    np.save(tmp_path / "x.npy", x)
    predict = "booster.predict(xgboost.DMatrix(x))" if kind == "xgboost" else "booster.predict(x)"
    script = tmp_path / "predict.py"
    script.write_text(
        textwrap.dedent(f"""
            import json, sys
            import numpy as np
            import {kind}
            import modelver
            booster = modelver.load({ref!r})
            x = np.load(sys.argv[1])
            print(json.dumps({{"type": type(booster).__module__.split(".")[0] + "." + type(booster).__name__,
                              "pred": {predict}.tolist()}}))
        """)
    )
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x.npy")], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert f"{kind}.Booster" == result["type"]
    return list(result["pred"])


@pytest.mark.slow
def test_xgboost_callback_opens_a_run_logs_every_iteration_and_saves_json(tmp_path: Path) -> None:
    """With name= and no open run the callback publishes one version: a metric per iteration with its step, the
    booster config, the framework version, and a JSON model whose predictions equal the in-memory model's."""
    x, y = _data()
    clf = xgboost.XGBClassifier(n_estimators=5, max_depth=2, callbacks=[XgbCallback(name="xgb")])
    clf.fit(x, y, eval_set=[(x, y)], verbose=False)

    version = modelver.get("xgb")
    history = version.metrics_history()
    config = version.config(plain=True)

    assert [0, 1, 2, 3, 4] == [h["step"] for h in history]
    assert all("validation_0-logloss" in h["metrics"] for h in history)
    assert "xgboost" == config["integration"]["framework"]
    assert xgboost.__version__ == config["integration"]["version"]
    assert "learner" in config["xgboost"]
    assert "xgboost" == version.manifest.artifacts["model.xgb.json"].format
    expected = clf.get_booster().predict(xgboost.DMatrix(x)).tolist()
    assert expected == _predict_in_fresh_process("xgb", x, tmp_path, "xgboost")


def test_xgboost_callback_joins_the_user_s_run_and_leaves_it_open() -> None:
    """Inside the user's track() block the callback records into that run and does not publish it: the user's
    later metric lands in the same version."""
    x, y = _data()
    with modelver.track("joined") as run:
        xgboost.train(
            {"max_depth": 2},
            xgboost.DMatrix(x, y),
            3,
            evals=[(xgboost.DMatrix(x, y), "train")],
            callbacks=[XgbCallback()],
            verbose_eval=False,
        )
        assert "running" == run.status
        run.log_metrics({"holdout": 0.9})
    assert run.version is not None
    manifest = modelver.get(run.version.ref).manifest

    assert {"holdout", "train-rmse"} <= set(manifest.metrics)
    assert 1 == len(modelver.list_versions("joined"))


@pytest.mark.slow
def test_lightgbm_callback_logs_every_iteration_and_saves_text(tmp_path: Path) -> None:
    """One version with a metric per iteration, the params as config and a text model that predicts as the
    in-memory booster does in a fresh process."""
    x, y = _data()
    clf = lightgbm.LGBMClassifier(n_estimators=4, num_leaves=4, verbose=-1)
    clf.fit(x, y, eval_X=(x,), eval_y=(y,), callbacks=[LgbCallback(name="lgb")])

    version = modelver.get("lgb")
    history = version.metrics_history()
    config = version.config(plain=True)

    assert [0, 1, 2, 3] == [h["step"] for h in history]
    assert all("valid_0-binary_logloss" in h["metrics"] for h in history)
    assert "lightgbm" == config["integration"]["framework"]
    assert 4 == config["lightgbm"]["num_leaves"]
    assert "lightgbm" == version.manifest.artifacts["model.lgb.txt"].format
    expected = clf.booster_.predict(x).tolist()
    assert expected == _predict_in_fresh_process("lgb", x, tmp_path, "lightgbm")


def test_a_failing_callback_leaves_training_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    """When logging raises inside the integration, training finishes with the same model as without the callback,
    and the failure is one capture error (facet 'integration') plus a CaptureWarning."""
    x, y = _data()

    def broken(self: object, metrics: object, step: object = None) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(modelver.Run, "log_metrics", broken)
    bare = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y, eval_set=[(x, y)], verbose=False)
    tracked = xgboost.XGBClassifier(n_estimators=3, max_depth=2, callbacks=[XgbCallback(name="broken")])
    with pytest.warns(CaptureWarning, match="disk on fire"):
        tracked.fit(x, y, eval_set=[(x, y)], verbose=False)

    errors = modelver.get("broken").manifest.capture_errors

    assert bare.predict_proba(x).tolist() == tracked.predict_proba(x).tolist()
    assert {"integration"} == {e.facet for e in errors}


def test_training_that_raises_records_the_callback_s_run_as_failed(tmp_path: Path, store_dir: Path) -> None:
    """A script whose training raises after the callback opened its run publishes nothing, and the run is kept as
    a failed run (closed by the exception hook), not left open."""
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent("""
            import numpy as np, xgboost
            from modelver.integrations.xgboost import ModelverCallback

            class Boom(xgboost.callback.TrainingCallback):
                def after_iteration(self, model, epoch, evals_log):
                    if epoch == 1:
                        raise ValueError("diverged")
                    return False

            x = np.random.default_rng(0).random((50, 3)); y = (x[:, 0] > 0.5).astype(int)
            d = xgboost.DMatrix(x, y)
            xgboost.train({}, d, 5, evals=[(d, "t")], callbacks=[ModelverCallback(name="boom"), Boom()],
                          verbose_eval=False)
        """)
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    runs = subprocess.run(
        [sys.executable, "-m", "modelver.cli", "runs", "--json"], capture_output=True, text=True, cwd=tmp_path
    )

    assert 0 != result.returncode
    assert "diverged" in result.stderr
    assert [] == modelver.list_versions("boom")
    assert [("boom", "failed")] == [(r["name"], r["status"]) for r in json.loads(runs.stdout)]
    assert "diverged" in json.loads(runs.stdout)[0]["reason"]
