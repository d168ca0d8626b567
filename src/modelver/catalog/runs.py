"""The runs that published no version, as ``modelver runs --json`` and the UI's ``/api/runs`` list them.

One function for both, so that the CLI and the web UI answer with the same fields; one run's whole record is
:func:`modelver.tracking.failed_run.find_run` (``modelver runs show ID --json`` and ``/api/run/<id>``).
"""

from __future__ import annotations

import os
from typing import Any

from modelver.store.objects import Store
from modelver.tracking.failed_run import read_runs

__all__ = ["RUN_SUMMARY_KEYS", "run_summaries"]

#: The fields of a run in a listing; ``None`` where a record lacks one.
RUN_SUMMARY_KEYS = ("run_id", "name", "status", "reason")


def run_summaries(store: str | os.PathLike[str] | Store | None) -> list[dict[str, Any]]:
    """Each run of ``store`` that published no version, oldest first, as :data:`RUN_SUMMARY_KEYS`.

    Args:
        store: store URL or path, or ``None`` for the default (``modelver info``).

    Returns:
        One dict per run (see :func:`modelver.tracking.failed_run.read_runs` for which runs are listed).

    Raises:
        StoreError: the store cannot be listed.

    Example:
        >>> run_summaries("memory://empty")
        []
    """
    return [{key: record.get(key) for key in RUN_SUMMARY_KEYS} for record in read_runs(store)]
