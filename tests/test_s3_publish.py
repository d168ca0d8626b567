"""Publishing on real backends: 16 racing processes, flipped bytes, unchanged re-publishes, refused backends."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver import IntegrityError, Store, StoreError, VersionExistsError
from modelver.registry.verify import referenced_blobs, verify_all
from s3server import AnsweringProxy, CountingProxy, s3_options

PROCESSES = 16


def open_test_store(url: str, endpoint: str | None) -> Store:
    """A Store on local disk (``endpoint`` None) or on the test S3 server."""
    return Store(url, **s3_options(endpoint)) if endpoint else Store(url)


def _publish_at_barrier(url: str, endpoint: str | None, index: int, barrier: Any, queue: Any) -> None:
    store = open_test_store(url, endpoint)
    try:
        with modelver.track("race", store=store) as run:
            run.save_model({"writer": index})
            barrier.wait(120)  # every process leaves its block, and so publishes, at the same moment
        assert run.version is not None
        queue.put((index, "published", run.version.version))
    except BaseException as exc:
        queue.put((index, "failed", repr(exc)))
        raise


@pytest.mark.usefixtures("no_helper_processes_left")
def test_sixteen_processes_publishing_at_once_get_sixteen_distinct_versions(backend: tuple[str, str | None]) -> None:
    """16 real processes publish auto-versioned bundles of one name at once: 16 versions, each whole and its own."""
    url, endpoint = backend
    open_test_store(url, endpoint).initialize()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_publish_at_barrier, args=(url, endpoint, i, barrier, queue)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=180) for _ in procs)
    for p in procs:
        p.join(60)
    assert [0] * PROCESSES == [p.exitcode for p in procs]
    assert [(i, "published") for i in range(PROCESSES)] == [(i, status) for i, status, _ in results]
    versions = {version: index for index, _, version in results}
    assert [f"0.1.{n}" for n in range(PROCESSES)] == sorted(versions, key=lambda v: int(v.split(".")[2]))
    store = open_test_store(url, endpoint)
    assert sorted(versions) == sorted(t.version for t in modelver.list_versions("race", store=store))
    for version, index in versions.items():
        assert {"writer": index} == modelver.load(f"race@{version}", store=store)
    checked = verify_all(store=store)  # every blob of every version re-hashed from the store, each once
    assert (True, PROCESSES) == (checked.ok, len(checked.reports))


def _publish_bundle(store: Store, tmp_path: Path) -> modelver.ModelVersion:
    data = tmp_path / "weights.bin"
    data.write_bytes(os.urandom(300_000))
    with modelver.track("flip", store=store, config={"lr": 0.1}) as run:
        run.log_metrics({"loss": 0.5}, step=1)
        run.save_model({"coef": [1, 2, 3]})
        run.log_artifact(data)
    assert run.version is not None
    return run.version


def test_flipping_one_byte_of_any_blob_is_caught(backend: tuple[str, str | None], tmp_path: Path) -> None:
    """Each blob of a version, one byte flipped in the store: verify reports it corrupt; load of the model raises."""
    url, endpoint = backend
    store = open_test_store(url, endpoint)
    version = _publish_bundle(store, tmp_path)
    every = referenced_blobs(version.manifest)
    assert {"artifact model.json", "artifact weights.bin", "metrics history"} <= {role for role, _ in every}
    # every artifact, the metrics history, and one blob captured with the code (a diff, untracked file or source)
    kinds: dict[str, tuple[str, str]] = {}
    for role, digest in every:
        kind = role if role.startswith(("artifact", "metrics")) else "code"
        kinds.setdefault(kind, (role, digest))
    for role, digest in kinds.values():
        path = store.blob_path(digest)
        original = bytes(store.fs.cat_file(path))
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        if store.is_local:
            os.chmod(path, 0o644)  # blobs are read-only; the test plays a bit rot
        store.fs.pipe_file(path, bytes(flipped))
        fresh = open_test_store(url, endpoint)  # nothing read through the cache before the flip
        report = modelver.verify("flip@0.1.0", store=fresh)
        assert [(role, "corrupt")] == [(o.role, o.status) for o in report.objects if o.status != "ok"]
        if role == "artifact model.json":
            with pytest.raises(IntegrityError, match="corrupt"):
                modelver.load("flip@0.1.0", store=fresh)
        store.fs.pipe_file(path, original)
        assert modelver.verify("flip@0.1.0", store=open_test_store(url, endpoint)).ok


def test_republishing_an_unchanged_100_mb_model_file_sends_no_blob_bytes(
    s3_bucket: str,
    s3_proxy: CountingProxy,
    tmp_path: Path,
) -> None:
    """The second publish of the same 100 MB file sends no blob: bytes counted on the wire by a TCP relay."""
    store = Store(f"s3://{s3_bucket}/store", **s3_options(s3_proxy.endpoint))
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(100 << 20))
    with modelver.track("big", store=store) as run:
        run.log_artifact(model)
    first_sent = s3_proxy.sent_bytes
    s3_proxy.reset()
    with modelver.track("big", store=store) as run:
        run.log_artifact(model)
    assert run.version is not None
    assert "0.1.1" == run.version.version
    assert first_sent > 100 << 20  # the relay does see the upload when there is one
    model_key = store.blob_path(run.version.manifest.artifacts["model.bin"].digest).split("/", 1)[1]
    uploads = [path for method, path in s3_proxy.requests if method in ("PUT", "POST")]
    # Small blobs that differ per run (the resource series) are sent; the model's blob and any staged upload are not.
    assert [] == [path for path in uploads if model_key in path or "/blobs/.staging/" in path]
    assert s3_proxy.sent_bytes < 1 << 20  # manifest, tag and request headers only
    assert modelver.verify("big@0.1.1", store=store).ok


def test_s3_behind_a_caching_wrapper_is_refused_for_publishing_but_readable(s3_store: Store, s3_endpoint: str) -> None:
    """simplecache::s3:// has no conditional create: publishing is refused with the fix named; reading works."""
    with modelver.track("wrapped", store=s3_store) as run:
        run.save_model([1, 2])
    wrapped = Store(f"simplecache::{s3_store.url}", s3=s3_options(s3_endpoint))
    with pytest.raises(StoreError, match=r"no atomic create-if-absent.*s3://"):
        wrapped.initialize()
    with pytest.raises(StoreError, match="no atomic create-if-absent"), modelver.track("wrapped", store=wrapped):
        pass
    assert [1, 2] == modelver.load("wrapped", store=wrapped)


