"""Distributed jobs: launcher detection and job ids (by environment), the job area, and one version per job with
real processes that share a job id through the environment (torchrun itself: tests/test_distributed_torchrun.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modelver
from modelver.distributed.job_area import RankReport, abandoned_job_areas, job_area_roots, write_report
from modelver.distributed.launcher import Launch, detect_launch, safe_job_id
from modelver.errors import JobIdError, ModelverError
from modelver.manifest import Manifest, RankSummary, ResourcesFacet
from modelver.serde import from_json_dict, to_json_dict
from modelver.store.objects import Store

TORCHRUN_STATIC = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "0"}


def test_torchrun_standalone_uses_the_run_id() -> None:
    """torchrun --standalone (or --rdzv-id) sets TORCHELASTIC_RUN_ID: that is the job id; rank and world size too."""
    launch = detect_launch({**TORCHRUN_STATIC, "TORCHELASTIC_RUN_ID": "3f2a-9c", "TORCHELASTIC_RESTART_COUNT": "2"})
    assert launch is not None
    expected = ("torchrun", "torchrun-3f2a-9c", 1, 4, 1, 2)
    assert expected == (
        launch.launcher,
        launch.job_id,
        launch.rank,
        launch.world_size,
        launch.local_rank,
        launch.attempt,
    )


def test_single_node_static_rendezvous_derives_the_id_from_the_launcher_process() -> None:
    """TORCHELASTIC_RUN_ID=none on one node: the id names the parent (the agent), so every rank agrees unasked."""
    launch = detect_launch({**TORCHRUN_STATIC, "TORCHELASTIC_RUN_ID": "none"})
    assert launch is not None
    assert f"-{os.getppid()}-" in launch.job_id
    assert "none" not in launch.job_id


def test_multi_node_static_rendezvous_asks_for_a_job_id() -> None:
    """Several nodes and no shared id: a typed error (also a ValueError) that says to pass job_id=."""
    env = {**TORCHRUN_STATIC, "LOCAL_WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "none"}
    with pytest.raises(JobIdError, match="job_id=") as caught:
        detect_launch(env)
    assert isinstance(caught.value, ModelverError)
    assert isinstance(caught.value, ValueError)
    launch = detect_launch(env, job_id="exp-7")
    assert launch is not None
    assert "exp-7" == launch.job_id


def test_slurm_job_id_wins_over_torchrun() -> None:
    """srun torchrun: SLURM_JOB_ID is the job id (stable across requeues), torchrun's RANK is the rank."""
    env = {**TORCHRUN_STATIC, "TORCHELASTIC_RUN_ID": "abc", "SLURM_JOB_ID": "991", "SLURM_PROCID": "0"}
    launch = detect_launch(env)
    assert launch is not None
    assert ("slurm-991", 1) == (launch.job_id, launch.rank)


def test_slurm_alone() -> None:
    """srun python train.py: ranks, nodes and restarts come from the SLURM variables."""
    env = {
        "SLURM_JOB_ID": "4242",
        "SLURM_PROCID": "5",
        "SLURM_NTASKS": "8",
        "SLURM_NODEID": "1",
        "SLURM_LOCALID": "1",
        "SLURM_NNODES": "2",
        "SLURM_RESTART_COUNT": "1",
    }
    launch = detect_launch(env)
    assert launch is not None
    expected = ("slurm", "slurm-4242", 5, 8, 1, 1, 1)
    actual = (
        launch.launcher,
        launch.job_id,
        launch.rank,
        launch.world_size,
        launch.node,
        launch.local_rank,
        launch.attempt,
    )
    assert expected == actual


def test_slurm_single_task_is_not_distributed() -> None:
    """A batch job of one task is one process: no job, one plain run."""
    assert detect_launch({"SLURM_JOB_ID": "1", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) is None


def test_open_mpi() -> None:
    """mpirun (Open MPI): OMPI_COMM_WORLD_* give the position, the PMIx namespace the job id."""
    env = {
        "OMPI_COMM_WORLD_RANK": "2",
        "OMPI_COMM_WORLD_SIZE": "4",
        "OMPI_COMM_WORLD_LOCAL_RANK": "0",
        "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
        "PMIX_NAMESPACE": "prterun-node1-1234@1",
    }
    launch = detect_launch(env)
    assert launch is not None
    assert ("mpi", 2, 4) == (launch.launcher, launch.rank, launch.world_size)
    assert launch.job_id.startswith("mpi-prterun-node1-1234_1-")


def test_mpich_on_one_node_uses_the_launcher_process() -> None:
    """mpiexec (MPICH/Hydra): PMI_RANK/PMI_SIZE; on one node the parent process names the job."""
    launch = detect_launch({"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALNRANKS": "2"})
    assert launch is not None
    assert ("mpi", 1, 2) == (launch.launcher, launch.rank, launch.world_size)
    assert f"-{os.getppid()}-" in launch.job_id
    with pytest.raises(JobIdError):
        detect_launch({"PMI_RANK": "1", "PMI_SIZE": "4", "MPI_LOCALNRANKS": "2"})


def test_ray_train_worker_by_environment() -> None:
    """Ray Train's torch workers get RANK/WORLD_SIZE; a RAY_TRAIN_* variable names the launcher."""
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "1", "RAY_TRAIN_WORKER": "1", "MODELVER_JOB_ID": "r1"}
    launch = detect_launch(env)
    assert launch is not None
    assert ("ray", "r1", 0, 2) == (launch.launcher, launch.job_id, launch.rank, launch.world_size)


