"""The checkpoint and resume methods of :class:`~modelver.Run`: ``save_checkpoint``, ``latest_checkpoint``, and
what ``track(resume=True)`` continues (the latest interrupted run of the name, or of the job)."""

from __future__ import annotations

import json
from typing import Any

import attrs

from modelver.distributed.incomplete import mark_published
from modelver.errors import VersionNotFoundError
from modelver.manifest import Manifest, ResourcesFacet, Segment
from modelver.serde import canonical_json, from_json_dict, to_json_dict
from modelver.tracking.artifacts import ArtifactSaving
from modelver.tracking.checkpoints import latest_checkpoint, load_checkpoint, mark_done, series_done, store_checkpoint
from modelver.tracking.interrupt import signal_name


class CheckpointSaving(ArtifactSaving):
    """Checkpoints and resumption for :class:`~modelver.Run`."""

    def save_checkpoint(self, obj: object, *, step: int, allow_pickle: bool = False) -> int:
        """Store a checkpoint durably (before returning): an object in a safe format, or a file or directory path.

        Every rank saves its own checkpoints (a directory of shards written by several ranks is one step, each
        rank uploading its own files). Checkpoints are content-addressed like models; ``keep_checkpoints=K`` on
        ``track()`` keeps the last K for gc.

        Args:
            obj: the state (a dict of arrays, a model, a JSON dict...) or a path to a file or directory.
            step: the training step (an int; one checkpoint per rank and step).
            allow_pickle: permit a code-running format when no safe one fits.

        Returns:
            ``step``.

        Raises:
            CaptureError: the run is no longer running.
            FileExistsError: a checkpoint of this rank at ``step`` exists in the run.
            CheckpointIncompleteError: this rank of a job saved its shards of a ``torch.distributed.checkpoint``
                directory, but the step did not become one checkpoint within ``report_timeout_s`` (a rank did
                not save its part).
            UnsafeFormatError, FormatError: as for :meth:`save_model`.

        Example:
            >>> with modelver.track("long", keep_checkpoints=2) as run:  # doctest: +SKIP
            ...     run.save_checkpoint({"w": [0.1, 0.2], "step": 100}, step=100)
        """
        self._check_open("save_checkpoint")
        rank = self._launch.rank if self._launch is not None else 0
        store_checkpoint(
            self.store,
            self.name,
            self._series,
            obj,
            step=step,
            run_id=self.run_id,
            rank=rank,
            keep=self._keep_checkpoints,
            allow_pickle=allow_pickle,
            world_size=self._launch.world_size if self._launch is not None else 1,
            wait_s=self._report_timeout_s,
        )
        with self._lock:
            self._last_checkpoint = max(step, self._last_checkpoint or step)
        return step

    def latest_checkpoint(self, *, allow_pickle: bool = False) -> Any:
        """The latest checkpoint of this run or the run it resumes, ready to use; ``None`` if there is none.

        Returns:
            The object (for an object checkpoint), or a local :class:`~pathlib.Path` holding the file or directory.
        """
        rank = self._launch.rank if self._launch is not None else 0
        record = latest_checkpoint(self.store, self.name, self._series, rank)
        if record is None:
            return None
        return load_checkpoint(self.store, record, allow_pickle=allow_pickle)

    @property
    def checkpoint_step(self) -> int | None:
        """The step of the latest checkpoint saved in this run or the segments it continues."""
        if self._last_checkpoint is not None:
            return self._last_checkpoint
        return self._segments[-1].checkpoint_step if self._segments else None

    # -- resume ----------------------------------------------------------------------------------------------

    def _begin_series(self) -> None:
        """On entry: the series this run belongs to, and the interrupted segments it continues."""
        if self._job is not None:
            # A job's checkpoints belong to its job id, which restarts keep (torchrun --max-restarts, a SLURM
            # requeue): latest_checkpoint() finds them with or without resume=True. With resume=True a new job
            # (a new launch after a preemption) continues the latest interrupted job of the name instead.
            self._series = f"job-{self._job.launch.job_id}"
        if not self._resume:
            return
        wanted = self._resume if isinstance(self._resume, str) else None
        candidates = []
        for raw in self.store.list_runs():
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(record, dict) or record.get("status") != "interrupted":
                continue
            if record.get("name") != self.name or (wanted is not None and record.get("run_id") != wanted):
                continue
            series = str(record.get("series") or record.get("run_id"))
            if not series_done(self.store, self.name, series):
                candidates.append(record)
        if not candidates:
            if wanted is not None:
                raise VersionNotFoundError(
                    f"no interrupted run {wanted!r} of {self.name} to resume in {self.store.url}; `modelver runs` "
                    "lists the runs, or leave run_id= unset",
                    reference=wanted,
                )
            return  # nothing to continue: a fresh run
        record = candidates[-1]  # run ids start with their UTC time: the latest
        self._series = str(record.get("series") or record["run_id"])
        earlier = [from_json_dict(s, Segment) for s in record.get("segments", [])]
        manifest = record.get("manifest") or {}
        this = Segment(
            run_id=str(record["run_id"]),
            signal=str(record.get("signal", "")),
            checkpoint_step=record.get("checkpoint_step"),
            resources=from_json_dict(manifest.get("resources", {}), ResourcesFacet),
        )
        self._segments = [*earlier, this]
        self._history[:0] = self._earlier_history(manifest.get("metrics_history"), this.checkpoint_step)

    def _earlier_history(self, digest: object, checkpoint_step: int | None) -> list[dict[str, Any]]:
        """The metrics the interrupted segments logged up to their last checkpoint (later steps are logged again by
        this run), so the version's history is the whole curve; unreadable history is a capture error."""
        if not isinstance(digest, str) or checkpoint_step is None:
            return []
        try:
            entries = [json.loads(line) for line in self.store.read_blob(digest).decode().splitlines() if line]
        except Exception as exc:
            self._capture_failed("metrics", f"the interrupted run's metrics history was not carried over: {exc}")
            return []
        return [
            e
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("step"), int) and e["step"] <= checkpoint_step
        ]

    def _resume_record(self, signum: int) -> dict[str, object]:
        """What an interrupted job's record adds: its series and segments, the signal and the last checkpoint."""
        return {**self._series_record(), "signal": signal_name(signum), "checkpoint_step": self.checkpoint_step}

    def _series_record(self) -> dict[str, object]:
        """What an interrupted record adds so that a resume finds its series and earlier segments."""
        return {"series": self._series, "segments": [to_json_dict(s) for s in self._segments]}

    def _with_segments(self, manifest: Manifest, body: bytes) -> tuple[Manifest, bytes]:
        """The manifest of a resumed run (its segments, resources summed over them) and its canonical body."""
        if not self._segments:
            return manifest, body
        total = manifest.resources
        for segment in self._segments:
            used = segment.resources
            total = attrs.evolve(
                total,
                wall_time_s=total.wall_time_s + used.wall_time_s,
                cpu_time_s=total.cpu_time_s + used.cpu_time_s,
                peak_rss_bytes=max(total.peak_rss_bytes, used.peak_rss_bytes),
            )
        manifest = attrs.evolve(manifest, resources=total, segments=tuple(self._segments))
        fields = to_json_dict(manifest)
        del fields["version"], fields["digest"]
        return manifest, canonical_json(fields)

    def _series_published(self, version: str) -> None:
        if self._job is not None:  # the job area is settled: `modelver runs` does not list it as incomplete
            try:
                mark_published(self.store, self._job.area(self.store), version)
            except Exception as exc:
                self._warn(f"modelver: could not mark job {self._job.launch.job_id} published: {exc}")
        if self._segments or self._last_checkpoint is not None:
            try:
                mark_done(self.store, self.name, self._series, version)
            except Exception as exc:  # the version is out; a resume would only offer this series again
                self._warn(f"modelver: could not mark checkpoint series {self._series} done: {exc}")
