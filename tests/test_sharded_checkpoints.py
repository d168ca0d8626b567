"""Sharded ``torch.distributed.checkpoint`` directories in-process: which rank uploads which file (a property
test), and a step whose other ranks never save their part is not offered as a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelver.errors import CheckpointIncompleteError, ModelverError
from modelver.store.objects import Store
from modelver.tracking.checkpoints import latest_checkpoint, store_checkpoint
from modelver.tracking.sharded import owned_files

names = st.one_of(
    st.builds(lambda r, n: f"__{r}_{n}.distcp", st.integers(0, 7), st.integers(0, 3)),
    st.sampled_from([".metadata", "extra.json", "sub/__9_x.distcp", "__a_0.distcp"]),
)


@given(st.lists(names, unique=True, max_size=20), st.integers(1, 8))
def test_every_file_is_uploaded_by_exactly_one_rank(files: list[str], world: int) -> None:
    """Across the ranks of the job, each file of the directory is uploaded by one rank: its shards' rank, else
    rank 0 (a shard of a rank outside the world is nobody's; it never exists in a real checkpoint)."""
    found = [(name, f"/real/{name}") for name in files]
    owners: dict[str, list[int]] = {}
    for rank in range(world):
        for rel, _ in owned_files(found, rank):
            owners.setdefault(rel, []).append(rank)
    outside = {n for n in files if n.startswith("__") and n[2].isdigit() and int(n[2]) >= world}
    expected = {n: [int(n[2]) if n.startswith("__") and n[2].isdigit() else 0] for n in files if n not in outside}
    assert expected == owners


def test_step_without_the_other_ranks_is_not_a_checkpoint(tmp_path: Path) -> None:
    """Rank 0 of a 2-rank job saves its part of a DCP directory and rank 1 never does: rank 0's call raises
    ``CheckpointIncompleteError`` (a ``TimeoutError``) saying what to do, and no checkpoint is offered."""
    shared = tmp_path / "step-1"
    shared.mkdir()
    for name in (".metadata", "__0_0.distcp", "__1_0.distcp"):
        (shared / name).write_bytes(name.encode())
    store = Store(tmp_path / "store")
    store.initialize()
    with pytest.raises(CheckpointIncompleteError, match="rank\\(s\\) 1 did not save") as raised:
        store_checkpoint(store, "m", "job-x", shared, step=1, run_id="r0", rank=0, world_size=2, wait_s=0.0)
    assert isinstance(raised.value, ModelverError)
    assert isinstance(raised.value, TimeoutError)
    assert [None, None] == [latest_checkpoint(store, "m", "job-x", rank) for rank in (0, 1)]


def test_whole_step_is_offered_to_every_rank(tmp_path: Path) -> None:
    """Rank 1's part, then rank 0's: the step becomes one entry with every file, which both ranks get back."""
    shared = tmp_path / "step-3"
    shared.mkdir()
    for name in (".metadata", "__0_0.distcp", "__1_0.distcp"):
        (shared / name).write_bytes(name.encode())
    store = Store(tmp_path / "store")
    store.initialize()
    with pytest.raises(CheckpointIncompleteError):  # rank 0 has not recorded the step yet
        store_checkpoint(store, "m", "job-y", shared, step=3, run_id="r1", rank=1, world_size=2, wait_s=0.0)
    entry = store_checkpoint(store, "m", "job-y", shared, step=3, run_id="r0", rank=0, world_size=2, wait_s=5.0)
    assert ("sharded", (0, 1), {".metadata", "__0_0.distcp", "__1_0.distcp"}) == (
        entry.kind,
        entry.ranks,
        set(entry.files),
    )
    assert [entry, entry] == [latest_checkpoint(store, "m", "job-y", rank) for rank in (0, 1)]
