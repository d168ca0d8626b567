"""The read cache of remote stores: a second load reads no blob or manifest over the network; verified, bounded,
safe for concurrent fills."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver import IntegrityError, Store
from modelver.store.cache import ReadCache
from modelver.store.digest import digest_bytes
from s3server import CountingProxy, s3_options


def _publish(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "table.bin"
    data.write_bytes(os.urandom(2 << 20))
    with modelver.track("cached", store=store) as run:
        run.save_model({"coef": [0.5, 0.25]})
        run.log_artifact(data)


def test_second_load_reads_only_tags_from_the_network(s3_bucket: str, s3_proxy: CountingProxy, tmp_path: Path) -> None:
    """The first load fetches manifest and blobs into the cache; the second lists versions and reads the tag only."""
    url = f"s3://{s3_bucket}/store"
    _publish(Store(url, **s3_options(s3_proxy.endpoint)), tmp_path)
    # Serving runs elsewhere: nothing the publish's own re-check read is in its cache.
    shutil.rmtree(os.environ["MODELVER_CACHE"], ignore_errors=True)
    s3_proxy.reset()
    first = Store(url, **s3_options(s3_proxy.endpoint))
    assert {"coef": [0.5, 0.25]} == modelver.load("cached", store=first)
    modelver.get("cached", store=first).download(tmp_path / "first")
    fetched = [path for method, path in s3_proxy.requests if method == "GET"]
    assert any("/blobs/" in p for p in fetched)
    assert any("/manifests/" in p for p in fetched)
    s3_proxy.reset()
    second = Store(url, **s3_options(s3_proxy.endpoint))  # a new process would start from the same cache
    assert {"coef": [0.5, 0.25]} == modelver.load("cached", store=second)
    modelver.get("cached", store=second).download(tmp_path / "second")
    assert (tmp_path / "first" / "table.bin").read_bytes() == (tmp_path / "second" / "table.bin").read_bytes()
    touched = [path for _method, path in s3_proxy.requests]
    assert [] == [p for p in touched if "/blobs/" in p or "/manifests/" in p]
    assert all("names" in p for p in touched)  # version listing (so new versions are seen) and the tag read
    assert s3_proxy.sent_bytes < 64 << 10


def test_a_damaged_cache_copy_is_dropped_and_fetched_again(s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    """A cached object whose bytes were altered is never returned: it is re-fetched from the store."""
    store = Store(f"s3://{s3_bucket}/store", **s3_options(s3_endpoint))
    _publish(store, tmp_path)
    version = modelver.get("cached", store=store)
    assert {"coef": [0.5, 0.25]} == version.load()
    assert store.cache is not None
    cached = store.cache.path(version.manifest.artifacts["model.json"].digest)
    cached.chmod(0o644)
    cached.write_bytes(cached.read_bytes().replace(b"0.5", b"0.9"))
    assert {"coef": [0.5, 0.25]} == version.load()
    assert digest_bytes(cached.read_bytes()) == version.manifest.artifacts["model.json"].digest


def test_a_corrupt_store_blob_is_never_cached(s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    """A blob that does not match its digest raises IntegrityError and leaves nothing in the cache."""
    store = Store(f"s3://{s3_bucket}/store", **s3_options(s3_endpoint))
    _publish(store, tmp_path)
    version = modelver.get("cached", store=store)
    digest = version.manifest.artifacts["model.json"].digest
    store.fs.pipe_file(store.blob_path(digest), b'{"coef": [9]}')
    with pytest.raises(IntegrityError, match="corrupt"):
        version.load()
    assert store.cache is not None
    assert not store.cache.path(digest).exists()


def test_cache_keeps_the_most_recently_used_objects_within_its_bound(tmp_path: Path) -> None:
    """Over the bound, the least recently used objects go first; a hit counts as a use."""
    cache = ReadCache(tmp_path / "c", max_bytes=3000)
    blobs = [bytes([i]) * 1000 for i in range(3)]
    digests = [digest_bytes(b) for b in blobs]
    for age, (digest, blob) in zip((300, 200, 100), zip(digests, blobs, strict=True), strict=True):
        path = cache.fill(digest, [blob])
        os.utime(path, (path.stat().st_mtime - age, path.stat().st_mtime - age))
    assert blobs[0] == cache.read(digests[0])  # used now: the newest
    extra = b"x" * 1000
    cache.fill(digest_bytes(extra), [extra])
    assert [True, False, True, True] == [cache.path(d).exists() for d in [*digests, digest_bytes(extra)]]


def _fill(root: str, index: int, barrier: Any) -> None:
    cache = ReadCache(root)
    shared = b"shared bytes " * 50_000
    own = f"own bytes of {index} ".encode() * 50_000
    barrier.wait(60)
    for blob in (shared, own, shared):
        cache.fill(digest_bytes(blob), [blob[i : i + 65536] for i in range(0, len(blob), 65536)])
        assert blob == cache.read(digest_bytes(blob))


@pytest.mark.usefixtures("no_helper_processes_left")
def test_processes_filling_the_cache_at_once_leave_whole_objects(tmp_path: Path) -> None:
    """Six processes fill the same and different objects at the same moment: every object whole, no temp left."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(6)
    procs = [ctx.Process(target=_fill, args=(str(tmp_path / "c"), i, barrier)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [0] * 6 == [p.exitcode for p in procs]
    cache = ReadCache(tmp_path / "c")
    objects = [p for p in (tmp_path / "c" / "objects").rglob("*") if p.is_file()]
    assert 7 == len(objects)
    assert all(cache.read(f"blake3:{p.parent.name}{p.name}") is not None for p in objects)
    assert [] == list((tmp_path / "c" / "tmp").iterdir())
