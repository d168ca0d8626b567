"""gc under concurrent publishes (issue #16, "Data loss in gc"): no published version ever references a removed object.

docs/security.md, "Garbage collection safety", gives the argument; these tests exercise each part of it, and the
stress tests run real publisher processes against a real gc process on local disk, S3 (moto), Azurite and fake GCS.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import modelver
from gc_stress import SHARED, gc_loop, publish_loop
from gcsserver import FakeGcs, gcs_options
from modelver import Store, StoreError
from modelver.cli import main
from modelver.errors import GraceTooShortError
from modelver.maintenance.gc import collect_garbage
from modelver.maintenance.roots import _SOURCES, gather_roots, register_root_source
from modelver.registry.verify import verify_all
from modelver.store.leases import MIN_GRACE_S, gc_lease, publish_lease
from modelver.store.publish import FRESHEN_AFTER_S
from s3server import s3_options

STRESS_S = 30.0
PUBLISHERS = 3
#: gc's smallest grace in the stress tests (forced: far below MIN_GRACE_S; raised to 3 publishes, see _stress).
#: With 0, gc removes every run's model before its publish starts, so every publish is refused and nothing tests
#: that published versions stay whole; a few seconds lets most runs publish while gc removes the orphans they reuse.
GC_GRACE_S = 2.0
#: The same on the emulated object stores, where one run takes several seconds of requests before its publish.
GC_GRACE_REMOTE_S = 5.0


def _age(path: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_gc_refuses_a_grace_below_the_minimum_without_force(store_dir: Path) -> None:
    """A grace under MIN_GRACE_S is a typed ValueError saying what it risks and how to force it; forced, it runs."""
    with pytest.raises(GraceTooShortError, match="--force") as caught:
        collect_garbage(store_dir, grace_s=600)
    assert isinstance(caught.value, ValueError)
    assert (600.0, MIN_GRACE_S) == (caught.value.grace_s, caught.value.minimum_s)
    assert "still training" in str(caught.value)
    assert () == collect_garbage(store_dir, grace_s=600, force=True).removed


def test_gc_command_says_why_a_short_grace_is_refused(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`modelver gc --grace 600` exits 1 with one line naming the minimum and --force."""
    with pytest.raises(SystemExit) as exited:
        main(["gc", "--grace", "600"])
    assert 1 == exited.value.code
    err = capsys.readouterr().err
    assert (True, True) == (f"minimum of {MIN_GRACE_S:g} s" in err, "--force" in err)


def test_freshen_threshold_derives_from_the_smallest_grace() -> None:
    """A reused object is refreshed well before the smallest allowed grace could make it collectable."""
    assert FRESHEN_AFTER_S < MIN_GRACE_S
    assert MIN_GRACE_S / 3 == FRESHEN_AFTER_S


def test_reused_old_blob_survives_gc_at_the_minimum_grace_during_the_run(store_dir: Path) -> None:
    """The issue's reproduction: a failed run's blob aged 30 min, a new run reuses it, gc at the minimum grace runs
    during the run; the version publishes, verifies and loads."""
    store = Store(store_dir)

    def failing() -> None:
        with modelver.track("m", store=store) as run:
            run.save_model(SHARED)
            raise RuntimeError("diverged")

    with pytest.raises(RuntimeError):
        failing()
    for path in store.fs.find(f"{store.root}/blobs") + store.fs.find(f"{store.root}/manifests"):
        _age(path, 1800)
    with modelver.track("m", store=store) as run:
        run.save_model(SHARED)
        collect_garbage(store, grace_s=MIN_GRACE_S)
    assert run.version is not None
    assert verify_all(store=store).ok
    assert SHARED == modelver.load("m", store=store)


def test_publish_refuses_when_gc_removed_a_blob_of_the_run(store_dir: Path) -> None:
    """A forced gc with no grace removes a running run's model; the publish re-check refuses instead of publishing
    a version that references a missing blob."""
    store = Store(store_dir)

    def run_undercut_by_gc() -> None:
        with modelver.track("m", store=store) as run:
            run.save_model({"lost": True})
            collect_garbage(store, grace_s=0, force=True)

    with pytest.raises(StoreError, match="not in the store"):
        run_undercut_by_gc()
    assert [] == store.list_versions("m")
    assert verify_all(store=store).ok


def test_gc_keeps_what_a_publish_in_flight_references(store_dir: Path) -> None:
    """While a publish lease names a manifest, a forced gc with no grace keeps it and its blobs; after, they go."""
    store = Store(store_dir)
    with modelver.track("m", store=store) as run:
        run.save_model({"in": "flight"})
    assert run.version is not None
    digest = run.version.digest
    os.unlink(store.tag_path("m", run.version.version))  # as if its tag were not created yet: only the lease names it
    objects = set(store.fs.find(f"{store.root}/manifests")) | {
        p for p in store.fs.find(f"{store.root}/blobs") if "/.staging/" not in p
    }
    with publish_lease(store, digest, "m"):
        roots = gather_roots(store, 0.0)
        kept = collect_garbage(store, grace_s=0, force=True)
    assert objects <= set(roots.paths)
    assert () == kept.removed
    assert objects == set(collect_garbage(store, grace_s=0, force=True).removed)


