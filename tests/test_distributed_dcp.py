"""Sharded checkpoints under the real ``torchrun`` (2 CPU processes, gloo): every rank saves the same
``torch.distributed.checkpoint`` directory with ``run.save_checkpoint(directory, step=N)``, which becomes ONE
checkpoint entry for step N holding every rank's files, loadable with ``torch.distributed.checkpoint.load``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelver.store.objects import Store

pytest.importorskip("torch")

TORCHRUN = str(Path(sys.executable).parent / "torchrun")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(TORCHRUN).exists(), reason="torchrun is not installed in this environment"),
]

SCRIPT = """
import json, sys
import torch, torch.distributed as dist
import torch.distributed.checkpoint as dcp
import modelver

shared = sys.argv[1]
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(rank)
# Different values on each rank (no DDP broadcast): each rank's shard file holds its own tensor.
state = {f"w{rank}": torch.full((64,), float(rank + 1))}
with modelver.track("dcp-job", report_timeout_s=120) as run:
    for step in (1, 2):
        state[f"w{rank}"] += step
        dcp.save(state, checkpoint_id=f"{shared}/step-{step}")
        run.save_checkpoint(f"{shared}/step-{step}", step=step)
    restored = run.latest_checkpoint()
    fresh = {f"w{rank}": torch.zeros(64)}
    dcp.load(fresh, checkpoint_id=str(restored))
    run.save_model({"done": [1.0]})
same = bool(torch.equal(fresh[f"w{rank}"], state[f"w{rank}"]))
print(json.dumps({"rank": rank, "restored": same, "version": None if run.version is None else run.version.version}),
      flush=True)
dist.destroy_process_group()
"""


def test_dcp_directory_is_one_checkpoint_per_step(tmp_path: Path, store_dir: Path) -> None:
    """torchrun --nproc_per_node=2 with ``dcp.save`` on a shared directory: per step one entry (kind
    ``sharded``) with both ranks' shards and the metadata, and ``latest_checkpoint()`` restores each rank's state."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [TORCHRUN, "--nproc_per_node=2", str(script), str(tmp_path / "shared")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert 0 == proc.returncode, proc.stderr[-4000:]
    ranks = sorted((json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")), key=lambda r: r["rank"])
    assert [(0, True, "0.1.0"), (1, True, None)] == [(r["rank"], r["restored"], r["version"]) for r in ranks]
    assert ["0.1.0"] == Store(store_dir).list_versions("dcp-job")
    [series] = (store_dir / "checkpoints" / "dcp-job").iterdir()
    entries = sorted(p.name for p in series.iterdir() if ".rank" not in p.name and p.name[:1].isdigit())
    assert [f"{1:012d}.json", f"{2:012d}.json"] == entries
    entry = json.loads((series / f"{2:012d}.json").read_text())
    expected = {".metadata", "__0_0.distcp", "__1_0.distcp"}
    assert ("sharded", [0, 1]) == (entry["kind"], entry["ranks"])
    assert expected == set(entry["files"])