CONFLICT_409 = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>ConditionalRequestConflict</Code>"
    "<Message>A conflicting operation occurred. If using PutObject you can retry the request.</Message></Error>"
)
# A 412 as some S3-compatible servers send it: without the <Condition> element real S3 adds.
PRECONDITION_412 = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>PreconditionFailed</Code>"
    "<Message>At least one of the pre-conditions you specified did not hold</Message></Error>"
)


def _store_via(proxy: AnsweringProxy, bucket: str) -> Store:
    store = Store(f"s3://{bucket}/store", **s3_options(proxy.endpoint))
    store.initialize()
    return store


def test_a_409_conflict_on_a_tag_is_retried_and_the_retry_creates_it(
    s3_bucket: str, s3_answering_proxy: AnsweringProxy
) -> None:
    """Two real HTTP 409 ConditionalRequestConflict answers to the tag's PUT, then the server: the tag is created."""
    store = _store_via(s3_answering_proxy, s3_bucket)
    s3_answering_proxy.answer("PUT", "/names/m/versions/1.0.0.json", 2, 409, "Conflict", CONFLICT_409)
    store.create_tag("m", "1.0.0", b'{"writer": 1}')
    assert 2 == len(s3_answering_proxy.answered)
    assert 3 == sum(1 for m, p in s3_answering_proxy.requests if m == "PUT" and "/versions/1.0.0.json" in p)
    assert b'{"writer": 1}' == store.read_tag("m", "1.0.0")


def test_a_409_then_a_taken_key_is_version_exists(s3_bucket: str, s3_answering_proxy: AnsweringProxy) -> None:
    """A 409, and the retry finds the tag another writer created meanwhile: VersionExistsError, their bytes stay."""
    store = _store_via(s3_answering_proxy, s3_bucket)
    store.create_tag("m", "1.0.0", b'{"writer": "other"}')
    s3_answering_proxy.answer("PUT", "/names/m/versions/1.0.0.json", 1, 409, "Conflict", CONFLICT_409)
    with pytest.raises(VersionExistsError):
        store.create_tag("m", "1.0.0", b'{"writer": "me"}')
    assert 1 == len(s3_answering_proxy.answered)
    assert b'{"writer": "other"}' == store.read_tag("m", "1.0.0")


def test_conflicts_that_never_end_fail_the_create_without_a_tag(
    s3_bucket: str, s3_answering_proxy: AnsweringProxy
) -> None:
    """409 on every attempt: a StoreError after the retries, and no tag exists (no success without a version)."""
    store = _store_via(s3_answering_proxy, s3_bucket)
    s3_answering_proxy.answer("PUT", "/names/m/versions/1.0.0.json", 100, 409, "Conflict", CONFLICT_409)
    with pytest.raises(StoreError, match=r"ConditionalRequestConflict|conflicting"):
        store.create_tag("m", "1.0.0", b'{"writer": 1}')
    assert 5 == len(s3_answering_proxy.answered)
    assert [] == store.list_versions("m")


def test_a_412_without_the_condition_element_means_taken(s3_bucket: str, s3_answering_proxy: AnsweringProxy) -> None:
    """A bare 412 PreconditionFailed (no <Condition>, as some S3-compatible servers answer) is a taken key."""
    store = _store_via(s3_answering_proxy, s3_bucket)
    s3_answering_proxy.answer("PUT", "/names/m/versions/1.0.0.json", 1, 412, "Precondition Failed", PRECONDITION_412)
    with pytest.raises(VersionExistsError):
        store.create_tag("m", "1.0.0", b'{"writer": 1}')


def test_a_create_whose_key_already_holds_its_exact_bytes_succeeds(s3_store: Store) -> None:
    """A resent PUT whose first attempt had landed finds its own bytes: that is success, not a taken version;
    different bytes are still refused."""
    s3_store.fs.pipe_file(s3_store.tag_path("m", "1.0.0"), b'{"writer": 1}')  # the first attempt, answer lost
    s3_store.create_tag("m", "1.0.0", b'{"writer": 1}')
    with pytest.raises(VersionExistsError):
        s3_store.create_tag("m", "1.0.0", b'{"writer": 2}')
    assert b'{"writer": 1}' == s3_store.read_tag("m", "1.0.0")
