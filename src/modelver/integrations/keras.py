"""Keras 3: a callback that versions the run (any backend; the tests use torch).

Usage::

    from modelver.integrations.keras import ModelverCallback

    model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[ModelverCallback(name="mlp")])

Epoch metrics (``loss``, ``val_loss``, ``accuracy``...) are logged with the number of finished epochs as step;
with ``log_every_n_batches=N``, every N-th training batch's running metrics are logged too, as ``batch/<name>``
with the global batch count as step. The model's config goes into the config under ``keras``, and after training
the model is saved as ``model.keras`` (Keras' zip of config JSON and weights), which ``modelver.load`` reads back
with ``keras.saving.load_model(..., safe_mode=True)``: no lambdas, no pickle.
"""

from __future__ import annotations

from typing import Any

import keras

from modelver.integrations.binding import RunBinding

__all__ = ["ModelverCallback"]


class ModelverCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Logs epoch (and optionally batch) metrics and saves the trained model in the ``.keras`` format.

    Joins the open ``modelver.track()`` run; with ``name=`` and no open run, opens one when training begins and
    publishes it when training ends (recorded as failed if training raises). A failure inside the callback is a
    capture error and one :class:`~modelver.CaptureWarning`: training goes on.

    Args:
        name: model name of the run to open when none is open (``None``: only join an open run).
        model_name: artifact name of the saved model (``None``: do not save it).
        log_every_n_batches: also log every N-th training batch (``0``: epochs only).
        track_kwargs: more arguments for the ``track()`` call of a run the callback opens (``store=``...).

    Example:
        >>> model.fit(x, y, epochs=3, callbacks=[ModelverCallback(name="mlp")])  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        model_name: str | None = "model",
        log_every_n_batches: int = 0,
        **track_kwargs: Any,
    ) -> None:
        super().__init__()
        self.binding = RunBinding("keras", ("keras",), name, track_kwargs)
        self.model_name = model_name
        self.log_every_n_batches = log_every_n_batches
        self._batches = 0
        if log_every_n_batches:
            # Only then: Keras turns every batch's logs into Python numbers (a device sync) for a callback that
            # overrides a batch hook, and skips that for one that does not.
            self.on_train_batch_end = self._log_batch

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Join or open the run and record the model's config."""
        self._batches = 0
        run = self.binding.begin()
        if run is not None and self.model is not None:
            model = self.model
            self.binding.guard(
                "config",
                lambda: run.log_config({"keras": {"model": model.get_config(), "class": type(model).__name__}}),
            )

    def _log_batch(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Every ``log_every_n_batches`` batches: log the running batch metrics as ``batch/<name>``."""
        self._batches += 1
        run = self.binding.run
        if run is None or self._batches % self.log_every_n_batches or not logs:
            return
        self.binding.guard(
            "batch metrics", run.log_metrics, {f"batch/{k}": v for k, v in logs.items()}, step=self._batches
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Log the epoch's metrics with ``step=epoch + 1`` (epochs finished)."""
        run = self.binding.run
        if run is not None and logs:
            self.binding.guard("epoch metrics", run.log_metrics, dict(logs), step=epoch + 1)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Save the model as ``.keras`` and publish a run the callback opened."""
        run = self.binding.run
        if run is not None and self.model_name is not None and self.model is not None:
            self.binding.guard("saving the model", run.save_model, self.model, self.model_name, format="keras")
        self.binding.finish()
