"""Ray Train (TorchTrainer, 2 CPU workers, gloo): the workers of one training run publish one version, detected
from Ray Train's own train context. Ray runs in a child process (its own driver) on 127.0.0.1 with a tmp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import modelver
from modelver.store.objects import Store

pytest.importorskip("torch")
pytest.importorskip("ray.train.torch", reason="ray[train] is not installed (pip install -e '.[dev]' installs it)")

pytestmark = pytest.mark.slow

DRIVER = """
import json, os, shutil, sys
import ray
import ray.train
import torch
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchConfig, TorchTrainer

temp_dir, results_dir = sys.argv[1], sys.argv[2]


def train_fn(config):
    import torch
    import modelver
    from modelver.distributed.launcher import detect_launch

    ctx = ray.train.get_context()
    launch = detect_launch()
    model = torch.nn.Linear(4, 1)
    with modelver.track("ray-job", report_timeout_s=120) as run:
        loss = model(torch.randn(8, 4)).pow(2).mean()
        loss.backward()
        for _ in range(100):  # enough CPU work that each rank's CPU time is measurably above zero
            torch.randn(128, 128) @ torch.randn(128, 128)
        run.log_metrics({"rank": ctx.get_world_rank()})
        run.save_model(model)
    print("RESULT " + json.dumps({"rank": ctx.get_world_rank(), "launcher": launch.launcher,
                                  "job_id": launch.job_id,
                                  "version": None if run.version is None else run.version.version}), flush=True)


ray.init(address="local", include_dashboard=False, num_cpus=2, _temp_dir=temp_dir,
         _node_ip_address="127.0.0.1", runtime_env={"env_vars": {k: os.environ[k] for k in (
             "MODELVER_STORE", "MODELVER_CACHE", "PYTHONWARNINGS", "OMP_NUM_THREADS")}})
try:
    trainer = TorchTrainer(
        train_fn,
        scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
        torch_config=TorchConfig(backend="gloo"),
        run_config=RunConfig(name="modelver-ray", storage_path=results_dir),
    )
    trainer.fit()
finally:
    ray.shutdown()
"""


def test_ray_torch_trainer_publishes_one_version(tmp_path: Path, store_dir: Path) -> None:
    """TorchTrainer with 2 CPU workers: exactly one version with world_size 2, both ranks' resources, launcher
    ``ray`` (from ``ray.train.get_context()``), and the other rank publishes nothing."""
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER))
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        proc = subprocess.run(
            [sys.executable, str(script), temp_dir, str(tmp_path / "results")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        subprocess.run(["rm", "-rf", temp_dir], check=False)
    assert 0 == proc.returncode, proc.stderr[-4000:]
    # Ray forwards the workers' output to the driver (once or more): one line per rank, deduplicated.
    lines = {line.split("RESULT ", 1)[1] for line in (proc.stdout + proc.stderr).splitlines() if "RESULT {" in line}
    ranks = sorted((json.loads(line) for line in lines), key=lambda r: int(r["rank"]))
    assert [(0, "ray", "0.1.0"), (1, "ray", None)] == [(r["rank"], r["launcher"], r["version"]) for r in ranks]
    assert ranks[0]["job_id"] == ranks[1]["job_id"]
    assert ["0.1.0"] == Store(store_dir).list_versions("ray-job")
    section = modelver.get("ray-job@0.1.0").manifest.distributed
    assert section is not None
    assert ("ray", 2, (0, 1)) == (section.launcher, section.world_size, section.reported)
    assert all(r.resources.peak_rss_bytes > 0 and r.resources.cpu_time_s > 0 for r in section.ranks)
