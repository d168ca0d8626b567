"""Checkpoints, keep_checkpoints and resume: SIGTERM after two checkpoints, then ``track(resume=True)`` finishes
the run, and its model equals the one an uninterrupted run with the same seed makes (real processes, signals)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import modelver
from modelver.errors import VersionNotFoundError
from modelver.store.objects import Store
from modelver.tracking.checkpoints import checkpoint_roots, training_roots
from modelver.tracking.failed_run import read_runs

SCRIPT = """
import json, random, sys, time
import modelver

mode, name = sys.argv[1], sys.argv[2]
TOTAL = 6
with modelver.track(name, keep_checkpoints=2, resume=(mode == "resume")) as run:
    state = run.latest_checkpoint() if mode == "resume" else None
    if state is None:
        state = {"step": 0, "w": [0.0, 0.0]}
    print(f"start {state['step']}", flush=True)
    w = list(state["w"])
    for step in range(state["step"] + 1, TOTAL + 1):
        rng = random.Random(1000 + step)
        for _ in range(200):
            x = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
            error = w[0] * x[0] + w[1] * x[1] - (3 * x[0] - 2 * x[1])
            w = [w[0] - 0.05 * error * x[0], w[1] - 0.05 * error * x[1]]
        run.log_metrics({"w0": w[0]}, step=step)
        if step % 2 == 0:
            run.save_checkpoint({"step": step, "w": w}, step=step)
            print(f"checkpoint {step}", flush=True)
            if mode == "interrupt" and step == 4:
                time.sleep(120)
    run.save_model({"w": w})
print(json.dumps({"version": run.version.version}), flush=True)
"""


def train(tmp_path: Path, mode: str, name: str) -> subprocess.Popen[str]:
    """Start SCRIPT in ``mode`` (full, interrupt, resume) for model ``name``."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, str(script), mode, name], env=env, stdout=subprocess.PIPE, text=True)


def test_sigterm_then_resume_equals_an_uninterrupted_run(tmp_path: Path, store_dir: Path) -> None:
    """Interrupted at step 4 (after checkpoints 2 and 4), resumed from 4: the same final weights as a run that was
    never interrupted; the version records the interrupted segment, and resources summed over both."""
    full = train(tmp_path, "full", "uninterrupted")
    full.communicate(timeout=120)
    assert 0 == full.returncode

    first = train(tmp_path, "interrupt", "resumable")
    assert first.stdout is not None
    assert ["start 0", "checkpoint 2", "checkpoint 4"] == [first.stdout.readline().strip() for _ in range(3)]
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=120)
    assert -signal.SIGTERM == first.returncode
    [record] = [json.loads(raw) for raw in Store(store_dir).list_runs()]
    assert ("interrupted", 4) == (record["status"], record["checkpoint_step"])

    second = train(tmp_path, "resume", "resumable")
    out, _ = second.communicate(timeout=120)
    assert 0 == second.returncode
    assert ["start 4", "checkpoint 6"] == out.splitlines()[:2]  # continued from the checkpoint, not from 0

    expected = modelver.load("uninterrupted")
    assert expected == modelver.load("resumable")
    manifest = modelver.get("resumable").manifest
    [segment] = manifest.segments
    assert (record["run_id"], "SIGTERM", 4) == (segment.run_id, segment.signal, segment.checkpoint_step)
    assert manifest.resources.wall_time_s > segment.resources.wall_time_s > 0
    assert () == modelver.get("uninterrupted").manifest.segments
    # The whole curve: steps 1-4 from the interrupted segment (up to its checkpoint), 5-6 from the resumed one.
    curve = [(e["step"], e["metrics"]["w0"]) for e in modelver.get("resumable").metrics_history()]
    assert [(e["step"], e["metrics"]["w0"]) for e in modelver.get("uninterrupted").metrics_history()] == curve
    # `modelver runs` no longer lists the interrupted run as one that published nothing: it says where it went.
    [listed] = [r for r in read_runs(store_dir) if r["run_id"] == record["run_id"]]
    assert ("resumed", "resumed into resumable@0.1.0") == (listed["status"], listed["reason"])


def test_resume_with_nothing_interrupted_starts_fresh(store_dir: Path) -> None:
    """resume=True with no interrupted run: an ordinary run, no checkpoint to load, no segments."""
    with modelver.track("fresh", resume=True) as run:
        assert run.latest_checkpoint() is None
        run.log_metrics({"x": 1})
    assert run.version is not None
    assert () == run.version.manifest.segments


def test_resume_of_an_unknown_run_id_says_so(store_dir: Path) -> None:
    """An explicit run_id that is not an interrupted run of the name is a VersionNotFoundError (a LookupError)."""
    with pytest.raises(VersionNotFoundError, match="modelver runs"), modelver.track("m", resume=True, run_id="nope"):
        pass


def test_keep_checkpoints_limits_gc_roots(store_dir: Path) -> None:
    """keep_checkpoints=2: while the run is live only the last two steps' blobs are roots; a checkpoint loads back
    as saved; once the run publishes, its series is done and none are."""
    with modelver.track("kept", keep_checkpoints=2) as run:
        for step in (1, 2, 3):
            run.save_checkpoint({"step": step}, step=step)
        store = Store(store_dir)
        roots = checkpoint_roots(store)
        assert 2 == len(roots)
        assert roots <= training_roots(store, grace_s=3600.0)  # the one function gc calls
        assert {"step": 3} == run.latest_checkpoint()
        assert 3 == run.checkpoint_step
    assert set() == checkpoint_roots(store)


def test_a_checkpoint_from_a_directory(tmp_path: Path, store_dir: Path) -> None:
    """A directory (shards) is stored file by file and comes back as a local directory with the same bytes."""
    shards = tmp_path / "ckpt"
    (shards / "sub").mkdir(parents=True)
    (shards / "a.bin").write_bytes(b"\x00\x01")
    (shards / "sub" / "b.bin").write_bytes(b"shard-b")
    with modelver.track("dirs") as run:
        run.save_checkpoint(shards, step=10)
        restored = run.latest_checkpoint()
    assert isinstance(restored, Path)
    assert (b"\x00\x01", b"shard-b") == ((restored / "a.bin").read_bytes(), (restored / "sub" / "b.bin").read_bytes())


def test_a_rank_that_saved_nothing_resumes_from_rank_0s_checkpoint(tmp_path: Path) -> None:
    """DDP saves on rank 0 only: every rank must get rank 0's latest step, or the ranks start from different steps
    and hang in their first collective. A rank that saved its own checkpoints keeps getting those."""
    from modelver.store.objects import Store
    from modelver.tracking.checkpoints import latest_checkpoint, store_checkpoint

    store = Store(str(tmp_path / "store"))
    for step in (1, 2):
        store_checkpoint(store, "ddp", "series-a", {"step": step}, step=step, run_id="r", rank=0, world_size=2)
    store_checkpoint(store, "ddp", "series-b", {"own": 2}, step=5, run_id="r", rank=2, world_size=3)
    store_checkpoint(store, "ddp", "series-b", {"zero": 0}, step=9, run_id="r", rank=0, world_size=3)

    ranks_a = {rank: latest_checkpoint(store, "ddp", "series-a", rank) for rank in (0, 1)}
    own = latest_checkpoint(store, "ddp", "series-b", 2)

    assert {0: 2, 1: 2} == {rank: record.step for rank, record in ranks_a.items() if record is not None}
    assert own is not None
    assert (5, 2) == (own.step, own.rank)
