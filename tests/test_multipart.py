"""Large blobs go straight to their final key on S3 as a parallel multipart upload, hashed as sent (the local moto
server of tests/s3server.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from modelver.errors import StoreError
from modelver.store import multipart
from modelver.store.digest import digest_file
from modelver.store.objects import Store


def big_file(tmp_path: Path, size: int) -> Path:
    """A file of ``size`` random bytes."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(size))
    return path


def test_a_large_file_is_one_multipart_upload_to_its_final_key(
    s3_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the threshold: no staging key is ever written, the blob reads back verified, in several parts."""
    monkeypatch.setattr(multipart, "MULTIPART_MIN_BYTES", 6 << 20)
    monkeypatch.setattr("modelver.store.publish.MULTIPART_MIN_BYTES", 6 << 20)
    monkeypatch.setattr(multipart, "PART_BYTES", 5 << 20)
    calls: list[str] = []
    sender = multipart.parts_client(s3_store.fs)
    real = sender.call_s3

    def counting(method: str, *args: object, **kwargs: object) -> object:
        calls.append(method)
        return real(method, *args, **kwargs)

    monkeypatch.setattr(sender, "call_s3", counting)
    source = big_file(tmp_path, 12 << 20)
    digest, size = s3_store.put_file(source)
    assert (digest_file(str(source), s3_store.algorithm)[0], 12 << 20) == (digest, size)
    assert source.read_bytes() == s3_store.read_blob(digest)
    assert 3 == calls.count("upload_part")  # 12 MiB in 5 MiB parts (S3's minimum)
    assert 1 == calls.count("complete_multipart_upload")
    assert [] == [p for p in s3_store.fs.find(s3_store.root) if "/.staging/" in p]
    bucket, key, _ = s3_store.fs.split_path(s3_store.blob_path(digest))
    head = s3_store.fs.call_s3("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    # The upload was made with SHA-256 part checksums (moto keeps them but, unlike S3, does not check a part's bytes
    # against its checksum, so the rejection of a corrupted part cannot be shown here).
    assert 44 <= len(head["ChecksumSHA256"])


def test_parts_go_through_one_unsigned_payload_client_per_filesystem(s3_store: Store) -> None:
    """The parts client keeps the store's options (endpoint, credentials) but leaves the payload unsigned, and is
    made once per filesystem."""
    sender = multipart.parts_client(s3_store.fs)
    assert sender is multipart.parts_client(s3_store.fs)
    assert sender is not s3_store.fs
    assert {"payload_signing_enabled": False} == sender.config_kwargs["s3"]
    assert s3_store.fs.client_kwargs == sender.client_kwargs
    assert s3_store.fs.call_s3("list_buckets")["Buckets"] == sender.call_s3("list_buckets")["Buckets"]


def test_a_file_that_changes_while_sent_is_aborted(s3_store: Store, tmp_path: Path) -> None:
    """Hashed, then changed before it is sent: the upload is aborted, and no blob exists under either digest."""
    source = big_file(tmp_path, 6 << 20)
    stale = digest_file(str(source), s3_store.algorithm)
    source.write_bytes(os.urandom(6 << 20))
    with pytest.raises(StoreError, match="changed while it was uploaded"):
        multipart.put_file_multipart(s3_store.fs, str(source), s3_store.algorithm, s3_store.blob_path, digest=stale)
    assert not s3_store.fs.exists(s3_store.blob_path(stale[0]))
    bucket = s3_store.root.split("/")[0]
    assert [] == s3_store.fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])


def test_a_blob_already_stored_is_not_sent_again(s3_store: Store, tmp_path: Path) -> None:
    """Resume at blob granularity: the second upload of the same bytes sends no part."""
    source = big_file(tmp_path, 6 << 20)
    first = multipart.put_file_multipart(s3_store.fs, str(source), s3_store.algorithm, s3_store.blob_path)
    sent: list[str] = []
    real = s3_store.fs.call_s3
    s3_store.fs.call_s3 = lambda method, *a, **k: sent.append(method) or real(method, *a, **k)
    try:
        again = multipart.put_file_multipart(s3_store.fs, str(source), s3_store.algorithm, s3_store.blob_path)
    finally:
        del s3_store.fs.call_s3
    assert first == again
    assert [] == sent


def test_a_small_file_goes_straight_to_its_final_key(s3_store: Store, tmp_path: Path) -> None:
    """Under the multipart threshold: one conditional PUT of the hashed bytes, no staging key; a file changed since
    it was hashed stores nothing."""
    source = tmp_path / "small.bin"
    source.write_bytes(b"0123456789" * 1000)
    digest, size = s3_store.put_file(source)
    assert (source.read_bytes(), 10_000) == (s3_store.read_blob(digest), size)
    assert [] == [p for p in s3_store.fs.find(s3_store.root) if "/.staging/" in p]
    stale = digest_file(str(source), s3_store.algorithm)
    source.write_bytes(b"changed")
    with pytest.raises(StoreError, match="changed while it was uploaded"):
        multipart.put_file_direct(s3_store.fs, str(source), s3_store.algorithm, s3_store.blob_path, stale)


def test_put_files_sends_many_files_at_once_and_answers_in_order(
    s3_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small files go up several at once and one large file as a multipart upload; the answers keep the order
    given, and each names its file's bytes."""
    monkeypatch.setattr(multipart, "MULTIPART_MIN_BYTES", 6 << 20)
    monkeypatch.setattr("modelver.store.publish.MULTIPART_MIN_BYTES", 6 << 20)
    sources = []
    for index in range(12):
        path = tmp_path / f"shard-{index:02d}.bin"
        path.write_bytes(os.urandom(1000 + index))
        sources.append(str(path))
    sources.insert(5, str(big_file(tmp_path, 7 << 20)))
    threads: set[str] = set()
    real = s3_store.put_file

    def noting(source: str) -> tuple[str, int]:
        threads.add(threading.current_thread().name)
        return real(source)

    monkeypatch.setattr(s3_store, "put_file", noting)
    stored = s3_store.put_files(sources)
    assert [digest_file(path, s3_store.algorithm) for path in sources] == stored
    assert [Path(path).read_bytes() for path in sources] == [s3_store.read_blob(digest) for digest, _ in stored]
    assert 1 < len([name for name in threads if name.startswith("modelver-file")])


def test_put_files_stops_at_the_first_failure(s3_store: Store, tmp_path: Path) -> None:
    """A file that cannot be read fails the batch with the store's typed error."""
    good = tmp_path / "good.bin"
    good.write_bytes(b"kept")
    with pytest.raises(StoreError, match=r"missing\.bin"):
        s3_store.put_files([str(good), str(tmp_path / "missing.bin"), str(good)])


def test_put_files_on_local_disk_stores_in_turn(tmp_path: Path) -> None:
    """On a local store the files are stored one after the other, in the calling thread, in order."""
    store = Store(str(tmp_path / "store"))
    store.initialize()
    sources = []
    for index in range(3):
        path = tmp_path / f"f{index}"
        path.write_bytes(bytes([index]) * 10)
        sources.append(str(path))
    assert [digest_file(path, store.algorithm) for path in sources] == store.put_files(sources)
