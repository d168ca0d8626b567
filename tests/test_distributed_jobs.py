"""Distributed jobs as real processes with the launcher's rank variables (``RANK``, ``WORLD_SIZE``,
``MODELVER_JOB_ID``): rank 0 dying after the others reported (the job shows as incomplete in ``modelver runs``),
and a preempted job that records itself as interrupted and is continued by the next job with ``resume=True``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver.store.objects import Store

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "modelver.cli"]

SCRIPT = """
import json, os, sys, time
import modelver

mode = sys.argv[1]
rank = int(os.environ["RANK"])
with modelver.track("job-model", report_timeout_s=60, resume=True) as run:
    state = run.latest_checkpoint()
    print(json.dumps({"rank": rank, "resumed_from": None if state is None else state["step"]}), flush=True)
    run.log_metrics({"rank": rank})
    if mode == "kill0" and rank == 0:
        os.kill(os.getpid(), 9)
    if mode == "preempt":
        run.save_checkpoint({"step": 5, "rank": rank}, step=5)
        print("saved", flush=True)
        time.sleep(120)  # the test sends SIGTERM, as SLURM or Kubernetes would
    run.save_model({"w": [0.5, rank]})
print(json.dumps({"rank": rank, "version": None if run.version is None else run.version.version}), flush=True)
"""


def start(tmp_path: Path, rank: int, job_id: str, mode: str) -> subprocess.Popen[str]:
    """Rank ``rank`` of a 2-rank job ``job_id`` as its own process."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {
        **os.environ,
        "PYTHONWARNINGS": "ignore",
        "RANK": str(rank),
        "WORLD_SIZE": "2",
        "LOCAL_RANK": str(rank),
        "MODELVER_JOB_ID": job_id,
    }
    return subprocess.Popen(
        [sys.executable, str(script), mode], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wide_env() -> dict[str, str]:
    """The environment with a terminal wide enough for the runs table's columns."""
    return {**os.environ, "COLUMNS": "200"}


def runs_json() -> list[dict[str, Any]]:
    """``modelver runs --json`` in a real CLI process."""
    out = subprocess.run([*CLI, "runs", "--json"], capture_output=True, text=True, check=True, timeout=120).stdout
    listed: list[dict[str, Any]] = json.loads(out)
    return listed


def test_rank0_dying_leaves_an_incomplete_job(tmp_path: Path, store_dir: Path) -> None:
    """Rank 1 finishes and reports; rank 0 is SIGKILLed in its block: no version, no record, and ``modelver runs``
    lists the job as incomplete, naming rank 1 as the one that reported."""
    rank1 = start(tmp_path, 1, "dies-1", "kill0")
    rank1.communicate(timeout=120)
    rank0 = start(tmp_path, 0, "dies-1", "kill0")
    rank0.communicate(timeout=120)
    assert (0, -signal.SIGKILL) == (rank1.returncode, rank0.returncode)
    store = Store(store_dir)
    assert [] == store.list_versions("job-model")
    assert [] == store.list_runs()
    [listed] = runs_json()
    assert ("job-dies-1-job-model-0-1", "job-model", "incomplete") == (
        listed["run_id"],
        listed["name"],
        listed["status"],
    )
    assert "rank 0 never reported" in listed["reason"]
    assert "1 (finished)" in listed["reason"]
    shown = subprocess.run([*CLI, "runs", "show", "job-dies-1"], capture_output=True, text=True, timeout=120)
    assert 0 == shown.returncode, shown.stderr
    assert "incomplete" in shown.stdout
    table = subprocess.run([*CLI, "runs"], capture_output=True, text=True, timeout=120, env=wide_env())
    assert "incomplete" in table.stdout


def test_published_job_is_not_listed(tmp_path: Path, store_dir: Path) -> None:
    """A job whose rank 0 published leaves its reports in the job area, and ``modelver runs`` lists nothing."""
    procs = [start(tmp_path, rank, "ok-1", "ok") for rank in (0, 1)]
    for proc in procs:
        proc.communicate(timeout=120)
    assert [0, 0] == [proc.returncode for proc in procs]
    assert ["0.1.0"] == Store(store_dir).list_versions("job-model")
    assert 2 == len(list((store_dir / "jobs").rglob("rank-*.json")))
    assert [] == runs_json()


def wait_for_line(proc: subprocess.Popen[str], wanted: str) -> list[str]:
    """Read ``proc``'s stdout until the line ``wanted``; the lines before it."""
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        if line.strip() == wanted:
            return lines
        lines.append(line)
    raise AssertionError(f"the rank ended before printing {wanted!r}: {lines}")


def test_preempted_job_is_interrupted_and_resumed(tmp_path: Path, store_dir: Path) -> None:
    """SIGTERM to both ranks after a checkpoint: one job record with status ``interrupted`` (not failed), its
    checkpoint step and series; a new job with ``resume=True`` starts from that checkpoint on every rank and
    publishes one version whose ``segments`` name the interrupted job."""
    first = [start(tmp_path, rank, "pre-1", "preempt") for rank in (0, 1)]
    for proc in first:
        wait_for_line(proc, "saved")
    for proc in first:
        proc.send_signal(signal.SIGTERM)
    for proc in first:
        proc.communicate(timeout=120)
    assert [-signal.SIGTERM, -signal.SIGTERM] == [proc.returncode for proc in first]
    [record] = [json.loads(raw) for raw in Store(store_dir).list_runs()]
    assert ("interrupted", "job-pre-1", 5, "SIGTERM") == (
        record["status"],
        record["series"],
        record["checkpoint_step"],
        record["signal"],
    )
    second = [start(tmp_path, rank, "pre-2", "ok") for rank in (0, 1)]
    outputs = [proc.communicate(timeout=120)[0] for proc in second]
    lines = [json.loads(line) for out in outputs for line in out.splitlines() if line.startswith("{")]
    assert [5, 5] == [line["resumed_from"] for line in lines if "resumed_from" in line]
    assert ["0.1.0", None] == [line["version"] for line in lines if "version" in line]
    manifest = modelver.get("job-model@0.1.0").manifest
    assert [(record["run_id"], "SIGTERM", 5)] == [(s.run_id, s.signal, s.checkpoint_step) for s in manifest.segments]
    assert manifest.distributed is not None
    assert (0, 1) == manifest.distributed.reported
