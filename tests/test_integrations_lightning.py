"""Lightning integration (`lightning` 2.x and the `pytorch_lightning` package name): hyperparameters, metrics per
step, ModelCheckpoint files as run checkpoints, the module round-tripping, and output folders kept out of the code
capture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelver

# A LightningModule in a real module file, so that a fresh process can import (trust) it to rebuild it.
MODULE = """
import importlib
import os

import torch

L = importlib.import_module(os.environ.get("TINYMOD_BASE", "lightning"))


class Tiny(L.LightningModule):
    def __init__(self, hidden=4, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def get_config(self):
        return dict(self.hparams)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, i):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

def loader():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 3, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
"""

TRAIN = """
import sys, torch
import {package} as L
from modelver.integrations.lightning import {logger} as Logger
import tinymod

torch.manual_seed(0)
model = tinymod.Tiny(hidden=4)
trainer = L.Trainer(max_epochs=2, logger=Logger(name=sys.argv[1]), log_every_n_steps=1, enable_progress_bar=False,
                    enable_model_summary=False, accelerator="cpu", devices=1)
trainer.fit(model, tinymod.loader())
torch.save(model(torch.ones(2, 3)).detach(), "expected.pt")
"""

PREDICT = """
import json, sys, torch, modelver
import tinymod
model = modelver.load(sys.argv[1], trusted=["tinymod"])
print(json.dumps({"type": type(model).__name__, "pred": model(torch.ones(2, 3)).tolist()}))
"""


def _run(script: str, *args: str, cwd: Path, base: str = "lightning") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(cwd), "TINYMOD_BASE": base}
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert 0 == result.returncode, result.stderr
    return result


@pytest.mark.slow
def test_lightning_logger_versions_a_fit_in_a_repo_without_dirtying_it(make_repo, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Two fits in a clean git repo: each publishes one version with hparams, a metric per step and the
    ModelCheckpoint file as a run checkpoint; lightning_logs/ from the first fit neither shows up as untracked nor
    makes the second run dirty."""
    repo = make_repo({"tinymod.py": MODULE, ".gitignore": "expected.pt\n"})
    script = TRAIN.format(package="lightning", logger="ModelverLogger")
    _run(script, "tiny-lit", cwd=repo)
    _run(script, "tiny-lit", cwd=repo)

    assert (repo / "lightning_logs").is_dir()
    second = modelver.get("tiny-lit@0.1.1")
    manifest = second.manifest
    steps = [h["step"] for h in second.metrics_history() if "train_loss" in h["metrics"]]
    records = sorted((store_dir / "checkpoints" / "tiny-lit" / manifest.run_id).glob("0*.json"))
    config = second.config(plain=True)

    assert manifest.code.git is not None
    assert {} == manifest.code.git.untracked
    assert manifest.code.git.dirty is False
    assert {"hidden": 4, "lr": 0.1} == config["hparams"]
    assert "lightning" == config["integration"]["framework"]
    assert list(range(8)) == steps
    assert records
    assert all(name.endswith(".ckpt") for r in records for name in json.loads(r.read_text())["files"])
    assert "model.safetensors" in manifest.artifacts


@pytest.mark.slow
def test_pytorch_lightning_logger_model_round_trips(tmp_path: Path) -> None:
    """The pytorch_lightning package name works too, and the saved module, rebuilt from get_config() in a fresh
    process, predicts what the trained one predicted."""
    (tmp_path / "tinymod.py").write_text(MODULE)
    _run(
        TRAIN.format(package="pytorch_lightning", logger="PytorchLightningModelverLogger"),
        "tiny-pl",
        cwd=tmp_path,
        base="pytorch_lightning",
    )
    out = json.loads(_run(PREDICT, "tiny-pl", cwd=tmp_path, base="pytorch_lightning").stdout.strip().splitlines()[-1])

    import torch

    expected = torch.load(tmp_path / "expected.pt").tolist()
    assert "pytorch_lightning" == modelver.get("tiny-pl").config(plain=True)["integration"]["framework"]
    assert "Tiny" == out["type"]
    assert expected == out["pred"]
