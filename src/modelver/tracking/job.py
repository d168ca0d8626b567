"""A run's part in a distributed job: every rank hands its report to the job area; rank 0 waits for them and
publishes the job's one version with a ``distributed`` section, or, when a rank failed, died or never reported,
publishes nothing and keeps one failed-run record that names the job and each rank's outcome.
"""

from __future__ import annotations

import contextlib
import posixpath
import threading
from collections import Counter
from collections.abc import Mapping

import attrs

from modelver.distributed.incomplete import job_record_id
from modelver.distributed.job_area import RankReport, area_path, read_reports, wait_for_reports, write_report
from modelver.distributed.launcher import Launch
from modelver.distributed.summary import code_digest, distributed_facet, environment_digest, outcomes
from modelver.errors import CaptureWarning
from modelver.manifest import Manifest, RankSummary
from modelver.serde import canonical_json, to_json_dict
from modelver.store.objects import Store
from modelver.tracking.failed_run import RUN_SCHEMA
from modelver.warnings import warn_user

__all__ = ["DEFAULT_REPORT_TIMEOUT_S", "JobPart"]

#: How long rank 0 waits at the end of its block for the other ranks' reports, in seconds (``report_timeout_s=``).
DEFAULT_REPORT_TIMEOUT_S = 600.0

_blocks: Counter[str] = Counter()
_blocks_lock = threading.Lock()


def _next_block(name: str) -> int:
    # Every rank runs the same script, so the n-th track(name) block of each rank is the same block of the job.
    with _blocks_lock:
        _blocks[name] += 1
        return _blocks[name]


