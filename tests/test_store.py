"""The store: write-once objects, atomic create-if-absent tags, verified reads, on local disk, memory:// and S3."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelver import IntegrityError, Store, StoreError, VersionExistsError
from modelver.store.digest import digest_bytes, digest_file
from modelver.store.local_disk import _COPY_CHUNK_BYTES, copy_hashing


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh, initialized store on local disk, in memory://, or in a fresh bucket of the moto S3 server."""
    if request.param == "s3":
        s3: Store = request.getfixturevalue("s3_store")
        return s3
    url = str(tmp_path / "s") if request.param == "local" else f"memory://modelver-test-{uuid.uuid4().hex}"
    s = Store(url)
    s.initialize()
    return s


def test_blobs_are_content_addressed_and_written_once(store: Store) -> None:
    """Putting the same bytes twice yields one blob under its digest."""
    first = store.put_bytes(b"weights")
    second = store.put_bytes(b"weights")
    assert first == second == digest_bytes(b"weights")
    assert b"weights" == store.read_blob(first)
    assert [store.blob_path(first)] == [p for p in store.fs.find(store.root + "/blobs") if "staging" not in p]


def test_empty_blob_round_trips(store: Store) -> None:
    """The empty byte string is a valid blob."""
    assert b"" == store.read_blob(store.put_bytes(b""))


def test_put_file_hashes_while_copying(store: Store, tmp_path: Path) -> None:
    """put_file returns the same digest as hashing the file, and download writes identical bytes."""
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 20_000)
    digest, size = store.put_file(source)
    assert (digest, size) == digest_file(source)
    assert size == store.download(digest, tmp_path / "copy.bin")
    assert source.read_bytes() == (tmp_path / "copy.bin").read_bytes()


def test_second_create_of_a_tag_fails_and_the_first_content_stays(store: Store) -> None:
    """create_tag is create-if-absent: the loser gets VersionExistsError, the winner's bytes remain."""
    store.create_tag("m", "1.0.0", b'{"first": true}')
    with pytest.raises(VersionExistsError):
        store.create_tag("m", "1.0.0", b'{"second": true}')
    assert b'{"first": true}' == store.read_tag("m", "1.0.0")
    assert ["1.0.0"] == store.list_versions("m")


def test_missing_and_corrupt_blobs_raise_integrity_error(store: Store) -> None:
    """A blob that is gone or altered is never returned."""
    digest = store.put_bytes(b"payload")
    path = store.blob_path(digest)
    store.fs.rm(path)
    store.fs.pipe_file(path, b"paYload")
    with pytest.raises(IntegrityError, match="corrupt") as caught:
        store.read_blob(digest)
    assert (digest, digest_bytes(b"paYload")) == (caught.value.digest, caught.value.actual)
    store.fs.rm(path)
    with pytest.raises(IntegrityError, match="missing"):
        store.read_blob(digest)


def test_a_tag_created_through_another_handle_is_listed_at_once(store: Store) -> None:
    """Listings are never served from fsspec's per-instance cache: a tag written by another writer shows up."""
    assert [] == store.list_versions("m")
    other = Store(store.url, **store.storage_options)
    other.create_tag("m", "1.0.0", b'{"x": 1}')
    assert ["1.0.0"] == store.list_versions("m")
    assert ["m"] == store.list_names()


def _bytes_read_by_this_process() -> int:
    # rchar of /proc/self/io: every byte this process read through read() and friends (files and sockets).
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.fixture(scope="module")
def settled_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16 MiB file last changed more than the stat cache's racy window ago (so its digest may be remembered)."""
    from modelver.store.statcache import RACY_WINDOW_S

    source = tmp_path_factory.mktemp("settled") / "model.bin"
    source.write_bytes(os.urandom(16 << 20))
    time.sleep(RACY_WINDOW_S + 0.1)  # waits for the clock, asserts nothing about time
    return source


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io to count bytes read")
def test_unchanged_file_is_not_read_again(store: Store, settled_file: Path) -> None:
    """A file whose (inode, size, mtime, ctime) state was remembered is not read again when put a second time."""
    first = store.put_file(settled_file)
    before = _bytes_read_by_this_process()
    assert first == store.put_file(settled_file)
    assert (1 << 20) > _bytes_read_by_this_process() - before


def test_sha256_store_keeps_its_algorithm(tmp_path: Path) -> None:
    """A store created with sha256 digests every later object with sha256."""
    Store(tmp_path / "s").initialize(algorithm="sha256")
    reopened = Store(tmp_path / "s")
    assert "sha256" == reopened.algorithm
    assert reopened.put_bytes(b"x").startswith("sha256:")


def test_backend_without_create_if_absent_is_refused_for_publishing(tmp_path: Path) -> None:
    """A caching wrapper filesystem has no atomic create: publishing is refused, naming the fix."""
    store = Store(f"simplecache::file://{tmp_path}/s")
    with pytest.raises(StoreError, match="no atomic create-if-absent") as caught:
        store.initialize()
    assert isinstance(caught.value, OSError)


def test_foreign_marker_is_refused(tmp_path: Path) -> None:
    """A directory holding some other modelver.json is not taken for a store."""
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "modelver.json").write_text('{"format": "something-else"}')
    with pytest.raises(StoreError, match="not a modelver store marker"):
        _ = Store(tmp_path / "s").algorithm


def _race_for_tag(root: str, index: int, barrier: Any) -> None:
    store = Store(root)
    barrier.wait()
    try:
        store.create_tag("m", "1.0.0", f'{{"writer": {index}}}'.encode())
    except VersionExistsError:
        raise SystemExit(3) from None


@pytest.mark.usefixtures("no_helper_processes_left")
def test_sixteen_processes_racing_for_one_tag_leave_exactly_one_winner(tmp_path: Path) -> None:
    """Real processes released at once: one creates the tag, fifteen get VersionExistsError, the tag is whole."""
    store = Store(tmp_path / "s")
    store.initialize()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(16)
    procs = [ctx.Process(target=_race_for_tag, args=(store.url, i, barrier)) for i in range(16)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    codes = sorted(p.exitcode for p in procs)
    assert [0] + [3] * 15 == codes
    winner = next(i for i, p in enumerate(procs) if p.exitcode == 0)
    assert f'{{"writer": {winner}}}'.encode() == store.read_tag("m", "1.0.0")
    assert [] == [p for p in (tmp_path / "s" / "names" / "m" / "versions").iterdir() if p.name.startswith(".tmp")]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    boundary=st.sampled_from([0, 1, _COPY_CHUNK_BYTES, 2 * _COPY_CHUNK_BYTES]),
    offset=st.integers(min_value=-3, max_value=3),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    algorithm=st.sampled_from(["blake3", "sha256"]),
)
def test_copy_hashing_writes_the_same_bytes_and_names_them_right(
    tmp_path: Path, boundary: int, offset: int, seed: int, algorithm: str
) -> None:
    """Around the copy buffer's boundaries (empty, one byte, one and two buffers +-3), the one-pass copy writes the
    source's bytes exactly and returns the same digest and size as hashing the source on its own."""
    size = max(0, boundary + offset)
    source, target = tmp_path / f"src-{uuid.uuid4().hex}", tmp_path / f"dst-{uuid.uuid4().hex}"
    source.write_bytes(random.Random(seed).randbytes(size))
    assert digest_file(source, algorithm) == copy_hashing(str(source), str(target), algorithm)
    assert source.read_bytes() == target.read_bytes()
    with pytest.raises(FileExistsError):  # the target is created exclusively, never overwritten
        copy_hashing(str(source), str(target), algorithm)
