"""XGBoost: a training callback that versions the run (``xgboost >= 2``; the ``xgboost-cpu`` wheel in the extra).

Usage::

    from modelver.integrations.xgboost import ModelverCallback

    clf = xgboost.XGBClassifier(n_estimators=50, callbacks=[ModelverCallback(name="churn-xgb")])
    clf.fit(X, y, eval_set=[(X_val, y_val)])       # one version: metrics per iteration, the model as JSON

Each iteration's evaluation metrics are logged as ``<data>-<metric>`` (``validation_0-logloss``) with the
iteration as step; the booster's configuration (``Booster.save_config()``) goes into the config under
``xgboost``, and the trained booster is saved as ``model.xgb.json`` in XGBoost's JSON format (loads back with
``modelver.load`` as an ``xgboost.Booster``).
"""

from __future__ import annotations

import json
from typing import Any

import xgboost

from modelver.integrations.binding import RunBinding

__all__ = ["ModelverCallback"]


class ModelverCallback(xgboost.callback.TrainingCallback):
    """Logs evaluation metrics per iteration and saves the trained booster in XGBoost's JSON format.

    Joins the open ``modelver.track()`` run; with ``name=`` and no open run, opens one on training begin and
    publishes it after training (recorded as failed if training raises). A failure inside the callback is a
    capture error and one :class:`~modelver.CaptureWarning`: training goes on.

    Args:
        name: model name of the run to open when none is open (``None``: only join an open run).
        model_name: artifact name of the saved booster (``None``: do not save it).
        track_kwargs: more arguments for the ``track()`` call of a run the callback opens (``store=``...).

    Example:
        >>> clf = xgboost.XGBClassifier(callbacks=[ModelverCallback(name="churn-xgb")])  # doctest: +SKIP
        >>> clf.fit(X, y, eval_set=[(X, y)])  # doctest: +SKIP
    """

    def __init__(self, name: str | None = None, *, model_name: str | None = "model", **track_kwargs: Any) -> None:
        super().__init__()
        self.binding = RunBinding("xgboost", ("xgboost-cpu", "xgboost"), name, track_kwargs)
        self.model_name = model_name

    def before_training(self, model: Any) -> Any:
        """Join or open the run and record the booster's configuration."""
        run = self.binding.begin()
        if run is not None:
            self.binding.guard("config", lambda: run.log_config({"xgboost": json.loads(model.save_config())}))
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list[Any]]]) -> bool:
        """Log the latest value of every evaluation metric with ``step=epoch``; never asks to stop."""
        run = self.binding.run
        if run is not None and evals_log:
            self.binding.guard("metrics", run.log_metrics, _latest(evals_log), step=epoch)
        return False

    def after_training(self, model: Any) -> Any:
        """Save the booster and publish a run the callback opened."""
        run = self.binding.run
        if run is not None and self.model_name is not None:
            self.binding.guard("saving the model", run.save_model, model, self.model_name, format="xgboost")
        self.binding.finish()
        return model


def _latest(evals_log: dict[str, dict[str, list[Any]]]) -> dict[str, object]:
    metrics: dict[str, object] = {}
    for data, by_metric in evals_log.items():
        for metric, values in by_metric.items():
            if values:
                last = values[-1]
                # With cross-validation XGBoost logs (mean, std) pairs.
                metrics[f"{data}-{metric}"] = last[0] if isinstance(last, tuple) else last
    return metrics
