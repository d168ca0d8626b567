"""SIGTERM and SIGINT inside ``track()``: what SLURM, Kubernetes and spot instances send before they kill a job.

The run is recorded as interrupted (``runs/<run_id>.json`` with ``status: "interrupted"``, the signal, the step of
its last checkpoint and the resources so far); then the handler that was installed before runs (the user's, the
framework's, Python's ``KeyboardInterrupt``), or the signal's default action, so that the exit code and the
behaviour are what they would have been without modelver.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from modelver.errors import CaptureWarning
from modelver.serde import canonical_json
from modelver.store.objects import Store
from modelver.tracking.failed_run import RUN_SCHEMA
from modelver.warnings import warn_user

__all__ = ["SIGNALS", "SIGNAL_CAPTURE_WAIT_S", "SignalGuard", "signal_name", "write_interrupted_run"]

#: The signals a run records before passing them on.
SIGNALS = (signal.SIGTERM, signal.SIGINT)

#: Seconds a signalled run waits for its code and environment capture before recording without it: a preempted
#: job gets a short grace before SIGKILL (30 s by default on Kubernetes, SLURM's KillWait), and the interrupted
#: record, written before the signal goes on, must fit in it.
SIGNAL_CAPTURE_WAIT_S = 5.0


class SignalGuard:
    """Calls ``on_signal(signum)`` when SIGTERM or SIGINT arrives, then passes the signal on.

    Handlers can only be installed from the main thread; elsewhere :meth:`install` does nothing (the run is then
    recorded as failed or not at all, as before).

    Args:
        on_signal: records the interruption; it runs once, in the main thread, and its errors are warned about.
    """

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self._on_signal = on_signal
        self._previous: dict[int, Any] = {}
        self.received: int | None = None

    def install(self) -> None:
        """Install the handlers (main thread only), remembering the ones they replace."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            try:
                previous = signal.getsignal(sig)
                if previous == signal.SIG_IGN:
                    # An ignored signal (SIGINT under nohup or `cmd &`) changes nothing: the run goes on, so it
                    # is neither recorded as interrupted nor closed to logging.
                    continue
                self._previous[sig] = previous
                signal.signal(sig, self._handle)
            except (ValueError, OSError):  # not allowed here (an embedded interpreter)
                self._previous.pop(sig, None)

    def restore(self) -> None:
        """Put back the handlers that were installed before, where ours is still the one installed."""
        for sig, previous in list(self._previous.items()):
            try:
                if signal.getsignal(sig) == self._handle:
                    signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError):
                pass
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum, signal.SIG_DFL)
        self.restore()
        if self.received is None:
            self.received = signum
            try:
                self._on_signal(signum)
            except Exception as exc:  # recording must never change what the signal does
                warn_user(f"modelver: could not record the interruption: {exc}", CaptureWarning)
        if callable(previous):
            previous(signum, frame)
        elif previous in (signal.SIG_DFL, None):
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15, and so on (``"signal N"`` for a number without a name).

    Example:
        >>> signal_name(signal.SIGTERM)
        'SIGTERM'
    """
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def write_interrupted_run(
    store: Store,
    run_id: str,
    name: str,
    body: bytes,
    signum: int,
    *,
    checkpoint_step: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Keep the record of a run interrupted by ``signum``: the manifest ``body`` as captured so far (its resources
    included), the signal and the step of the last checkpoint; a failure to write is only warned about."""
    import json

    record: dict[str, Any] = {
        "schema": RUN_SCHEMA,
        "run_id": run_id,
        "name": name,
        "status": "interrupted",
        "reason": f"interrupted by {signal_name(signum)}",
        "signal": signal_name(signum),
        "checkpoint_step": checkpoint_step,
        "manifest": json.loads(body),
    }
    record.update(extra or {})
    try:
        store.write_run(run_id, canonical_json(record))
    except Exception as exc:
        warn_user(f"modelver: could not keep the interrupted run record: {exc}", CaptureWarning)
