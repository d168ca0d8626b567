"""Worker processes of the gc stress test (tests/test_gc_safety.py): publishers in a loop, and gc in a loop.

Functions here run in spawned processes, so they take only picklable arguments and report through a queue.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import modelver
from modelver import Store, StoreError
from modelver.maintenance.gc import collect_garbage

#: Bytes every publisher saves in every run: after the first run, each later one reuses (deduplicates) this blob.
SHARED = {"weights": list(range(64))}


def publish_loop(url: str, options: dict[str, Any], until: float, worker: int, results: Any) -> None:
    """Publish ``stress`` versions until ``until`` (UNIX seconds), and at least one; put
    ``(published refs, refused count)`` on ``results``. A publish that gc undercut (a run's blob removed before its
    publish started) is refused with ``StoreError`` and counted; anything else is a failure of the test."""
    os.chdir(tempfile.mkdtemp(prefix="gc-stress-"))  # not a git checkout: code capture stays small
    store = Store(url, **options)
    published: list[str] = []
    refused = 0
    i = 0
    while time.time() < until or (not published and time.time() < until + 120):  # until it has published once
        i += 1
        try:
            with modelver.track("stress", store=store, config={"worker": worker, "i": i}) as run:
                run.save_model(SHARED, "shared.json")
                # Every other run fails after storing its model, and the next run stores the same bytes: it reuses
                # an orphan that gc may be removing at that very moment (the reproduction).
                run.save_model({"worker": worker, "round": (i + 1) // 2}, "own.json")
                if i % 2:
                    raise RuntimeError("a failed run leaves an orphan blob")
        except RuntimeError:
            continue
        except StoreError:
            refused += 1
            continue
        assert run.version is not None
        published.append(f"stress@{run.version.version}")
    results.put((published, refused))


def gc_loop(url: str, options: dict[str, Any], done: Any, grace_s: float, results: Any) -> None:
    """Run gc with ``grace_s`` (forced) in a loop until the ``done`` event is set; put ``(rounds, objects removed)``
    on ``results``."""
    store = Store(url, **options)
    rounds = 0
    removed = 0
    while not done.is_set():
        report = collect_garbage(store, grace_s=grace_s, force=True)
        rounds += 1
        removed += len(report.removed)
    results.put((rounds, removed))
