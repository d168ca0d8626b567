"""What does a sharded checkpoint step cost each rank, when each rank uploads only its own files?

A ``torch.distributed.checkpoint`` directory of N ranks holds ``__<r>_0.distcp`` per rank and ``.metadata``. Before
issue #15's follow-up every rank stored the whole directory (reading and hashing every shard: N times the bytes,
the same blobs); now each rank stores its own shards and rank 0 the metadata, and rank 0 records one entry.

Prints, measured in this run on this machine on a local store: the median time for one rank to store its part of
the step (rank 1 of N, and rank 0 including the entry once the others' parts are there), as ratios to the
baseline of one rank storing the whole directory, and the bytes each reads.

Run: ``.venv/bin/python benchmarks/sharded_checkpoint.py [ranks] [MB per shard]`` (default 4 ranks, 16 MB).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from modelver.store.objects import Store
from modelver.tracking.checkpoints import store_checkpoint


def _shared_dir(root: Path, ranks: int, mb: int) -> Path:
    shared = root / "shared"
    shared.mkdir()
    for rank in range(ranks):
        (shared / f"__{rank}_0.distcp").write_bytes(os.urandom(mb << 20))
    (shared / ".metadata").write_bytes(os.urandom(4096))
    return shared


def main() -> None:
    ranks = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    mb = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    whole, rank1, rank0 = [], [], []
    for trial in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            shared = _shared_dir(root, ranks, mb)
            # Baseline: one rank stores the whole directory (what every rank did before).
            store = Store(root / "whole")
            store.initialize()
            start = time.perf_counter()
            store_checkpoint(store, "m", "s", shared, step=trial, run_id="r", rank=1)
            whole.append(time.perf_counter() - start)
            # Now: ranks 1..N-1 store their parts first (their waits for rank 0's entry are not counted), then rank 0.
            store = Store(root / "sharded")
            store.initialize()
            for rank in range(1, ranks):
                start = time.perf_counter()
                with contextlib.suppress(TimeoutError):  # rank 0 has not recorded the entry yet: expected
                    store_checkpoint(
                        store, "m", "s", shared, step=trial, run_id="r", rank=rank, world_size=ranks, wait_s=0.0
                    )
                if rank == 1:
                    rank1.append(time.perf_counter() - start)
            start = time.perf_counter()
            store_checkpoint(store, "m", "s", shared, step=trial, run_id="r", rank=0, world_size=ranks, wait_s=5.0)
            rank0.append(time.perf_counter() - start)
    base = statistics.median(whole)
    print(f"{ranks} ranks, {mb} MB per shard; baseline (one rank stores the whole directory): {base * 1000:.0f} ms")
    print(
        f"rank 1 stores its shard:               {statistics.median(rank1) / base:.2f}x the baseline "
        f"(reads {mb} MB instead of {ranks * mb} MB)"
    )
    print(f"rank 0 stores its shard + the entry:   {statistics.median(rank0) / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
