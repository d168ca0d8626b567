"""Hugging Face transformers integration: a 2-layer model built from a config, trained by the Trainer offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # set before transformers is imported: nothing here may reach a hub

import torch
import transformers

import modelver
from modelver.integrations.transformers import ModelverCallback


class _Tokens(torch.utils.data.Dataset):  # type: ignore[misc]
    """A tokenizer-free dataset: label 1 when token 3 appears."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(4, 30, (16, 8), generator=generator)
        self.ids[::2, 2] = 3
        self.labels = (self.ids == 3).any(dim=1).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, object]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def _tiny_model() -> object:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=32,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


@pytest.mark.slow
def test_trainer_callback_versions_args_metrics_checkpoints_and_model(tmp_path: Path, store_dir: Path) -> None:
    """One version: TrainingArguments and model config as config, loss per logged step, the Trainer's checkpoints
    as run checkpoints, and a save_pretrained model that from_pretrained loads in a fresh process with the same
    logits; the output_dir never shows up as untracked code."""
    model = _tiny_model()
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=4,
        per_device_train_batch_size=4,
        logging_steps=1,
        save_steps=2,
        report_to="none",
        use_cpu=True,
        learning_rate=1e-3,
    )
    data = _Tokens()
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, callbacks=[ModelverCallback(name="tiny-bert")]
    )
    trainer.train()
    version = modelver.get("tiny-bert")
    config = version.config(plain=True)
    steps = [h["step"] for h in version.metrics_history() if "loss" in h["metrics"]]
    # checkpoints/<name>/<series>/<step:012d>.json (modelver.tracking.checkpoints); a fresh run's series is its id
    records = sorted((store_dir / "checkpoints" / "tiny-bert" / version.manifest.run_id).glob("0*.json"))
    checkpoint_steps = [json.loads(r.read_text())["step"] for r in records]
    checkpoint_files = {name for r in records for name in json.loads(r.read_text())["files"]}
    torch.save(data.ids[:4], tmp_path / "ids.pt")
    script = tmp_path / "predict.py"
    script.write_text(
        textwrap.dedent("""
        import json, sys, torch, transformers, modelver
        model = modelver.load("tiny-bert", loader=transformers.BertForSequenceClassification.from_pretrained)
        model.eval()
        with torch.no_grad():
            print(json.dumps(model(input_ids=torch.load(sys.argv[1])).logits.tolist()))
    """)
    )
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ids.pt")],
        capture_output=True,
        text=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
    )
    assert 0 == out.returncode, out.stderr
    model.eval()
    with torch.no_grad():
        expected = model(input_ids=data.ids[:4]).logits.tolist()

    assert [1, 2, 3, 4] == steps
    assert 4 == config["training_args"]["max_steps"]
    assert 2 == config["model_config"]["num_hidden_layers"]
    assert "transformers" == config["integration"]["framework"]
    assert "model/model.safetensors" in version.manifest.artifacts
    assert expected == json.loads(out.stdout.strip().splitlines()[-1])
    assert [2, 4] == checkpoint_steps
    assert any(name.endswith("model.safetensors") for name in checkpoint_files)
