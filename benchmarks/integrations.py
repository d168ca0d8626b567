"""What do the framework integrations cost a training loop?

Prints, measured in this run on this machine, as ratios against the bare framework in the same run:
- per framework (XGBoost, LightGBM, Keras on torch, transformers Trainer, Lightning): the time of a short fit whose
  steps are tiny (so that the callback's own per-step work is as visible as it can be) with the callback logging
  every step into an open ``track()`` run, over the same fit without it; and the callback's cost per step in µs;
- the whole overhead on an XGBoost fit of at least ``MIN_FIT_S`` seconds: the callback opening its own run,
  logging every iteration, saving the model and publishing the version, over the bare fit.

Run: ``.venv/bin/python benchmarks/integrations.py [--quick]``. Goal: the whole overhead at most 1.05x.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np

import modelver

QUICK = "--quick" in sys.argv
REPEAT = 3 if QUICK else 5
MIN_FIT_S = 10.0


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(bare: Callable[[], object], tracked: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    """Median seconds of ``bare`` and ``tracked``, interleaved (after one warm-up of each)."""
    bare()
    tracked()
    a, b = [], []
    for _ in range(repeat):
        a.append(timed(bare))
        b.append(timed(tracked))
    return statistics.median(a), statistics.median(b)


def in_run(fit: Callable[[list[object]], object], callback: Callable[[], object]) -> Callable[[], object]:
    def go() -> object:
        with modelver.track("bench"):
            return fit([callback()])

    return go


def bare_in_run(fit: Callable[[list[object]], object]) -> Callable[[], object]:
    def go() -> object:
        with modelver.track("bench"):
            return fit([])

    return go


def xgb_case(steps: int) -> tuple[Callable[[list[object]], object], Callable[[], object]]:
    import xgboost

    from modelver.integrations.xgboost import ModelverCallback

    rng = np.random.default_rng(0)
    x = rng.random((200, 5))
    d = xgboost.DMatrix(x, (x[:, 0] > 0.5).astype(int))

    def fit(callbacks: list[object]) -> object:
        return xgboost.train(
            {"max_depth": 2, "nthread": 1}, d, steps, evals=[(d, "t")], callbacks=callbacks, verbose_eval=False
        )

    return fit, lambda: ModelverCallback(model_name=None)


def lgb_case(steps: int) -> tuple[Callable[[list[object]], object], Callable[[], object]]:
    import lightgbm

    from modelver.integrations.lightgbm import ModelverCallback

    rng = np.random.default_rng(0)
    x = rng.random((200, 5))
    y = (x[:, 0] > 0.5).astype(int)

    def fit(callbacks: list[object]) -> object:
        d = lightgbm.Dataset(x, y)
        params = {"num_leaves": 4, "verbose": -1, "num_threads": 1}
        return lightgbm.train(params, d, steps, valid_sets=[d], callbacks=callbacks)

    return fit, lambda: ModelverCallback(model_name=None)


def keras_case(steps: int, every: int = 0) -> tuple[Callable[[list[object]], object], Callable[[], object]]:
    import keras

    from modelver.integrations.keras import ModelverCallback

    x = np.random.default_rng(0).random((steps * 4, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    def fit(callbacks: list[object]) -> object:
        return model.fit(x, x.sum(1), epochs=1, batch_size=4, verbose=0, callbacks=callbacks)

    return fit, lambda: ModelverCallback(model_name=None, log_every_n_batches=every)


def hf_case(steps: int, out: str) -> tuple[Callable[[list[object]], object], Callable[[], object]]:
    import torch
    import transformers

    from modelver.integrations.transformers import ModelverCallback

    transformers.logging.set_verbosity_error()
    config = transformers.BertConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8, num_labels=2
    )
    ids = torch.randint(4, 30, (steps * 2, 4))
    data = [{"input_ids": ids[i], "labels": int(i % 2)} for i in range(len(ids))]

    def fit(callbacks: list[object]) -> object:
        args = transformers.TrainingArguments(
            out,
            max_steps=steps,
            per_device_train_batch_size=2,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            log_level="error",
        )
        model = transformers.BertForSequenceClassification(config)
        trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks)
        trainer.remove_callback(transformers.PrinterCallback)  # disable_tqdm prints every log record otherwise
        return trainer.train()

    return fit, lambda: ModelverCallback(model_name=None, checkpoints=False)


def lightning_case(steps: int) -> tuple[Callable[[list[object]], object], Callable[[], object]]:
    import lightning
    import torch

    from modelver.integrations.lightning import ModelverLogger

    class Tiny(lightning.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(3, 1)

        def training_step(self, batch: list[torch.Tensor], i: int) -> torch.Tensor:
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("loss", loss)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x = torch.rand(steps * 2, 3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=2)

    class NoOp(lightning.pytorch.loggers.Logger):  # type: ignore[misc]
        """The baseline: a logger that drops everything (Lightning's own per-step metric collection still runs)."""

        name = "noop"
        version = "0"

        def log_hyperparams(self, params: object, *args: object, **kwargs: object) -> None:
            pass

        def log_metrics(self, metrics: object, step: object = None) -> None:
            pass

    def fit(loggers: list[object]) -> object:
        trainer = lightning.Trainer(
            max_epochs=1,
            logger=loggers[0] if loggers else NoOp(),
            log_every_n_steps=1,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
            devices=1,
        )
        return trainer.fit(Tiny(), loader)

    return fit, lambda: ModelverLogger(model_name=None, checkpoints=False)


def main() -> None:
    warnings.simplefilter("ignore")
    work = Path(tempfile.mkdtemp(prefix="modelver-bench-"))
    os.environ["MODELVER_STORE"] = str(work / "store")
    os.chdir(work)  # no git repository: the code capture is a small source snapshot
    steps = 100 if QUICK else 200
    cases = {
        "xgboost": xgb_case(steps),
        "lightgbm": lgb_case(steps),
        "keras": keras_case(steps),
        "keras batches": keras_case(steps, every=1),  # Keras then converts every batch's logs
        "transformers": hf_case(steps // 4, str(work / "hf")),
        "lightning": lightning_case(steps),
    }
    print(
        f"per-step cost, {steps} tiny steps (transformers {steps // 4}), callback logging every step, "
        f"median of {REPEAT}"
    )
    for name, (fit, callback) in cases.items():
        n = steps // 4 if name == "transformers" else steps
        bare, tracked = compare(bare_in_run(fit), in_run(fit, callback))
        print(
            f"  {name:13s} bare {bare:7.3f} s  with callback {tracked:7.3f} s  ratio {tracked / bare:5.3f}x  "
            f"{(tracked - bare) / n * 1e6:8.1f} µs/step"
        )

    import xgboost

    from modelver.integrations.xgboost import ModelverCallback

    rng = np.random.default_rng(0)
    x = rng.random((20000, 20))
    d = xgboost.DMatrix(x, (x[:, 0] + x[:, 1] > 1).astype(int))
    rounds = 50

    def long_fit(rounds: int, callbacks: list[object]) -> object:
        params = {"max_depth": 6, "nthread": 1}
        return xgboost.train(params, d, rounds, evals=[(d, "t")], verbose_eval=False, callbacks=callbacks)

    rounds = 50
    while (took := timed(partial(long_fit, rounds, []))) < MIN_FIT_S:  # grow the fit until the bare one is long
        rounds = int(rounds * MIN_FIT_S / max(took, 0.1) * 1.1) + 1

    def bare_fit() -> object:
        return long_fit(rounds, [])

    def tracked_fit() -> object:
        return long_fit(rounds, [ModelverCallback(name="bench-long")])

    a, b = [], []
    for _ in range(2 if QUICK else 3):
        a.append(timed(bare_fit))
        b.append(timed(tracked_fit))
    bare, tracked = statistics.median(a), statistics.median(b)
    print(
        f"whole overhead, XGBoost fit of {rounds} rounds: bare {bare:.2f} s, callback opening, logging every round,"
        f" saving and publishing {tracked:.2f} s: ratio {tracked / bare:.3f}x (goal <= 1.05x)"
    )


if __name__ == "__main__":
    main()
