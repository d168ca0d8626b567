"""Sharded checkpoints: a ``torch.distributed.checkpoint`` directory that every rank of a job saves together
becomes ONE checkpoint entry for its step.

Every rank calls ``run.save_checkpoint(directory, step=N)`` on the shared directory. A file named
``__<r>_<n>.distcp`` is rank ``r``'s shard; every other file (``.metadata``) is rank 0's. Each rank uploads only
its own files and creates its part record ``<step>.rank<r>.json`` (kind ``"shard"``). Rank 0 then waits for the
other ranks' parts of that step (bounded) and creates ``<step>.json`` (kind ``"sharded"``): every file of the
step and the ranks that saved it. That entry is what ``latest_checkpoint()`` returns on every rank: the whole
directory, ready for ``torch.distributed.checkpoint.load``. A step whose entry is missing (a rank never saved
it) is not offered.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

__all__ = ["SHARDED_KIND", "SHARD_KIND", "is_sharded", "owned_files", "wait_for_parts"]

#: The kind of one rank's part of a sharded step.
SHARD_KIND = "shard"
#: The kind of the one entry of a sharded step.
SHARDED_KIND = "sharded"

T = TypeVar("T")

_SHARD = re.compile(r"__(\d+)_\d+\.distcp")


def is_sharded(names: Iterable[str]) -> bool:
    """Whether the relative paths name a ``torch.distributed.checkpoint`` directory (``__<rank>_<n>.distcp``).

    Example:
        >>> is_sharded([".metadata", "__0_0.distcp", "__1_0.distcp"]), is_sharded(["model.safetensors"])
        (True, False)
    """
    return any(_SHARD.fullmatch(posixpath.basename(name)) for name in names)


def owned_files(found: Iterable[tuple[str, str]], rank: int) -> list[tuple[str, str]]:
    """The ``(relative path, real path)`` pairs that ``rank`` uploads: its shards, and for rank 0 every file that
    is no rank's shard.

    Example:
        >>> owned_files([(".metadata", "m"), ("__0_0.distcp", "a"), ("__1_0.distcp", "b")], 1)
        [('__1_0.distcp', 'b')]
    """
    mine = []
    for rel, real in found:
        match = _SHARD.fullmatch(posixpath.basename(rel))
        owner = int(match.group(1)) if match else 0
        if owner == rank:
            mine.append((rel, real))
    return mine


def wait_for_parts(
    list_parts: Callable[[], Mapping[int, T]], ranks: Iterable[int], timeout_s: float, *, sleep: float = 0.1
) -> Mapping[int, T]:
    """Poll ``list_parts()`` (rank → part record) until every rank in ``ranks`` has one or ``timeout_s`` passed.

    Args:
        list_parts: reads the parts saved so far.
        ranks: the ranks whose parts are wanted.
        timeout_s: how long to wait at most, in seconds.
        sleep: the pause between two polls, in seconds.

    Returns:
        The parts found (a rank without one never saved the step in time).

    Example:
        >>> dict(wait_for_parts(lambda: {0: "part"}, [0], 1.0))
        {0: 'part'}
    """
    wanted = set(ranks)
    deadline = time.monotonic() + max(0.0, timeout_s)
    while True:
        parts = list_parts()
        if wanted <= set(parts) or time.monotonic() >= deadline:
            return parts
        time.sleep(sleep)
