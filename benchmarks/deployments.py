"""What do deployment records, hooks and time travel cost? Ratios against a baseline measured in the same run.

Prints, on a local store in a temp directory:

- ``load(ref, deployment=...)`` after this process recorded its ``served`` event, over a plain ``load(ref)``
  (goal: about 1: the record is written once per process and digest);
- the first ``load(ref, deployment=...)`` of a digest (writes the ``served`` event) over a plain ``load``;
- ``promote`` with one HTTP hook whose receiver refuses connections (the attempt and its outbox record are
  written) over ``promote`` without hooks (goal: the failing hook does not slow the event noticeably);
- ``resolve_at(name@production, at)`` over ``resolve(name@production)`` with 200 versions (a time-travel query
  reads every tag: an audit, not a serving path).

Run: ``.venv/bin/python benchmarks/deployments.py`` (under a minute).
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import modelver
from modelver.hooks.config import add_hook
from modelver.manifest import CreatedBy
from modelver.registry import deployments as deployment_module
from modelver.registry.lifecycle import promote
from modelver.registry.resolution import VersionTag, resolve
from modelver.registry.timeline import resolve_at
from modelver.store.location import open_store

ME = CreatedBy("bench", "localhost")


def median_s(function: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    """Build a store, measure, print the ratios."""
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "store"
        os.environ["MODELVER_CACHE"] = str(Path(tmp) / "cache")
        with modelver.track("m", version="1.0.0", store=store_path) as run:
            run.save_model({"w": list(range(1000))})
        store = open_store(store_path)
        for i in range(199):
            tag = VersionTag("m", f"0.0.{i}", run.version.digest if run.version else "", "2026-01-01T00:00:00.000Z", ME)
            store.create_tag("m", f"0.0.{i}", tag.to_bytes())
        plain = median_s(lambda: modelver.load("m@1.0.0", store=store), 50)
        modelver.load("m@1.0.0", store=store, deployment="prod-eu")
        recorded = median_s(lambda: modelver.load("m@1.0.0", store=store, deployment="prod-eu"), 50)
        firsts = []
        for i in range(20):
            deployment_module._served.clear()  # as in a fresh process
            started = time.perf_counter()
            modelver.load("m@1.0.0", store=store, deployment=f"t{i}")
            firsts.append(time.perf_counter() - started)
        first = statistics.median(firsts)

        targets = iter(range(10_000))
        versions = ["1.0.0", "0.0.1"]
        no_hook = median_s(lambda: promote(f"m@{versions[next(targets) % 2]}", "production", store=store), 20)
        add_hook(store, f"http://127.0.0.1:{closed_port()}/x", events=("promote",), by="bench", created_by=ME)
        with_hook = median_s(lambda: promote(f"m@{versions[next(targets) % 2]}", "production", store=store), 20)

        now = datetime.now(timezone.utc)
        warm = median_s(lambda: resolve(store, "m@production"), 20)
        travel = median_s(lambda: resolve_at(store, "m@production", now), 20)

    print(f"load(deployment=) once recorded / load():        {recorded / plain:6.2f}x  ({recorded * 1e3:.2f} ms)")
    print(f"first load(deployment=) of a digest / load():    {first / plain:6.2f}x  ({first * 1e3:.2f} ms)")
    print(f"promote with a failing hook / promote:           {with_hook / no_hook:6.2f}x  ({with_hook * 1e3:.2f} ms)")
    print(f"resolve_at / resolve, 200 versions:              {travel / warm:6.2f}x  ({travel * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