@attrs.define
class JobPart:
    """One rank's part in a job: where it reports, and what it reported.

    Attributes:
        launch: the detected (or given) launcher, job id, rank and world size.
        name: the model name of the ``track()`` block.
        block: which ``track(name)`` block of the process this is (1 for the first).
        report_timeout_s: how long rank 0 waits for the other ranks' reports, in seconds.
        reported: whether this rank's report is written.
    """

    launch: Launch
    name: str
    block: int
    report_timeout_s: float = DEFAULT_REPORT_TIMEOUT_S
    reported: bool = False
    warned: set[str] = attrs.field(factory=set)

    @classmethod
    def start(cls, launch: Launch, name: str, report_timeout_s: float) -> JobPart:
        """The part of the next ``track(name)`` block of this process in ``launch``'s job."""
        return cls(launch, name, _next_block(name), report_timeout_s)

    @property
    def record_id(self) -> str:
        """The run id of the job's one failed-run record (the same in every rank)."""
        return job_record_id(self.launch.job_id, self.name, self.launch.attempt, self.block)

    def area(self, store: Store) -> str:
        """The store path of this block's job area."""
        return area_path(store, self.launch, self.name, self.block)

    def warn_once(self, what: str) -> None:
        """Warn that ``what`` stores nothing on a rank other than 0 (once per kind of call)."""
        if what in self.warned:
            return
        self.warned.add(what)
        warn_user(
            f"modelver: {what} on rank {self.launch.rank} of job {self.launch.job_id} stores nothing: only rank 0 "
            "saves models and artifacts into the job's version (checkpoints are saved on every rank)",
            UserWarning,
        )

    def report(
        self, store: Store, manifest: Manifest, run_id: str, outcome: str, reason: str = "", traceback: str = ""
    ) -> RankReport:
        """Write this rank's report (once) and return it; a failure to write is warned about, never raised."""
        launch = self.launch
        summary = RankSummary(
            rank=launch.rank,
            node=launch.node,
            host=launch.host,
            outcome=outcome,
            resources=manifest.resources,
            code_digest=code_digest(manifest.code, store.algorithm),
            environment_digest=environment_digest(manifest.environment, store.algorithm),
            metrics=dict(manifest.metrics),
        )
        blobs = tuple(d for d in (manifest.resources.series, manifest.metrics_history) if d)
        report = RankReport(summary=summary, run_id=run_id, reason=reason, traceback=traceback, blobs=blobs)
        if self.reported:
            return report
        self.reported = True
        try:
            write_report(store, self.area(store), report)
        except FileExistsError:
            warn_user(
                f"modelver: rank {launch.rank} already reported in job {launch.job_id} (block {self.block} of "
                f"{self.name!r}); the job id was used by an earlier job. Pass a new job_id= per job",
                CaptureWarning,
            )
        except Exception as exc:
            warn_user(f"modelver: rank {launch.rank} could not report to the job area: {exc}", CaptureWarning)
        return report

    def collect(self, store: Store, own: RankReport) -> dict[int, RankReport]:
        """Rank 0: wait (bounded) for the other ranks' reports; the result includes ``own``."""
        others = range(1, self.launch.world_size)
        reports = wait_for_reports(store, self.area(store), others, self.report_timeout_s)
        reports[0] = own
        return reports

    def incomplete(self, reports: Mapping[int, RankReport]) -> list[str]:
        """What keeps the job from a version: ranks that failed, were interrupted or did not report."""
        waited = f" (no report within report_timeout_s={self.report_timeout_s:g} s: dead, or still blocked)"
        return [
            f"rank {rank}: {outcome}" + (f" ({reports[int(rank)].reason})" if int(rank) in reports else waited)
            for rank, outcome in outcomes(self.launch.world_size, reports).items()
            if outcome != "finished"
        ]

    def with_section(self, manifest: Manifest, reports: Mapping[int, RankReport]) -> tuple[Manifest, bytes]:
        """Rank 0: the manifest with its ``distributed`` section, and its canonical body; warns about ranks whose
        code or environment differs from rank 0's."""
        facet = distributed_facet(self.launch, reports)
        if facet.mismatched:
            nodes = sorted({reports[r].summary.node for r in facet.mismatched})
            warn_user(
                f"modelver: job {self.launch.job_id}: rank(s) {', '.join(map(str, facet.mismatched))} on node(s) "
                f"{', '.join(map(str, nodes))} ran different code or packages than rank 0 (see "
                "distributed.mismatched in the version); deploy the same checkout and environment to every node",
                CaptureWarning,
            )
        manifest = attrs.evolve(manifest, distributed=facet)
        body = to_json_dict(manifest)
        del body["version"], body["digest"]
        return manifest, canonical_json(body)

    def write_failure(
        self,
        store: Store,
        manifest: Manifest,
        reports: Mapping[int, RankReport],
        reason: str,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Keep the job's one failed-run record (the first rank to write it wins), naming the job, each rank's
        outcome and the first traceback; ``modelver runs`` lists it.

        A job that no rank failed (ranks interrupted by a signal, or missing) is recorded as ``interrupted``,
        with ``extra`` (its checkpoint series, segments and last checkpoint step), so ``resume=True`` continues it.
        """
        launch = self.launch
        ranks = outcomes(launch.world_size, reports)
        interrupted = "interrupted" in ranks.values() and "failed" not in ranks.values()
        body = to_json_dict(manifest)
        del body["version"], body["digest"]
        first = next((reports[r] for r in sorted(reports) if reports[r].traceback), None)
        record: dict[str, object] = {
            "schema": RUN_SCHEMA,
            "run_id": self.record_id,
            "name": self.name,
            "status": "interrupted" if interrupted else "failed",
            "reason": f"job {launch.job_id} ({launch.launcher}, {launch.world_size} ranks): {reason}",
            "manifest": body,
            "job": {
                "launcher": launch.launcher,
                "job_id": launch.job_id,
                "attempt": launch.attempt,
                "world_size": launch.world_size,
                "area": posixpath.relpath(self.area(store), store.root),
                "ranks": ranks,
                "run_ids": {str(r): reports[r].run_id for r in sorted(reports)},
            },
        }
        if first is not None:
            record["traceback"] = first.traceback
            record["failed_rank"] = first.summary.rank
        if interrupted:
            record.update(extra or {})
        with contextlib.suppress(FileExistsError):
            try:
                store.write_run(self.record_id, canonical_json(record))
            except FileExistsError:
                raise
            except Exception as exc:
                warn_user(f"modelver: could not keep the job's failed-run record: {exc}", CaptureWarning)

    def failure_after(
        self, store: Store, manifest: Manifest, own: RankReport, extra: Mapping[str, object] | None = None
    ) -> None:
        """This rank's block raised or was interrupted: record the job's failure (or interruption, with ``extra``)
        with the reports there are now."""
        reports = dict(read_reports(store, self.area(store)))
        reports[self.launch.rank] = own
        reason = f"rank {self.launch.rank} {own.summary.outcome}: {own.reason}"
        self.write_failure(store, manifest, reports, reason, extra)


def finish_part(
    part: JobPart, store: Store, manifest: Manifest, run_id: str, error: tuple[str, str] | None
) -> tuple[str, tuple[Manifest, bytes] | None]:
    """End this rank's part of the job when its block ends.

    Args:
        part: this rank's part.
        store: the store.
        manifest: what the rank captured.
        run_id: the rank's run id.
        error: ``(reason, traceback)`` when the block raised, else ``None``.

    Returns:
        The run's new status and, for rank 0 when every rank finished, the manifest with its ``distributed``
        section and its canonical body to publish; ``None`` when this rank publishes nothing.
    """
    if error is not None:
        own = part.report(store, manifest, run_id, "failed", *error)
        part.failure_after(store, manifest, own)
        return "failed", None
    own = part.report(store, manifest, run_id, "finished")
    if not part.launch.is_main:
        return "reported", None
    reports = part.collect(store, own)
    problems = part.incomplete(reports)
    if problems:
        part.write_failure(store, manifest, reports, "; ".join(problems))
        warn_user(
            f"modelver: job {part.launch.job_id} published no version of {part.name}: {'; '.join(problems)}. "
            f"`modelver runs show {part.record_id}` has each rank's outcome",
            UserWarning,
        )
        return "failed", None
    return "running", part.with_section(manifest, reports)
