"""LightGBM 4: a training callback that versions the run.

Usage::

    from modelver.integrations.lightgbm import ModelverCallback

    clf = lightgbm.LGBMClassifier(n_estimators=50)
    clf.fit(X, y, eval_set=[(X_val, y_val)], callbacks=[ModelverCallback(name="churn-lgb")])

Each iteration's evaluation results are logged as ``<data>-<metric>`` (``valid_0-binary_logloss``) with the
iteration as step; the parameters go into the config under ``lightgbm``, and after the last iteration the booster
is saved as ``model.lgb.txt`` in LightGBM's text format (loads back with ``modelver.load`` as a
``lightgbm.Booster``).

LightGBM has no train-end hook: the callback finishes at the last planned iteration. When early stopping ends
training sooner, call :meth:`ModelverCallback.finish` with the trained model (or wrap training in
``modelver.track()`` and save the model yourself).
"""

from __future__ import annotations

from typing import Any

from modelver.integrations.binding import RunBinding

__all__ = ["ModelverCallback"]


class ModelverCallback:
    """Logs evaluation results per iteration and saves the trained booster in LightGBM's text format.

    Joins the open ``modelver.track()`` run; with ``name=`` and no open run, opens one at the first iteration and
    publishes it after the last (recorded as failed if training raises). A failure inside the callback is a
    capture error and one :class:`~modelver.CaptureWarning`: training goes on.

    Args:
        name: model name of the run to open when none is open (``None``: only join an open run).
        model_name: artifact name of the saved booster (``None``: do not save it).
        track_kwargs: more arguments for the ``track()`` call of a run the callback opens (``store=``...).

    Example:
        >>> callbacks = [ModelverCallback(name="lgb")]
        >>> lightgbm.train(params, train_set, valid_sets=[valid], callbacks=callbacks)  # doctest: +SKIP
    """

    #: Runs after LightGBM's own callbacks (``log_evaluation`` is 10, ``early_stopping`` 30).
    order = 40
    before_iteration = False

    def __init__(self, name: str | None = None, *, model_name: str | None = "model", **track_kwargs: Any) -> None:
        self.binding = RunBinding("lightgbm", ("lightgbm",), name, track_kwargs)
        self.model_name = model_name
        self._started = False

    def __call__(self, env: Any) -> None:
        """LightGBM's callback protocol: ``env`` is a ``lightgbm.callback.CallbackEnv``."""
        if not self._started:
            self._started = True
            run = self.binding.begin()
            if run is not None:
                self.binding.guard("config", run.log_config, {"lightgbm": dict(env.params)})
        run = self.binding.run
        if run is not None and env.evaluation_result_list:
            self.binding.guard("metrics", run.log_metrics, _results(env.evaluation_result_list), step=env.iteration)
        if env.iteration + 1 >= env.end_iteration:
            self.finish(env.model)

    def finish(self, model: Any = None) -> None:
        """Save ``model`` (a ``lightgbm.Booster`` or fitted ``LGBMModel``; ``None``: save nothing) and publish a run
        the callback opened. Called after the last iteration; call it yourself when early stopping ends training
        sooner.

        Args:
            model: the trained model.
        """
        run = self.binding.run
        if run is not None and model is not None and self.model_name is not None:
            self.binding.guard("saving the model", run.save_model, model, self.model_name, format="lightgbm")
        self.binding.finish()
        self._started = False


def _results(results: list[tuple[Any, ...]]) -> dict[str, object]:
    # (data name, metric name, value, is_higher_better), or with cv (..., stdv) as a fifth item
    return {f"{item[0]}-{item[1]}": item[2] for item in results}