def test_accelerate_is_named() -> None:
    """accelerate launch runs torchrun underneath and adds ACCELERATE_* variables."""
    launch = detect_launch({**TORCHRUN_STATIC, "TORCHELASTIC_RUN_ID": "x1", "ACCELERATE_MIXED_PRECISION": "no"})
    assert launch is not None
    assert "accelerate" == launch.launcher


def test_explicit_values_override_the_launcher() -> None:
    """job_id=, rank= and world_size= win over the environment; without any launcher they make a job."""
    launch = detect_launch({**TORCHRUN_STATIC, "TORCHELASTIC_RUN_ID": "x"}, job_id="mine", rank=3, world_size=8)
    assert launch is not None
    assert ("mine", 3, 8) == (launch.job_id, launch.rank, launch.world_size)
    assert Launch("explicit", "j", 0, 2, host=launch.host) == detect_launch({}, job_id="j", rank=0, world_size=2)


def test_bad_explicit_values_are_refused() -> None:
    """rank without world_size, or a rank outside the world, is a JobIdError that says what to pass."""
    with pytest.raises(JobIdError, match="pass both"):
        detect_launch({}, rank=1)
    with pytest.raises(JobIdError, match="outside"):
        detect_launch({}, job_id="j", rank=2, world_size=2)


def test_one_process_is_not_a_job() -> None:
    """No launcher variables, or a world of one: detection says None (a plain run)."""
    assert detect_launch({}) is None
    assert detect_launch({"RANK": "0", "WORLD_SIZE": "1", "TORCHELASTIC_RUN_ID": "x"}) is None


@given(st.text(min_size=1, max_size=300))
def test_job_ids_become_safe_path_segments(raw: str) -> None:
    """Any launcher or user id becomes one path segment; ids that were already safe stay unchanged."""
    safe = safe_job_id(raw)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,100}", safe)
    assert safe not in (".", "..")
    if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", raw) and raw not in (".", ".."):
        assert raw == safe


@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_different_job_ids_stay_different(a: str, b: str) -> None:
    """Two different ids never map to one job area (jobs must never merge)."""
    if a != b:
        assert safe_job_id(a) != safe_job_id(b)


def test_old_manifests_load_without_a_distributed_section() -> None:
    """A manifest written before this release (no ``distributed`` key) loads with ``distributed=None``."""
    old = {"name": "m", "created_at": "2026-01-01T00:00:00Z", "created_by": {"user": "u", "host": "h"}, "run_id": "r"}
    manifest = from_json_dict(old, Manifest)
    assert manifest.distributed is None
    assert to_json_dict(manifest)["distributed"] is None


def test_job_area_roots_keep_live_reports_blobs(tmp_path: Path) -> None:
    """gc roots: the blobs a live job area's reports name; an area older than the grace period gives none."""
    store = Store(tmp_path / "s")
    store.initialize()
    launch = Launch("explicit", "j1", 1, 2)
    summary = RankSummary(rank=1, resources=ResourcesFacet(series="blake3:" + "ab" * 32))
    area = str(tmp_path / "s" / "jobs" / "j1" / "m" / "0-1")
    write_report(store, area, RankReport(summary, "run-1", blobs=("blake3:" + "cd" * 32,), reported_at=1000.0))
    assert {"blake3:" + "ab" * 32, "blake3:" + "cd" * 32} == job_area_roots(store, grace_s=60.0, now=1030.0)
    assert set() == job_area_roots(store, grace_s=60.0, now=1100.0)
    assert [] == abandoned_job_areas(store, grace_s=60.0, now=1030.0)
    assert [area] == abandoned_job_areas(store, grace_s=60.0, now=1100.0)
    assert launch.job_id == "j1"


