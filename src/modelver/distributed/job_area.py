"""The job area: where the ranks of one distributed job hand their reports to rank 0, through the store.

Layout (under the store root)::

    jobs/<job_id>/<name>/<attempt>-<block>/rank-<rank>.json     one report per rank, created once (create-if-absent)

``<attempt>`` is the launcher's restart count and ``<block>`` numbers the ``track()`` blocks of that name in the
process (the same in every rank, since every rank runs the same script). Reports go through the store, not the
user's process group, so this works whether or not ``torch.distributed`` is initialised, with any backend.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import time
from collections.abc import Iterable
from typing import Any

import attrs

from modelver.distributed.launcher import Launch
from modelver.manifest import RankSummary
from modelver.serde import canonical_json, from_json_dict, to_json_dict
from modelver.store.objects import Store

__all__ = [
    "JOBS_DIR",
    "RankReport",
    "abandoned_job_areas",
    "area_path",
    "job_area_roots",
    "read_reports",
    "wait_for_reports",
    "write_report",
]

JOBS_DIR = "jobs"

#: How often rank 0 lists the job area while it waits, in seconds.
POLL_INTERVAL_S = 0.2


@attrs.frozen
class RankReport:
    """What a rank hands to rank 0 when its ``track()`` block ends.

    Attributes:
        summary: the rank's outcome, host, resources, code and environment digests and metrics.
        run_id: the rank's own run id.
        reason: why the rank did not finish (``"ValueError: ..."``, ``"interrupted by SIGTERM"``), or ``""``.
        traceback: the redacted traceback when the block raised, else ``""``.
        blobs: digests of blobs the rank stored for the job (its resource series, metrics history, checkpoints).
        reported_at: UNIX time of the report, in seconds.
    """

    summary: RankSummary
    run_id: str
    reason: str = ""
    traceback: str = ""
    blobs: tuple[str, ...] = ()
    reported_at: float = 0.0


def area_path(store: Store, launch: Launch, name: str, block: int) -> str:
    """The store path of the job area of the ``block``-th ``track(name)`` block of the job."""
    return posixpath.join(store.root, JOBS_DIR, launch.job_id, name, f"{launch.attempt}-{block}")


def write_report(store: Store, area: str, report: RankReport) -> None:
    """Create ``rank-<rank>.json`` in ``area`` (once; a second report of the same rank is kept out).

    Raises:
        FileExistsError: the rank already reported in this area (the job id was reused by another job).
        StoreError: the store cannot be written.
    """
    report = attrs.evolve(report, reported_at=report.reported_at or time.time())
    path = posixpath.join(area, f"rank-{report.summary.rank}.json")
    store.create_exclusive(path, canonical_json(to_json_dict(report)))


def _load(fs: Any, path: str) -> RankReport | None:
    try:
        return from_json_dict(json.loads(fs.cat_file(path)), RankReport)
    except Exception:  # half-visible or damaged: treated as missing
        return None


def read_reports(store: Store, area: str) -> dict[int, RankReport]:
    """Every report in ``area`` by rank; unreadable ones are skipped (they count as missing)."""
    fs = store.fs
    with contextlib.suppress(Exception):
        fs.invalidate_cache(area)
    try:
        paths = [str(p) for p in fs.ls(area, detail=False)]
    except (FileNotFoundError, NotADirectoryError):
        return {}
    reports: dict[int, RankReport] = {}
    for path in paths:
        base = posixpath.basename(path)
        if not (base.startswith("rank-") and base.endswith(".json")):
            continue
        report = _load(fs, path)
        if report is not None:
            reports[report.summary.rank] = report
    return reports


def wait_for_reports(
    store: Store, area: str, ranks: Iterable[int], timeout_s: float, *, sleep: float = POLL_INTERVAL_S
) -> dict[int, RankReport]:
    """Wait until every rank in ``ranks`` reported, one reported a failure, or ``timeout_s`` passed.

    Returns:
        The reports found (a rank without one is missing).
    """
    wanted = set(ranks)
    deadline = time.monotonic() + max(0.0, timeout_s)
    while True:
        reports = read_reports(store, area)
        failed = any(r.summary.outcome != "finished" for r in reports.values())
        if wanted <= set(reports) or failed or time.monotonic() >= deadline:
            return reports
        time.sleep(sleep)


def job_area_roots(store: Store, grace_s: float, now: float | None = None) -> set[str]:
    """Blob digests that the reports in the store's job areas reference, for gc to keep as roots.

    A job area is live while its newest report is younger than ``grace_s`` seconds: until then rank 0 may still
    publish a version that references what the ranks stored (their resource series, metrics history,
    checkpoints). Older areas are abandoned: their blobs are not roots any more (gc may expire the area itself).

    Args:
        store: the store.
        grace_s: gc's grace period in seconds.
        now: the current UNIX time (default: ``time.time()``).

    Returns:
        Digests to keep.

    Example:
        >>> job_area_roots(Store("memory://no-jobs"), 3600.0)
        set()
    """
    now = time.time() if now is None else now
    roots: set[str] = set()
    for reports in _areas(store).values():
        if now - max(r.reported_at for r in reports) < grace_s:
            for report in reports:
                roots.update(report.blobs)
                if report.summary.resources.series:
                    roots.add(report.summary.resources.series)
    return roots


def abandoned_job_areas(store: Store, grace_s: float, now: float | None = None) -> list[str]:
    """Store paths of job areas whose newest report is older than ``grace_s`` seconds, for gc to delete.

    By then rank 0 has published the job's version (which records every report in its ``distributed`` section)
    or never will; ``modelver runs`` keeps the job's failed-run record either way.

    Args:
        store: the store.
        grace_s: gc's grace period in seconds.
        now: the current UNIX time (default: ``time.time()``).

    Returns:
        Area directories (absolute store paths), sorted.

    Example:
        >>> abandoned_job_areas(Store("memory://no-jobs"), 3600.0)
        []
    """
    now = time.time() if now is None else now
    return sorted(
        area for area, reports in _areas(store).items() if now - max(r.reported_at for r in reports) >= grace_s
    )


def _areas(store: Store) -> dict[str, list[RankReport]]:
    fs = store.fs
    base = posixpath.join(store.root, JOBS_DIR)
    try:
        with contextlib.suppress(Exception):
            fs.invalidate_cache(base)
        paths = [str(p) for p in fs.find(base) if posixpath.basename(str(p)).startswith("rank-")]
    except (FileNotFoundError, NotADirectoryError):
        return {}
    areas: dict[str, list[RankReport]] = {}
    for path in paths:
        report = _load(fs, path)
        if report is not None:
            areas.setdefault(posixpath.dirname(path), []).append(report)
    return areas
