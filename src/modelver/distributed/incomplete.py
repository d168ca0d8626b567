"""Jobs that ended with neither a version nor a job record: rank 0 died (SIGKILL, out of memory, a lost node)
after the other ranks had finished and reported, so nobody was left to record the job.

The job area tells: rank 0 writes ``published.json`` into it once the job's version is out, and a job that
failed or was interrupted has its record ``runs/job-<job id>-<name>-<attempt>-<block>.json``. An area with
reports and neither is *incomplete*: ``modelver runs`` lists it, naming the ranks that reported. (A job still
running looks the same until rank 0 publishes.)
"""

from __future__ import annotations

import contextlib
import posixpath
import time
from typing import Any

from modelver.distributed.job_area import JOBS_DIR, RankReport, read_reports
from modelver.serde import canonical_json
from modelver.store.objects import Store

__all__ = ["PUBLISHED_MARKER", "incomplete_jobs", "job_record_id", "mark_published"]

#: The file rank 0 creates in a job area once the job's version is published.
PUBLISHED_MARKER = "published.json"


def job_record_id(job_id: str, name: str, attempt: int | str, block: int | str) -> str:
    """The run id of a job's record (the same in every rank).

    Example:
        >>> job_record_id("slurm-42", "team/model", 0, 1)
        'job-slurm-42-team_model-0-1'
    """
    return f"job-{job_id}-{name.replace('/', '_')}-{attempt}-{block}"


def mark_published(store: Store, area: str, version: str) -> None:
    """Record in the job area that the job published ``version`` (once; a second marker is kept out).

    Raises:
        StoreError: the store cannot be written.
    """
    path = posixpath.join(area, PUBLISHED_MARKER)
    with contextlib.suppress(FileExistsError):
        store.create_exclusive(path, canonical_json({"version": version, "at": time.time()}))


def _area_dirs(store: Store) -> list[str]:
    base = posixpath.join(store.root, JOBS_DIR)
    fs = store.fs
    try:
        with contextlib.suppress(Exception):
            fs.invalidate_cache(base)
        found = {posixpath.dirname(str(p)) for p in fs.find(base)}
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found)


def _record(store: Store, area: str, reports: dict[int, RankReport]) -> dict[str, Any]:
    base = posixpath.join(store.root, JOBS_DIR)
    job_id, rest = posixpath.relpath(area, base).split("/", 1)
    name, attempt_block = rest.rsplit("/", 1)
    attempt, _, block = attempt_block.partition("-")
    reported = sorted(reports)
    newest = max(r.reported_at for r in reports.values())
    ranks = {str(rank): reports[rank].summary.outcome for rank in reported}
    missing = "rank 0 never reported" if 0 not in reports else "rank 0 reported but published no version"
    listed = ", ".join(f"{rank} ({reports[rank].summary.outcome})" for rank in reported)
    return {
        "run_id": job_record_id(job_id, name, attempt, block),
        "name": name,
        "status": "incomplete",
        "reason": (
            f"job {job_id}: {missing} (it died, or the job is still running); rank(s) {listed} reported. No "
            "version was published; the reports stay in the job area"
        ),
        "reported_at": newest,
        "job": {
            "job_id": job_id,
            "attempt": int(attempt) if attempt.isdigit() else attempt,
            "area": posixpath.relpath(area, store.root),
            "ranks": ranks,
            "reported": reported,
            "run_ids": {str(rank): reports[rank].run_id for rank in reported},
        },
    }


def incomplete_jobs(store: Store, recorded: set[str]) -> list[dict[str, Any]]:
    """Records for the job areas that hold reports but neither a published marker nor a job record.

    Args:
        store: the store.
        recorded: the run ids of the records in ``runs/`` (a job's record settles its area).

    Returns:
        One run-like record per incomplete area (``status: "incomplete"``, the ranks that reported and their
        outcomes), oldest first.

    Example:
        >>> incomplete_jobs(Store("memory://no-jobs"), set())
        []
    """
    found = []
    for area in _area_dirs(store):
        if store.fs.exists(posixpath.join(area, PUBLISHED_MARKER)):
            continue
        reports = read_reports(store, area)
        if not reports:
            continue
        record = _record(store, area, reports)
        if record["run_id"] not in recorded:
            found.append(record)
    return sorted(found, key=lambda r: float(r["reported_at"]))
