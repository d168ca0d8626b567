"""The integrations under a real multi-process launch: the transformers Trainer under torchrun (2 CPU processes,
gloo) publishes one version for the job, with rank 0's checkpoints and model."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import modelver

TORCHRUN = str(Path(sys.executable).parent / "torchrun")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(TORCHRUN).exists(), reason="torchrun is not installed in this environment"),
]

HF_SCRIPT = """
import os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
import torch, transformers
from modelver.integrations.transformers import ModelverCallback

torch.manual_seed(0)
config = transformers.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=16, num_labels=2)
model = transformers.BertForSequenceClassification(config)
ids = torch.randint(4, 30, (16, 8), generator=torch.Generator().manual_seed(0))
data = [{"input_ids": ids[i], "labels": int((ids[i] == 3).any())} for i in range(16)]
args = transformers.TrainingArguments(sys.argv[1], max_steps=4, per_device_train_batch_size=2, logging_steps=1,
                                      save_steps=2, report_to="none", use_cpu=True, ddp_backend="gloo")
callback = ModelverCallback(name="hf-ddp", report_timeout_s=120)
transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[callback]).train()
"""


def test_trainer_under_torchrun_publishes_one_version(tmp_path: Path, store_dir: Path) -> None:
    """torchrun --nproc_per_node=2 on a Trainer with the callback: one version whose distributed section has both
    ranks, the model saved once (by rank 0), and the checkpoints of rank 0 in the job's checkpoint series."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(HF_SCRIPT))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [TORCHRUN, "--nproc_per_node=2", str(script), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert 0 == result.returncode, result.stderr[-3000:]
    versions = modelver.list_versions("hf-ddp")
    manifest = modelver.get("hf-ddp").manifest
    series = list((store_dir / "checkpoints" / "hf-ddp").iterdir())
    steps = sorted(int(p.name.split(".")[0]) for p in series[0].glob("0*.json")) if len(series) == 1 else []

    assert 1 == len(versions)
    assert manifest.distributed is not None
    assert (2, (0, 1)) == (manifest.distributed.world_size, manifest.distributed.reported)
    assert "model/model.safetensors" in manifest.artifacts
    assert [2, 4] == steps


LIGHTNING_SCRIPT = """
import torch, lightning
from modelver.integrations.lightning import ModelverLogger

class Tiny(lightning.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(3, 1)

    def training_step(self, batch, i):
        loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.rand(32, 3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
    trainer = lightning.Trainer(max_epochs=1, strategy="ddp", accelerator="cpu", devices=2, log_every_n_steps=1,
                                logger=ModelverLogger(name="lit-ddp", report_timeout_s=120),
                                enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Tiny(), loader)
"""


def test_lightning_ddp_on_two_processes_publishes_one_version(tmp_path: Path, store_dir: Path) -> None:
    """strategy="ddp", devices=2 on CPU (Lightning starts the second process itself): one version for the job,
    both ranks reported, the metrics and the module from rank 0."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(LIGHTNING_SCRIPT))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert 0 == result.returncode, result.stderr[-3000:]
    versions = modelver.list_versions("lit-ddp")
    manifest = modelver.get("lit-ddp").manifest

    assert 1 == len(versions)
    assert manifest.distributed is not None
    assert (2, (0, 1)) == (manifest.distributed.world_size, manifest.distributed.reported)
    assert "train_loss" in manifest.metrics
    assert "model.safetensors" in manifest.artifacts
