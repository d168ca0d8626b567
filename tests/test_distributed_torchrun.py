"""One version per job under the real ``torchrun`` (CPU, gloo backend): 2 and 4 processes on one node, two launchers
on localhost standing in for two nodes, and the failure semantics (a rank raising, a rank SIGKILLed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver.store.objects import Store

pytest.importorskip("torch")

TORCHRUN = str(Path(sys.executable).parent / "torchrun")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(TORCHRUN).exists(), reason="torchrun is not installed in this environment"),
]

SCRIPT = """
import json, os, sys, time
import torch, torch.distributed as dist
import modelver

mode = sys.argv[1]
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
ddp = torch.nn.parallel.DistributedDataParallel(model)
with modelver.track("ddp-job", report_timeout_s=120) as run:
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    for step in range(3):
        loss = ddp(torch.randn(8, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log_metrics({"loss": loss.item(), "rank": rank}, step=step)
    if mode == "raise" and rank == 1:
        raise ValueError("rank 1 broke")
    if mode == "kill" and rank == 1:
        os.kill(os.getpid(), 9)
    if mode != "ok" and rank == 0:
        time.sleep(120)  # torchrun stops this rank (SIGTERM) once rank 1 is gone
    run.save_model(model)
print(json.dumps({"rank": rank, "version": None if run.version is None else run.version.version}), flush=True)
dist.destroy_process_group()
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(tmp_path: Path, *args: str, mode: str = "ok") -> subprocess.Popen[str]:
    """Start ``torchrun ARGS train.py MODE`` with warnings silenced (the ranks' output is parsed)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [TORCHRUN, *args, str(script), mode], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def results(*procs: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """Wait for the launchers; every rank's JSON line, by rank."""
    lines = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return sorted(lines, key=lambda r: int(r["rank"]))


def check_one_version(store_dir: Path, world: int, nodes: int) -> None:
    """Exactly one version of ddp-job, whose ``distributed`` section has every rank's report and resources."""
    assert ["0.1.0"] == Store(store_dir).list_versions("ddp-job")
    section = modelver.get("ddp-job@0.1.0").manifest.distributed
    assert section is not None
    assert (world, nodes, tuple(range(world)), ()) == (
        section.world_size,
        section.nodes,
        section.reported,
        section.mismatched,
    )
    assert [float(r) for r in range(world)] == [float(r.metrics["rank"] or 0) for r in section.ranks]
    assert all(r.resources.peak_rss_bytes > 0 and r.resources.wall_time_s > 0 for r in section.ranks)
    assert sum(r.resources.cpu_time_s for r in section.ranks) == pytest.approx(section.cpu_time_s)


@pytest.mark.parametrize("world", [2, 4])
def test_torchrun_one_node_publishes_one_version(world: int, tmp_path: Path, store_dir: Path) -> None:
    """torchrun --nproc_per_node=N, no job_id= anywhere: one version, N ranks reported, rank 0 holds it."""
    ranks = results(launch(tmp_path, f"--nproc_per_node={world}"))
    assert ["0.1.0"] + [None] * (world - 1) == [r["version"] for r in ranks]
    check_one_version(store_dir, world, nodes=1)


def test_torchrun_two_nodes_on_localhost(tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two launchers (--nnodes=2, static rendezvous) with MODELVER_JOB_ID set the way a job script would."""
    monkeypatch.setenv("MODELVER_JOB_ID", "two-nodes-1")
    port = str(free_port())
    common = ["--nnodes=2", "--nproc-per-node=1", "--master-addr=127.0.0.1", f"--master-port={port}"]
    node0 = launch(tmp_path, *common, "--node-rank=0")
    node1 = launch(tmp_path, *common, "--node-rank=1")
    ranks = results(node0, node1)
    assert ["0.1.0", None] == [r["version"] for r in ranks]
    check_one_version(store_dir, 2, nodes=2)


def test_torchrun_rank_raising_publishes_nothing(tmp_path: Path, store_dir: Path) -> None:
    """Rank 1 raises: no version, and one failed-run record that names the job, rank 1 and its traceback."""
    proc = launch(tmp_path, "--nproc_per_node=2", mode="raise")
    results(proc)
    assert 0 != proc.returncode
    store = Store(store_dir)
    assert [] == store.list_versions("ddp-job")
    [record] = [json.loads(raw) for raw in store.list_runs()]
    assert ("failed", 1, "torchrun") == (record["job"]["ranks"]["1"], record["failed_rank"], record["job"]["launcher"])
    assert "ValueError: rank 1 broke" in record["traceback"]


def test_torchrun_rank_sigkilled_publishes_nothing(tmp_path: Path, store_dir: Path) -> None:
    """Rank 1 is SIGKILLed: no version and no tag; rank 0, stopped by torchrun, records the job with rank 1
    missing; the reports stay in the job area."""
    proc = launch(tmp_path, "--nproc_per_node=2", mode="kill")
    results(proc)
    store = Store(store_dir)
    assert [] == store.list_versions("ddp-job")
    assert not (store_dir / "names").exists()
    [record] = [json.loads(raw) for raw in store.list_runs()]
    assert {"0": "interrupted", "1": "missing"} == record["job"]["ranks"]
    assert ["rank-0.json"] == sorted(p.name for p in (store_dir / "jobs").rglob("rank-*.json"))


ACCELERATE_SCRIPT = """
import json
import torch
from accelerate import Accelerator
import modelver

accelerator = Accelerator(cpu=True)
model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model, optimizer = accelerator.prepare(model, optimizer)
with modelver.track("ddp-job", report_timeout_s=120) as run:
    loss = model(torch.randn(8, 4)).pow(2).mean()
    accelerator.backward(loss)
    optimizer.step()
    run.log_metrics({"rank": accelerator.process_index})
    run.save_model(accelerator.unwrap_model(model))
rank = accelerator.process_index
print(json.dumps({"rank": rank, "version": None if run.version is None else run.version.version}), flush=True)
"""


def test_accelerate_launch_publishes_one_version(tmp_path: Path, store_dir: Path) -> None:
    """``accelerate launch`` (torchrun underneath, TORCHELASTIC_RUN_ID=none): one version, launcher accelerate."""
    pytest.importorskip("accelerate")
    script = tmp_path / "acc.py"
    script.write_text(textwrap.dedent(ACCELERATE_SCRIPT))
    accelerate = str(Path(sys.executable).parent / "accelerate")
    args = ["launch", "--multi_gpu", "--num_processes=2", "--num_machines=1", "--mixed_precision=no"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [accelerate, *args, "--dynamo_backend=no", str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    ranks = results(proc)
    assert ["0.1.0", None] == [r["version"] for r in ranks]
    check_one_version(store_dir, 2, nodes=1)
    section = modelver.get("ddp-job@0.1.0").manifest.distributed
    assert section is not None
    assert "accelerate" == section.launcher