def test_publish_waits_while_a_gc_holds_its_lease(store_dir: Path) -> None:
    """A publish lease is granted only once no live gc lease exists: the publisher re-checks after that gc."""
    store = Store(store_dir)
    store.initialize()
    entered = threading.Event()

    def publisher() -> None:
        with publish_lease(store, "blake3:" + "0" * 64, "m"):
            entered.set()

    with gc_lease(store):
        thread = threading.Thread(target=publisher)
        thread.start()
        waited = not entered.wait(0.5)
    thread.join(10)
    assert (True, True) == (waited, entered.is_set())


def test_a_registered_root_source_keeps_what_it_names(store_dir: Path) -> None:
    """Later features extend gc through register_root_source, not exceptions in gc: what a source names stays."""
    store = Store(store_dir)
    digest = store.put_bytes(b"a checkpoint of a live job")
    path = store.blob_path(digest)
    _age(path, 7200)
    register_root_source("test checkpoints", lambda s, grace_s, now: {s.blob_path(digest)})
    try:
        report = collect_garbage(store, grace_s=3600)
        roots = gather_roots(store, 3600)
    finally:
        del _SOURCES["test checkpoints"]
    assert (path not in report.removed, 1) == (os.path.exists(path), roots.by_source["test checkpoints"])
    assert {"in-flight publishes", "versions", "step cache", "live runs"} <= set(roots.by_source)
    assert (path,) == collect_garbage(store, grace_s=3600).removed


def _stress(url: str, options: dict[str, Any], grace_s: float = GC_GRACE_REMOTE_S) -> None:
    """PUBLISHERS processes publish in a loop while one process runs gc with ``grace_s`` (forced) in a loop, for
    STRESS_S seconds; every published version then verifies and loads."""
    store = Store(url, **options)
    store.initialize()
    # The baseline, measured in this run: one publish on this store. gc's grace is a few times that (runs here share
    # the cores with gc and each other), so most runs publish while gc still removes what they reuse; a fixed grace
    # refuses every publish on a loaded machine and then tests nothing.
    start = time.monotonic()
    with modelver.track("baseline", store=store) as run:
        run.save_model(SHARED, "shared.json")
    grace_s = max(grace_s, 3 * (time.monotonic() - start))
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    gc_results = ctx.Queue()
    until = time.time() + max(STRESS_S, 3 * grace_s) + 5  # spawned interpreters take a few seconds to start
    procs = [ctx.Process(target=publish_loop, args=(url, options, until, i, results)) for i in range(PUBLISHERS)]
    done = ctx.Event()
    procs.append(ctx.Process(target=gc_loop, args=(url, options, done, grace_s, gc_results)))
    for proc in procs:
        proc.start()
    deadline = until + 300
    outcomes: list[tuple[list[str], int]] = []
    gc_outcome: list[tuple[int, int]] = []
    while (len(outcomes) < PUBLISHERS or not gc_outcome) and time.time() < deadline:
        if len(outcomes) == PUBLISHERS:
            done.set()  # gc keeps running until the last publisher is done
        # A worker that crashed puts nothing: fail now with its exit code instead of waiting for the deadline.
        assert [] == [proc.exitcode for proc in procs if proc.exitcode not in (None, 0)]
        with contextlib.suppress(queue.Empty):
            outcomes.append(results.get(timeout=1))
        with contextlib.suppress(queue.Empty):
            gc_outcome.append(gc_results.get_nowait())
    for proc in procs:
        proc.join(60)
    rounds, removed = gc_outcome[0]
    published = [ref for refs, _refused in outcomes for ref in refs]
    refused = sum(count for _refs, count in outcomes)
    print(
        f"stress {url}: grace {grace_s:.1f} s, {len(published)} published, {refused} refused, {rounds} gc rounds, "
        f"{removed} removed"
    )
    assert [0] * len(procs) == [proc.exitcode for proc in procs]
    assert (True, True, True) == (len(published) > 0, rounds > 1, removed > 0)  # both sides ran; gc removed
    report = verify_all(store=Store(url, **options))
    assert (True, len(published) + 1) == (report.ok, len(report.reports))
    fresh = Store(url, **options)
    loaded = [modelver.load(ref, store=fresh) for ref in published]  # every byte read back and verified
    assert len(published) == len(loaded)


@pytest.mark.slow
def test_gc_loop_during_publishes_on_local_disk(store_dir: Path, no_helper_processes_left: None) -> None:
    """Stress on local disk: every version published while gc ran with a forced short grace verifies."""
    _stress(str(store_dir), {}, GC_GRACE_S)


@pytest.mark.slow
def test_gc_loop_during_publishes_on_s3(s3_endpoint: str, s3_bucket: str, no_helper_processes_left: None) -> None:
    """Stress on the moto S3 server: every version published while gc ran with a forced short grace verifies."""
    _stress(f"s3://{s3_bucket}/store", s3_options(s3_endpoint))


@pytest.mark.slow
def test_gc_loop_during_publishes_on_azurite(
    azurite: Any, azure_container: str, no_helper_processes_left: None
) -> None:
    """Stress on Azurite: every version published while gc ran with a forced short grace verifies."""
    from azurite import azure_options

    _stress(f"az://{azure_container}/store", azure_options(azurite.endpoint))


@pytest.mark.slow
def test_gc_loop_during_publishes_on_gcs(gcs_server: FakeGcs, gcs_bucket: str, no_helper_processes_left: None) -> None:
    """Stress on the fake GCS server: every version published while gc ran with a forced short grace verifies."""
    _stress(f"gs://{gcs_bucket}/store", gcs_options(gcs_server.endpoint))
