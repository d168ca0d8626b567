"""Lightning 2.x: a ``Logger`` that versions the run, for the ``lightning`` and the ``pytorch_lightning`` package.

Usage::

    from modelver.integrations.lightning import ModelverLogger

    trainer = lightning.Trainer(max_epochs=3, logger=ModelverLogger(name="tiny-lit"))
    trainer.fit(module, loader)     # one version: hparams, metrics per step, checkpoints, the module's weights

``ModelverLogger`` subclasses ``lightning.pytorch.loggers.Logger`` (or, when only the old package name is
installed, ``pytorch_lightning.loggers.Logger``); ``PytorchLightningModelverLogger`` is always the
``pytorch_lightning`` one, for Trainers of that package. What is recorded: hyperparameters (``log_hyperparams``)
in the config under ``hparams``; metrics with the Trainer's step; each file the ``ModelCheckpoint`` callbacks save
(``after_save_checkpoint``) as a run checkpoint at the current step; and when ``fit`` succeeds, the
``LightningModule`` itself with the ``torch`` format (safetensors; rebuilt on load from ``get_config()`` or a
``config`` mapping, see docs/formats.md). ``lightning_logs`` and the checkpoint folders are kept out of the code
capture.

A run the logger opens ends with the Trainer's ``finalize``: published after a successful ``fit`` (``validate`` or
``test`` afterwards are not recorded: wrap everything in ``modelver.track()`` for one version of both), recorded
as failed when training raised.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import uuid
from collections.abc import Mapping
from typing import Any

from modelver.integrations.binding import RunBinding, exclude_outputs

__all__ = ["ModelverLogger"]  # and PytorchLightningModelverLogger, built on first use (module __getattr__)

#: Folders Lightning writes into the working directory by default.
OUTPUT_FOLDERS = ("lightning_logs", "checkpoints")

exclude_outputs(*OUTPUT_FOLDERS)


def _build(package: str) -> type:
    """The ``ModelverLogger`` class for the Lightning package importable as ``package``."""
    loggers = importlib.import_module(f"{package}.loggers")
    utilities = importlib.import_module(f"{package}.utilities")
    rank_zero_only = utilities.rank_zero_only

    class ModelverLogger(loggers.Logger):  # type: ignore[misc,name-defined]
        """Records a Lightning run: hyperparameters, metrics, ``ModelCheckpoint`` files and the trained module.

        Joins the open ``modelver.track()`` run; with ``name=`` and no open run, opens one at the first thing to
        log and ends it in ``finalize`` (published on success, failed otherwise). A failure inside the logger is
        a capture error and one :class:`~modelver.CaptureWarning`: training goes on. Only rank 0 logs (Lightning's
        ``rank_zero_only``).

        Args:
            name: model name of the run to open when none is open (``None``: only join an open run).
            model_name: artifact name of the trained ``LightningModule`` (``None``: do not save it).
            checkpoints: store the ``ModelCheckpoint`` files as run checkpoints.
            track_kwargs: more arguments for the ``track()`` call of a run the logger opens (``store=``...).

        Example:
            >>> lightning.Trainer(logger=ModelverLogger(name="tiny")).fit(module, loader)  # doctest: +SKIP
        """

        def __init__(
            self,
            name: str | None = None,
            *,
            model_name: str | None = "model",
            checkpoints: bool = True,
            **track_kwargs: Any,
        ) -> None:
            super().__init__()
            framework = package.split(".")[0]
            self.binding = RunBinding(framework, (framework.replace("_", "-"),), name, track_kwargs)
            self.model_name = model_name
            self.checkpoints = checkpoints
            self._module: Any = None
            self._step = 0
            self._saved: dict[str, int] = {}
            self._saved_steps: set[int] = set()
            self._finished = False
            self._model_saved = False
            self._version = uuid.uuid4().hex[:12]

        @property
        def name(self) -> str:
            """The experiment name Lightning puts in checkpoint paths."""
            return self.binding.name or "modelver"

        @property
        def version(self) -> str:
            """Lightning's version folder name (random, fixed per logger)."""
            return self._version

        @property
        def save_dir(self) -> str:
            """Where Lightning puts ``<name>/<version>/checkpoints``: ``lightning_logs``, out of the code capture."""
            return OUTPUT_FOLDERS[0]

        def _run(self) -> Any:
            if self._finished:
                return None
            return self.binding.begin()

        @rank_zero_only  # type: ignore[untyped-decorator]
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            """Add the hyperparameters to the config under ``hparams``."""
            run = self._run()
            if run is None:
                return
            values = vars(params) if isinstance(params, argparse.Namespace) else params
            if isinstance(values, Mapping):
                self.binding.guard("hyperparameters", run.log_config, {"hparams": dict(values)})

        @rank_zero_only  # type: ignore[untyped-decorator]
        def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
            """Log ``metrics`` at ``step`` (the Trainer's global step)."""
            run = self._run()
            if run is None:
                return
            if step is not None:
                self._step = step
            self.binding.guard("metrics", run.log_metrics, dict(metrics), step=step)

        def log_graph(self, model: Any, input_array: Any = None) -> None:
            """Lightning hands the module over here at the start of ``fit``, on every rank: keep it to save when
            ``fit`` ends, and bind the run (every rank's run reports to rank 0, which publishes one version)."""
            self._module = model
            trainer = getattr(model, "_trainer", None)
            if trainer is not None and self.binding.run is None:
                self.binding.guard("distributed job", self._job_kwargs, trainer)
            self._run()

        def _job_kwargs(self, trainer: Any) -> None:
            # Lightning's own launcher (strategy="ddp" without torchrun) starts the other ranks as children of
            # rank 0 and sets no RANK: name the job after rank 0's process so that every rank joins the same job.
            if trainer.world_size <= 1 or "RANK" in os.environ or self.binding.name is None:
                return
            rank = int(trainer.global_rank)
            parent = os.getpid() if rank == 0 else os.getppid()
            port = os.environ.get("MASTER_PORT", "")
            job = f"lightning-{socket.gethostname()}-{parent}-{port}"
            self.binding.track_kwargs.update(rank=rank, world_size=int(trainer.world_size))
            self.binding.track_kwargs.setdefault("job_id", job)

        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            """Store the file the ``ModelCheckpoint`` callback just saved, at the step it was saved."""
            run = self._run()
            if run is None or not self.checkpoints:
                return
            # The file just written (Lightning 2.x); older releases name only the best and the last file.
            path = getattr(checkpoint_callback, "_last_checkpoint_saved", "") or (
                checkpoint_callback.last_model_path or checkpoint_callback.best_model_path
            )
            step = getattr(checkpoint_callback, "_last_global_step_saved", self._step)
            if path:
                self.binding.guard("checkpoint", self._store_checkpoint, run, str(path), int(step))

        def _store_checkpoint(self, run: Any, path: str, step: int) -> None:
            if not os.path.isfile(path):
                return
            stamp = os.stat(path).st_mtime_ns
            if self._saved.get(path) == stamp:
                return
            if self._saved_steps and step <= max(self._saved_steps):
                step = max(self._saved_steps) + 1  # two callbacks saving at one step: one checkpoint per step
            run.save_checkpoint(path, step=step)
            self._saved[path] = stamp
            self._saved_steps.add(step)

        def finalize(self, status: str) -> None:
            """End of ``fit``/``validate``/``test``: save the module and publish a run the logger opened (on
            ``"success"``), or record it as failed."""
            run = self.binding.run
            if run is None or self._finished:
                return
            if status == "success":
                if self._module is not None and self.model_name is not None and not self._model_saved:
                    self._model_saved = True
                    self.binding.guard(
                        "saving the model", run.save_model, self._module, self.model_name, format="torch"
                    )
                if self.binding.owned:
                    self._finished = True
                self.binding.finish()
            else:
                self._finished = self.binding.owned
                self.binding.finish(RuntimeError(f"Lightning ended with status {status!r}"))

    ModelverLogger.__module__ = __name__
    return ModelverLogger


def _default() -> type:
    try:
        return _build("lightning.pytorch")
    except ModuleNotFoundError:
        return _build("pytorch_lightning")


#: The logger for ``lightning`` (``lightning.pytorch``), or for ``pytorch_lightning`` when only it is installed.
ModelverLogger = _default()


def __getattr__(name: str) -> Any:
    if name != "PytorchLightningModelverLogger":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = (
        ModelverLogger
        if ModelverLogger.__mro__[1].__module__.startswith("pytorch_lightning")
        else _build("pytorch_lightning")
    )
    cls.__name__ = cls.__qualname__ = name
    globals()[name] = cls
    return cls