SCRIPT = """
import json, os, sys, time
import modelver
rank = int(os.environ["RANK"])
mode = sys.argv[1]
with modelver.track("job-model", report_timeout_s=float(sys.argv[2])) as run:
    run.log_metrics({"who": rank})
    if mode == "raise" and rank == 1:
        raise ValueError("rank 1 broke")
    if mode == "slow" and rank != 0:
        time.sleep(1.5)
    run.save_model({"w": [rank]})
print(json.dumps({"rank": rank, "version": None if run.version is None else run.version.version, "status": run.status}))
"""


def run_job(
    tmp_path: Path, world: int, mode: str, timeout: float = 30.0, job: str = "job-a"
) -> list[dict[str, object]]:
    """Start ``world`` real processes of SCRIPT that share a job id through the environment; their JSON lines."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "MODELVER_JOB_ID": job}
        env["PYTHONWARNINGS"] = "ignore"
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), mode, str(timeout)], env=env, stdout=subprocess.PIPE, text=True
            )
        )
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs if out.strip()]


def test_ranks_publish_one_version(tmp_path: Path, store_dir: Path) -> None:
    """Three processes of one job: rank 0 waits for the slower ranks, then one version with every rank's report;
    metrics stay per rank and only rank 0's artifact is stored."""
    results = run_job(tmp_path, 3, "slow")
    assert [("0.1.0", "published"), (None, "reported"), (None, "reported")] == [
        (r["version"], r["status"]) for r in sorted(results, key=lambda r: int(str(r["rank"])))
    ]
    assert ["0.1.0"] == Store(store_dir).list_versions("job-model")
    version = modelver.get("job-model")
    section = version.manifest.distributed
    assert section is not None
    assert (3, (0, 1, 2), "env", "job-a") == (section.world_size, section.reported, section.launcher, section.job_id)
    assert [{"who": 0}, {"who": 1}, {"who": 2}] == [r.metrics for r in section.ranks]
    assert {"who": 0} == version.manifest.metrics
    assert ["model.json"] == list(version.manifest.artifacts)
    assert all(r.resources.wall_time_s > 0 and r.outcome == "finished" for r in section.ranks)


def test_a_rank_raising_publishes_nothing(tmp_path: Path, store_dir: Path) -> None:
    """Rank 1 raises: no version; one failed-run record names the job, the failed rank and its traceback."""
    run_job(tmp_path, 2, "raise", timeout=20.0)
    store = Store(store_dir)
    assert [] == store.list_versions("job-model")
    records = [json.loads(raw) for raw in store.list_runs()]
    assert 1 == len(records)
    record = records[0]
    assert ("job-a", "failed", 1) == (record["job"]["job_id"], record["job"]["ranks"]["1"], record["failed_rank"])
    assert "ValueError: rank 1 broke" in record["traceback"]


def test_a_missing_rank_times_out_without_a_version(store_dir: Path) -> None:
    """Rank 0 alone in a world of two: it waits report_timeout_s, publishes nothing and records rank 1 missing."""
    started = time.monotonic()
    with (
        pytest.warns(UserWarning, match="rank 1: missing"),
        modelver.track("alone", job_id="j-missing", rank=0, world_size=2, report_timeout_s=0.5) as run,
    ):
        run.log_metrics({"x": 1})
    assert time.monotonic() - started >= 0.5
    assert (None, "failed") == (run.version, run.status)
    record = json.loads(Store(store_dir).list_runs()[0])
    assert {"0": "finished", "1": "missing"} == record["job"]["ranks"]
    shown = subprocess.run(
        [sys.executable, "-m", "modelver.cli", "runs", "show", record["run_id"]],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "ranks 0: finished, 1: missing" in shown.stdout  # each rank's outcome, not only in --json


def test_non_zero_rank_stores_no_artifacts(store_dir: Path) -> None:
    """On rank 1, save_model warns once and stores nothing; the run reports and has no version."""
    with modelver.track("r1", job_id="j-r1", rank=1, world_size=2) as run:
        with pytest.warns(UserWarning, match="stores nothing") as caught:
            path = run.save_model({"w": 1})
        run.save_model({"w": 2}, "other")  # a second call does not warn again (filterwarnings = error)
    assert "model" == path
    assert 1 == len(caught)
    assert (None, "reported") == (run.version, run.status)
    stored = [p.read_bytes() for p in (store_dir / "blobs").rglob("*") if p.is_file()]
    assert [] == [b for b in stored if b.replace(b" ", b"") in (b'{"w":1}', b'{"w":2}')]
