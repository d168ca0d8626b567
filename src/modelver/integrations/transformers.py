"""Hugging Face transformers 5: a ``TrainerCallback`` that versions the run.

Usage::

    from modelver.integrations.transformers import ModelverCallback

    trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=[ModelverCallback(name="tiny-bert")])
    trainer.train()        # one version: TrainingArguments + model config, metrics per step, checkpoints, model

What is recorded: ``TrainingArguments`` (``to_sanitized_dict()``) under ``training_args`` and the model's config
under ``model_config`` in the run's config; every ``on_log`` record's numbers with ``state.global_step`` as step;
each checkpoint directory the Trainer saves (``<output_dir>/checkpoint-<step>``) as a run checkpoint
(``run.save_checkpoint``, kept by ``keep_checkpoints=``); and at the end the model's ``save_pretrained`` directory
(safetensors) as the artifact ``model``, which loads back with
``modelver.load(ref, loader=AutoModelForSequenceClassification.from_pretrained)``. Only the main process
(``state.is_world_process_zero``) stores checkpoints and the model. The Trainer's ``output_dir`` is kept out of the
code capture.
"""

from __future__ import annotations

import os
from typing import Any

import transformers

from modelver.integrations.binding import RunBinding, exclude_outputs

__all__ = ["ModelverCallback"]

#: ``TrainingArguments.output_dir`` when none is given (transformers 5).
DEFAULT_OUTPUT_DIR = "trainer_output"

exclude_outputs(DEFAULT_OUTPUT_DIR)


class ModelverCallback(transformers.TrainerCallback):
    """Records a ``Trainer`` run: arguments, model config, logged metrics, checkpoints and the final model.

    Joins the open ``modelver.track()`` run; with ``name=`` and no open run, opens one when training begins and
    publishes it when training ends (recorded as failed if training raises). A failure inside the callback is a
    capture error and one :class:`~modelver.CaptureWarning`: training goes on.

    Args:
        name: model name of the run to open when none is open (``None``: only join an open run).
        model_name: artifact name of the final ``save_pretrained`` directory (``None``: do not save it).
        checkpoints: store each checkpoint the Trainer saves as a run checkpoint.
        track_kwargs: more arguments for the ``track()`` call of a run the callback opens (``store=``,
            ``keep_checkpoints=``...).

    Example:
        >>> trainer = Trainer(model=m, args=a, train_dataset=d, callbacks=[ModelverCallback(name="tiny")])
        >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        model_name: str | None = "model",
        checkpoints: bool = True,
        **track_kwargs: Any,
    ) -> None:
        self.binding = RunBinding("transformers", ("transformers",), name, track_kwargs)
        self.model_name = model_name
        self.checkpoints = checkpoints

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Keep the Trainer's ``output_dir`` out of the code capture of runs opened from now on."""
        self.binding.guard("excluding output_dir", exclude_outputs, args.output_dir)

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        """Join or open the run; record the arguments and the model config."""
        self.binding.guard("excluding output_dir", exclude_outputs, args.output_dir)
        run = self.binding.begin()
        if run is None:
            return
        self.binding.guard("training arguments", lambda: run.log_config({"training_args": args.to_sanitized_dict()}))
        config = getattr(model, "config", None)
        if config is not None:
            self.binding.guard("model config", lambda: run.log_config({"model_config": config.to_diff_dict()}))

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Log the record's numbers (``loss``, ``learning_rate``, ``eval_*``...) at ``state.global_step``."""
        run = self.binding.run
        if run is None or not logs:
            return
        numbers = {k: v for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numbers:
            self.binding.guard("metrics", run.log_metrics, numbers, step=state.global_step)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Store the checkpoint directory just written as a run checkpoint (main process only)."""
        run = self.binding.run
        if run is None or not self.checkpoints or not state.is_world_process_zero:
            return
        path = os.path.join(args.output_dir, f"{transformers.trainer_utils.PREFIX_CHECKPOINT_DIR}-{state.global_step}")
        if os.path.isdir(path):
            self.binding.guard("checkpoint", run.save_checkpoint, path, step=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        """Save the model's ``save_pretrained`` directory (main process) and publish a run the callback opened."""
        run = self.binding.run
        if run is not None and model is not None and self.model_name is not None and state.is_world_process_zero:
            self.binding.guard("saving the model", run.save_model, model, self.model_name, format="directory")
        self.binding.finish()
