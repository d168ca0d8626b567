"""Checkpoints of a long run, and what ``track(resume=True)`` continues.

Layout (under the store root; every object written once)::

    checkpoints/<name>/<series>/<step:012d>.json     one record per checkpoint: step, run id, files → blobs
    checkpoints/<name>/<series>/done.json            the series ended in a published version (not resumed again)

A *series* is the run and every resumption of it: the first segment's run id, or ``job-<job id>`` for a
distributed job (whose ranks each upload their own files of a sharded checkpoint into the same record's step: the
record of rank ``r`` is ``<step>.rank<r>.json``). ``keep_checkpoints=K`` writes K into each record; gc keeps the
blobs of the last K steps of a live series (:func:`checkpoint_roots`) and nothing is ever rewritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

from modelver.data.walk import walk_tree
from modelver.distributed.job_area import job_area_roots
from modelver.errors import CheckpointIncompleteError
from modelver.formats import deserialize, resolve_format, serialize
from modelver.manifest import ArtifactEntry
from modelver.serde import canonical_json, from_json_dict, to_json_dict
from modelver.store.objects import Store
from modelver.store.paths import validate_artifact_path
from modelver.tracking.sharded import SHARD_KIND, SHARDED_KIND, is_sharded, owned_files, wait_for_parts

__all__ = [
    "CheckpointRecord",
    "checkpoint_roots",
    "latest_checkpoint",
    "load_checkpoint",
    "mark_done",
    "series_done",
    "store_checkpoint",
    "training_roots",
]

CHECKPOINTS_DIR = "checkpoints"


@attrs.frozen
class CheckpointRecord:
    """One stored checkpoint.

    Attributes:
        series: the run (and its resumptions) the checkpoint belongs to.
        step: the training step it was taken at.
        run_id: the segment (run) that saved it.
        rank: the rank that saved it (0 for one process).
        kind: ``"object"`` (one serialized object), ``"file"`` or ``"directory"`` (saved from a path).
        files: relative path to the stored file (digest, size, media type, format).
        keep: the ``keep_checkpoints`` of the run that saved it (``None``: keep all).
        saved_at: UNIX time in seconds.
        ranks: for a sharded step's one entry (kind ``"sharded"``), the ranks whose files it holds.
    """

    series: str
    step: int
    run_id: str
    rank: int = 0
    kind: str = "object"
    files: dict[str, ArtifactEntry] = attrs.field(factory=dict)
    keep: int | None = None
    saved_at: float = 0.0
    ranks: tuple[int, ...] = ()


def _dir(store: Store, name: str, series: str) -> str:
    return posixpath.join(store.root, CHECKPOINTS_DIR, name, series)


def store_checkpoint(
    store: Store,
    name: str,
    series: str,
    obj: object,
    *,
    step: int,
    run_id: str,
    rank: int = 0,
    keep: int | None = None,
    allow_pickle: bool = False,
    world_size: int = 1,
    wait_s: float = 600.0,
) -> CheckpointRecord:
    """Store ``obj`` (an object in a safe format, or a file or directory path) and its record; durable on return.

    A ``torch.distributed.checkpoint`` directory saved by the ``world_size`` ranks of a job is one entry for the
    step (:mod:`modelver.tracking.sharded`): each rank uploads its own files, and rank 0 records the entry once
    every rank's part is there (waiting at most ``wait_s`` seconds).

    Raises:
        FileExistsError: this rank already saved a checkpoint at ``step`` in the series.
        UnsafeFormatError, FormatError: as for ``save_model``.
    """
    files: dict[str, ArtifactEntry] = {}
    if isinstance(obj, (str, os.PathLike)) and Path(obj).exists():
        source = Path(obj)
        if source.is_dir():
            kind = "directory"
            found, _skipped = walk_tree(str(source), str(source))
            if world_size > 1 and is_sharded(rel for rel, _ in found):
                kind, found = SHARD_KIND, owned_files(found, rank)
            found = sorted(found)
            rels = [validate_artifact_path(rel) for rel, _real in found]
            for rel, (digest, size) in zip(rels, store.put_files([real for _rel, real in found]), strict=True):
                files[rel] = ArtifactEntry(digest, size, "application/octet-stream", "file")
        else:
            kind = "file"
            digest, size = store.put_file(source)
            files[validate_artifact_path(source.name)] = ArtifactEntry(digest, size, "application/octet-stream", "file")
    else:
        kind = "object"
        fmt = resolve_format(obj, None, allow_pickle)
        serialized = serialize(obj, format=fmt.name, allow_pickle=allow_pickle)
        digest = store.put_bytes(serialized.data)
        entry = ArtifactEntry(digest, len(serialized.data), serialized.media_type, serialized.format)
        files["checkpoint" + serialized.extension] = entry
    record = CheckpointRecord(series, int(step), run_id, rank, kind, files, keep, time.time())
    suffix = "" if rank == 0 and kind != SHARD_KIND else f".rank{rank}"
    path = posixpath.join(_dir(store, name, series), f"{int(step):012d}{suffix}.json")
    store.create_exclusive(path, canonical_json(to_json_dict(record)))
    if kind == SHARD_KIND and rank == 0:
        return _record_sharded_step(store, name, series, record, world_size, wait_s)
    if kind == SHARD_KIND:  # returns once the whole step is one checkpoint, on every rank
        return _await_sharded_step(store, name, series, record, wait_s)
    return record


def _await_sharded_step(store: Store, name: str, series: str, own: CheckpointRecord, wait_s: float) -> CheckpointRecord:
    """A rank other than 0: wait for the step's one entry that rank 0 creates once every part is there."""

    def entry() -> dict[int, CheckpointRecord]:
        found = [r for r in _records(store, name, series) if r.step == own.step and r.kind == SHARDED_KIND]
        return {0: found[0]} if found else {}

    found = wait_for_parts(entry, [0], wait_s)
    if 0 not in found:
        raise CheckpointIncompleteError(
            f"checkpoint step {own.step} of {name}: this rank ({own.rank}) saved its shards, but rank 0 did not "
            f"record the step as one checkpoint within {wait_s:.0f} s (a rank is missing its part); call "
            "run.save_checkpoint(directory, step=N) on every rank after torch.distributed.checkpoint.save",
            step=own.step,
        )
    return found[0]


