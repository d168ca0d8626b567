"""Large blobs go straight to their final key on S3 as a parallel multipart upload, hashed as sent (the local moto
server of tests/s3server.py)."""

from __future__ import annotations

import os
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
    real = s3_store.fs.call_s3

    def counting(method: str, *args: object, **kwargs: object) -> object:
        calls.append(method)
        return real(method, *args, **kwargs)

    monkeypatch.setattr(s3_store.fs, "call_s3", counting)
    source = big_file(tmp_path, 12 << 20)
    digest, size = s3_store.put_file(source)
    assert (digest_file(str(source), s3_store.algorithm)[0], 12 << 20) == (digest, size)
    assert source.read_bytes() == s3_store.read_blob(digest)
    assert 3 == calls.count("upload_part")  # 12 MiB in 5 MiB parts (S3's minimum)
    assert 1 == calls.count("complete_multipart_upload")
    assert [] == [p for p in s3_store.fs.find(s3_store.root) if "/.staging/" in p]


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
