"""Threads modelver starts leave SIGTERM and SIGINT to the main thread.

Why: the kernel delivers a process-directed signal to any thread that does not block it. Python runs signal
handlers only in the main thread, and only between bytecodes: a SIGTERM taken by one of modelver's background
threads (the code capture, the resource sampler, upload and hashing pools) while the main thread sleeps or waits in
C code is not handled until that wait ends, so a preempted job could be SIGKILLed before its interruption is
recorded. Each of those threads blocks the two signals first, so the kernel picks the main thread.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable

__all__ = ["HANDLED_SIGNALS", "leave_signals_to_main", "quiet_thread"]

#: The signals a run records (modelver.tracking.interrupt) and background threads never take.
HANDLED_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def leave_signals_to_main() -> None:
    """Block SIGTERM and SIGINT in the calling thread, unless it is the main thread; an ``initializer`` for pools.

    Example:
        >>> ThreadPoolExecutor(4, initializer=leave_signals_to_main)  # doctest: +SKIP
    """
    if threading.current_thread() is threading.main_thread():
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no pthread_sigmask (Windows)
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)


def quiet_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread (not started) that runs ``target`` with SIGTERM and SIGINT blocked.

    Example:
        >>> quiet_thread(sample, "modelver-resources").start()  # doctest: +SKIP
    """

    def run() -> None:
        leave_signals_to_main()
        target()

    return threading.Thread(target=run, name=name, daemon=True)