def _record_sharded_step(
    store: Store, name: str, series: str, own: CheckpointRecord, world_size: int, wait_s: float
) -> CheckpointRecord:
    """Rank 0: wait for every rank's part of the step, then create the step's one entry (all its files)."""

    def parts() -> dict[int, CheckpointRecord]:
        found = {r.rank: r for r in _records(store, name, series) if r.step == own.step and r.kind == SHARD_KIND}
        return {**found, 0: own}

    found = wait_for_parts(parts, range(world_size), wait_s)
    missing = sorted(set(range(world_size)) - set(found))
    if missing:
        raise CheckpointIncompleteError(
            f"checkpoint step {own.step} of {name}: rank(s) {', '.join(map(str, missing))} did not save their "
            f"shards within {wait_s:.0f} s, so the step is not recorded as one checkpoint; call "
            "run.save_checkpoint(directory, step=N) on every rank after torch.distributed.checkpoint.save",
            step=own.step,
        )
    files = {rel: entry for rank in sorted(found) for rel, entry in found[rank].files.items()}
    entry = attrs.evolve(own, kind=SHARDED_KIND, files=files, ranks=tuple(sorted(found)), saved_at=time.time())
    path = posixpath.join(_dir(store, name, series), f"{own.step:012d}.json")
    store.create_exclusive(path, canonical_json(to_json_dict(entry)))
    return entry


def _records(store: Store, name: str, series: str) -> list[CheckpointRecord]:
    directory = _dir(store, name, series)
    fs = store.fs
    try:
        fs.invalidate_cache(directory)
        paths = sorted(str(p) for p in fs.ls(directory, detail=False))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for path in paths:
        base = posixpath.basename(path)
        if base[:1].isdigit() and base.endswith(".json"):
            found.append(from_json_dict(json.loads(fs.cat_file(path)), CheckpointRecord))
    return found


