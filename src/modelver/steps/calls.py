"""Call records: one record per call of a step (``steps/<name>/calls/...``), with whether it was cached, why,
its time and its resources; written by each call, read by :func:`read_calls`.
"""

from __future__ import annotations

import json
import os
import posixpath
import resource
import socket
import sys
import time
import uuid
from datetime import datetime, timezone

import attrs

from modelver.errors import InvalidReferenceError
from modelver.provenance import utc_now
from modelver.serde import canonical_json
from modelver.steps.layout import _NAME_RE, _steps_path
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["StepCall", "read_calls"]

CALL_SCHEMA = "modelver.step-call/1"


@attrs.frozen
class StepCall:
    """One recorded call of a step (``steps/<name>/calls/...``).

    Attributes:
        name: the step name.
        step_version: digest of the step-version record the call produced or reused.
        cached: whether the stored output was returned without running the function.
        reason: why the call ran or was reused, as recorded at call time.
        started_at: RFC 3339 UTC start time.
        duration_s: wall-clock seconds.
        cpu_time_s: CPU seconds of the process during the call (all its threads).
        peak_rss_bytes: the process's peak resident memory so far, in bytes, at the end of the call.
        run_id: the ``track()`` run the call was made in, or ``None``.

    Example:
        >>> call = modelver.explain_step("featurize").call  # doctest: +SKIP
        >>> call.cached, call.step_version[:15]  # doctest: +SKIP
        (True, 'blake3:5c1e09aa')
    """

    name: str
    step_version: str
    cached: bool
    reason: str
    started_at: str
    duration_s: float
    cpu_time_s: float = 0.0
    peak_rss_bytes: int = 0
    run_id: str | None = None


def read_calls(name: str, store: str | os.PathLike[str] | Store | None = None) -> list[StepCall]:
    """Every recorded call of step ``name``, oldest first (call records are named by their UTC start time).

    Raises:
        InvalidReferenceError: ``name`` is not a step name (it would name a directory outside ``steps/``).
    """
    if not _NAME_RE.match(name):
        raise InvalidReferenceError(
            f"{name!r} is not a step name: letters, digits, '_', '.' and '-', not starting with '.'; "
            "`modelver steps list` shows the recorded ones",
            reference=name,
        )
    opened = open_store(store)
    directory = _steps_path(opened, name, "calls")
    try:
        opened.fs.invalidate_cache(directory)
        paths = sorted(str(p) for p in opened.fs.ls(directory, detail=False) if str(p).endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    calls = []
    for path in paths:
        if posixpath.basename(path).startswith("."):
            continue
        raw = json.loads(opened.fs.cat_file(path))
        calls.append(StepCall(**{f.name: raw[f.name] for f in attrs.fields(StepCall) if f.name in raw}))
    return calls


def _write_call(
    store: Store,
    name: str,
    step_version: str,
    *,
    cached: bool,
    reason: str,
    started_at: str,
    duration_s: float,
    cpu_time_s: float,
    run_id: str | None,
) -> None:
    """Write the record of one call of step ``name`` (a new file, never replaced)."""
    call = {
        "schema": CALL_SCHEMA,
        "name": name,
        "step_version": step_version,
        "cached": cached,
        "reason": reason,
        "started_at": started_at,
        "duration_s": duration_s,
        "cpu_time_s": cpu_time_s,
        "peak_rss_bytes": _peak_rss_bytes(),
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = _steps_path(store, name, "calls", f"{stamp}-{uuid.uuid4().hex[:12]}.json")
    store.create_exclusive(path, canonical_json(call))


class _Clock:
    def __init__(self) -> None:
        self.started_at = utc_now()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, time.process_time() - self._cpu


def _peak_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux and in bytes on macOS (getrusage(2) on each).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
