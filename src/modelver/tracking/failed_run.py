"""The failed-run record: a run that published nothing (an exception in its block, strict-mode capture errors, a
failed publish) keeps what it captured as ``runs/<run_id>.json`` in the store.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from modelver.distributed.incomplete import incomplete_jobs
from modelver.errors import CaptureWarning, VersionNotFoundError
from modelver.serde import canonical_json
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.tracking.checkpoints import series_version
from modelver.warnings import warn_user

RUN_SCHEMA = "modelver.run/1"


def write_failed_run(store: Store, run_id: str, name: str, body: bytes, reason: str, traceback: str = "") -> None:
    """Keep the failed run's manifest ``body``, ``reason`` and (when the block raised) the redacted ``traceback`` in
    ``store`` (``modelver runs show RUN_ID`` prints them); a failure to write is only warned about."""
    record: dict[str, object] = {
        "schema": RUN_SCHEMA,
        "run_id": run_id,
        "name": name,
        "status": "failed",
        "reason": reason,
        "manifest": json.loads(body),
    }
    if traceback:
        record["traceback"] = traceback
    try:
        store.write_run(run_id, canonical_json(record))
    except Exception as exc:
        warn_user(f"modelver: could not keep the failed run record: {exc}", CaptureWarning)


def read_runs(store: str | os.PathLike[str] | Store | None) -> list[dict[str, Any]]:
    """The records of the runs of ``store`` that published no version, oldest first.

    Args:
        store: store URL or path, or ``None`` for the default (``modelver info``).

    Returns:
        One dict per ``runs/<run_id>.json``; an unreadable record becomes ``{"run_id": "?", "status":
        "unreadable", ...}`` instead of failing the listing. Then one ``status: "incomplete"`` dict per
        distributed job whose ranks reported but that has neither a version nor a record (rank 0 died; see
        :func:`modelver.distributed.incomplete.incomplete_jobs`).

    Example:
        >>> [r["run_id"] for r in read_runs("memory://empty")]
        []
    """
    records: list[dict[str, Any]] = []
    opened = open_store(store)
    for raw in opened.list_runs():
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = {"run_id": "?", "name": "?", "status": "unreadable", "reason": "not a JSON object"}
        elif record.get("status") == "interrupted" and isinstance(record.get("series"), str):
            # Records are written once; whether a later run resumed it and published is in its series' marker.
            resumed = series_version(opened, str(record.get("name")), record["series"])
            if resumed is not None:
                record = {**record, "status": "resumed", "reason": f"resumed into {record.get('name')}@{resumed}"}
        records.append(record)
    # Jobs whose rank 0 died after the others reported: no version and no record, only reports in the job area.
    with contextlib.suppress(Exception):
        records += incomplete_jobs(opened, {str(r.get("run_id")) for r in records})
    return records


def find_run(store: str | os.PathLike[str] | Store | None, run_id: str) -> dict[str, Any]:
    """The record of the failed run ``run_id`` (or the one run whose id starts with it).

    Args:
        store: store URL or path, or ``None`` for the default.
        run_id: a run id as ``modelver runs`` prints it, or a prefix of one.

    Returns:
        The record: ``run_id``, ``name``, ``status``, ``reason``, ``traceback`` (when the block raised) and the
        captured ``manifest``.

    Raises:
        VersionNotFoundError: no run, or several runs, match ``run_id``.

    Example:
        >>> find_run(None, "20260101T000000Z-ab12")["reason"]  # doctest: +SKIP
        'ValueError: bad batch'
    """
    records = read_runs(store)
    exact = [r for r in records if r.get("run_id") == run_id]
    matches = exact or [r for r in records if str(r.get("run_id", "")).startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(str(r.get("run_id")) for r in records[-5:]) or "none"
        raise VersionNotFoundError(
            f"no failed run {run_id!r} in the store (the latest: {known}); `modelver runs` lists them all.",
            reference=run_id,
        )
    listed = ", ".join(str(r.get("run_id")) for r in matches)
    raise VersionNotFoundError(
        f"{run_id!r} matches several runs ({listed}); give more of the run id.", reference=run_id
    )