def latest_checkpoint(store: Store, name: str, series: str, rank: int = 0) -> CheckpointRecord | None:
    """The record of the highest step ``rank`` saved in the series, or ``None``.

    A rank that saved nothing of its own gets rank 0's: DDP's usual pattern saves the replicated state on rank 0
    only, and every rank must resume from that same step (different steps would deadlock the first collective).
    """
    records = _records(store, name, series)
    if rank != 0 and not any(r.rank == rank and r.kind != SHARD_KIND for r in records):
        rank = 0
    # A sharded step's one entry serves every rank; a rank's part of it is not a checkpoint on its own.
    usable = [r for r in records if r.kind == SHARDED_KIND or (r.rank == rank and r.kind != SHARD_KIND)]
    return max(usable, key=lambda r: r.step, default=None)


def load_checkpoint(store: Store, record: CheckpointRecord, *, allow_pickle: bool = False) -> Any:
    """The checkpoint ready to use: the object, or a local path holding its file or directory (every byte checked
    against its digest)."""
    if record.kind == "object":
        [entry] = record.files.values()
        return deserialize(store.read_blob(entry.digest), entry.format, allow_pickle=allow_pickle)
    target = Path(tempfile.mkdtemp(prefix=f"modelver-checkpoint-{record.step}-"))
    for rel, entry in record.files.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        store.download(entry.digest, target / rel)
    if record.kind == "file":
        return target / next(iter(record.files))
    return target


def mark_done(store: Store, name: str, series: str, version: str) -> None:
    """Record that the series ended in ``version``; ``resume=True`` does not continue it again."""
    path = posixpath.join(_dir(store, name, series), "done.json")
    with contextlib.suppress(FileExistsError):
        store.create_exclusive(path, canonical_json({"version": version, "at": time.time()}))


def series_version(store: Store, name: str, series: str) -> str | None:
    """The version a series ended in (:func:`mark_done`), or ``None`` while it has not ended or cannot be read."""
    try:
        done = json.loads(store.fs.cat_file(posixpath.join(_dir(store, name, series), "done.json")))
    except (OSError, ValueError):
        return None
    return str(done["version"]) if isinstance(done, dict) and "version" in done else None


def series_done(store: Store, name: str, series: str) -> bool:
    """Whether the series ended in a published version."""
    return bool(store.fs.exists(posixpath.join(_dir(store, name, series), "done.json")))


def checkpoint_roots(store: Store) -> set[str]:
    """Blob digests of the checkpoints gc must keep: the last ``keep`` steps of every series not yet done.

    Example:
        >>> checkpoint_roots(Store("memory://no-checkpoints"))
        set()
    """
    roots: set[str] = set()
    base = posixpath.join(store.root, CHECKPOINTS_DIR)
    fs = store.fs
    try:
        fs.invalidate_cache(base)
        done = {posixpath.dirname(str(p)) for p in fs.find(base) if str(p).endswith("/done.json")}
        series_dirs = {posixpath.dirname(str(p)) for p in fs.find(base) if posixpath.basename(str(p))[:1].isdigit()}
    except (FileNotFoundError, NotADirectoryError):
        return roots
    for directory in series_dirs - done:
        name, series = posixpath.relpath(directory, base).rsplit("/", 1)
        records = _records(store, name, series)
        steps = sorted({r.step for r in records})
        keep = min((r.keep for r in records if r.keep is not None), default=None)
        kept = set(steps if keep is None else steps[-keep:] if keep > 0 else [])
        for record in records:
            if record.step in kept:
                roots.update(e.digest for e in record.files.values())
    return roots


def training_roots(store: Store, grace_s: float, now: float | None = None) -> set[str]:
    """Everything gc must keep for runs that are still going: the blobs named by live job areas (reports younger
    than ``grace_s`` seconds) and the last ``keep_checkpoints`` checkpoints of every series not yet published.

    This is the one function gc calls for distributed jobs, live runs and their checkpoints.

    Args:
        store: the store.
        grace_s: gc's grace period in seconds.
        now: the current UNIX time (default: ``time.time()``).

    Returns:
        Blob digests to keep.

    Example:
        >>> training_roots(Store("memory://nothing-running"), 3600.0)
        set()
    """
    return job_area_roots(store, grace_s, now) | checkpoint_roots(store)
