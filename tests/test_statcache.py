"""The stat cache: unchanged files are not read again, changed ones always are."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import modelver
from modelver.data.fingerprint import tree_json
from modelver.store import statcache
from modelver.store.digest import digest_bytes
from modelver.store.statcache import StatCache, TreeSnapshot, filesystem_type, trusted

FAKE = "blake3:" + "0" * 64


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files made by a test are seconds old at most; let them be cached (the racy rule has its own test)."""
    monkeypatch.setattr(statcache, "RACY_WINDOW_S", -1.0)


def _db() -> Path:
    return statcache.cache_dir() / "fingerprints.sqlite3"


def _forge(path: Path) -> None:
    """Replace the cached digest of ``path`` with FAKE: if a later fingerprint returns FAKE, it read no byte."""
    with sqlite3.connect(_db()) as conn:
        updated = conn.execute("UPDATE files SET digest = ? WHERE path = ?", (FAKE, str(path))).rowcount
    assert 1 == updated


def _forge_tree(root: Path, name: str) -> None:
    """Replace, in the snapshot of ``root``, the digest of file ``name`` and the tree digest with FAKE."""
    with StatCache() as cache:
        snapshot = cache.lookup_tree("blake3", str(root))
        assert snapshot is not None
        entries = snapshot.entries()
        entries[name] = (FAKE, entries[name][1])
        forged = TreeSnapshot.build(FAKE, snapshot.walk_names, snapshot.walk_keys, entries)
        cache.store_files("blake3", [], tree=(str(root), forged))


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.csv").write_text("x\n1\n")
    (root / "sub" / "b.bin").write_bytes(b"\x00" * 1000)
    return root


def test_unchanged_file_is_answered_from_the_cache(tmp_path: Path) -> None:
    """A second fingerprint of an unchanged file uses the cached digest instead of reading it."""
    path = _tree(tmp_path / "data") / "a.csv"
    first = modelver.fingerprint(path)
    _forge(path)
    assert FAKE == modelver.fingerprint(path).digest
    assert first == modelver.fingerprint(path, cache=False)


def test_unchanged_tree_is_answered_from_its_snapshot(tmp_path: Path) -> None:
    """A second fingerprint of an unchanged directory returns the snapshot: no file read, no listing recomputed."""
    tree = _tree(tmp_path / "data")
    first = modelver.fingerprint(tree)
    _forge_tree(tree, "a.csv")
    second = modelver.fingerprint(tree)
    expected = (FAKE, FAKE, first.entries["sub/b.bin"], first.size_bytes, first.files)
    assert expected == (
        second.digest,
        second.entries["a.csv"][0],
        second.entries["sub/b.bin"],
        second.size_bytes,
        second.files,
    )
    assert first == modelver.fingerprint(tree, cache=False)


def test_a_changed_file_in_a_tree_is_the_only_one_read(tmp_path: Path) -> None:
    """When one file of a tree changes, the others' digests come from the snapshot and the tree digest is rebuilt."""
    tree = _tree(tmp_path / "data")
    modelver.fingerprint(tree)
    _forge_tree(tree, "a.csv")
    (tree / "sub" / "b.bin").write_bytes(b"\x01" * 1000)
    again = modelver.fingerprint(tree)
    entries = {"a.csv": (FAKE, 4), "sub/b.bin": (digest_bytes(b"\x01" * 1000), 1000)}
    assert (entries, digest_bytes(tree_json(entries))) == (again.entries, again.digest)


def test_a_subdirectory_uses_the_per_file_cache(tmp_path: Path) -> None:
    """Files hashed as part of a tree are not read again when a subdirectory or a single file is fingerprinted."""
    tree = _tree(tmp_path / "data")
    modelver.fingerprint(tree)
    _forge(tree / "sub" / "b.bin")
    assert (FAKE, 1000) == modelver.fingerprint(tree / "sub").entries["b.bin"]
    assert FAKE == modelver.fingerprint(tree / "sub" / "b.bin").digest


def test_any_change_to_a_file_forces_a_rehash(tmp_path: Path) -> None:
    """Rewriting a file with the same size (so only mtime/ctime move) is seen, in a file and in a tree."""
    tree = _tree(tmp_path / "data")
    modelver.fingerprint(tree / "a.csv")
    modelver.fingerprint(tree)
    _forge(tree / "a.csv")
    _forge_tree(tree, "a.csv")
    (tree / "a.csv").write_text("x\n2\n")
    assert modelver.fingerprint(tree, cache=False) == modelver.fingerprint(tree)
    assert modelver.fingerprint(tree / "a.csv", cache=False) == modelver.fingerprint(tree / "a.csv")


def test_restoring_mtime_does_not_fool_the_cache(tmp_path: Path) -> None:
    """Changing content and putting the old mtime back still re-hashes: ctime moved."""
    tree = _tree(tmp_path / "data")
    modelver.fingerprint(tree)
    _forge(tree / "a.csv")
    _forge_tree(tree, "a.csv")
    before = os.stat(tree / "a.csv")
    (tree / "a.csv").write_text("x\n3\n")
    os.utime(tree / "a.csv", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert modelver.fingerprint(tree, cache=False) == modelver.fingerprint(tree)


def test_files_modified_just_now_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the racy window a file could change again without changing its stat: it is not stored."""
    monkeypatch.setattr(statcache, "RACY_WINDOW_S", 3600.0)
    tree = _tree(tmp_path / "data")
    first = modelver.fingerprint(tree)
    with sqlite3.connect(_db()) as conn:
        assert 0 == conn.execute("SELECT count(*) FROM files").fetchone()[0]
    _forge_tree(tree, "a.csv")  # the snapshot holds racy files under a key no file has: they are read again
    assert first == modelver.fingerprint(tree)


def test_pseudo_filesystems_are_not_trusted() -> None:
    """procfs reports sizes and times that say nothing about content."""
    if not sys.platform.startswith("linux"):
        pytest.skip("procfs is Linux's")
    assert "proc" == filesystem_type("/proc/self/status")
    assert not trusted("/proc/self/status")


def test_a_broken_cache_file_only_costs_a_rehash(tmp_path: Path) -> None:
    """A cache path that is not a database is ignored, and the digest is still right."""
    bad = tmp_path / "not-a-db.sqlite3"
    bad.write_text("garbage")
    cache = StatCache(bad)
    assert {} == cache.lookup_files("blake3", {"/x": (1, 2, 3, 4, 5)})
    cache.store_files("blake3", [("/x", (1, 2, 3, 4, 5), FAKE)])


def test_a_damaged_snapshot_only_costs_a_rehash(tmp_path: Path) -> None:
    """Snapshot blobs that do not decode, or disagree with each other, are ignored: the digest is still right."""
    tree = _tree(tmp_path / "data")
    expected = modelver.fingerprint(tree)
    for names, digests in ((b"\xff\xfe", b"x"), (b"a.csv", b"blake3:1\0blake3:2")):
        with sqlite3.connect(_db()) as conn:
            conn.execute("UPDATE trees SET names = ?, digests = ?", (names, digests))
        assert expected == modelver.fingerprint(tree)


def test_processes_sharing_the_cache_agree(tmp_path: Path) -> None:
    """Four processes fingerprint one tree through one cache at once and get the same digest."""
    tree = _tree(tmp_path / "data")
    for i in range(200):
        (tree / f"f{i}.txt").write_text(str(i))
    code = "import json, sys, modelver; print(modelver.fingerprint(sys.argv[1]).digest)"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tree)], stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    digests = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert [0, 0, 0, 0] == [p.returncode for p in procs]
    assert {modelver.fingerprint(tree, cache=False).digest} == digests
    assert json.dumps(sorted(digests))


def _put_multipart(endpoint: str, bucket: str, key: str, parts: list[bytes]) -> bytes:
    """Upload an object in parts (its ETag then hashes the parts, not the bytes); return its content."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = [
        {
            "PartNumber": n,
            "ETag": client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=part)["ETag"],
        }
        for n, part in enumerate(parts, start=1)
    ]
    client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done})
    return b"".join(parts)


def test_streamed_remote_objects_are_not_read_again_while_their_etag_holds(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the S3 server, a multipart object (no store checksum to use) is streamed once; while its ETag holds it is
    answered from the cache; a rewritten one (new ETag) is read again."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # fingerprint() opens the URL with default options
    url = f"s3://{s3_bucket}/data/train.bin"
    content = _put_multipart(s3_endpoint, s3_bucket, "data/train.bin", [b"1" * (5 << 20), b"a"])
    first = modelver.fingerprint(url)
    assert (modelver.fingerprint(content).digest, "blake3") == (first.digest, first.method)
    with sqlite3.connect(_db()) as conn:
        assert 1 == conn.execute("UPDATE objects SET digest = ?", (FAKE,)).rowcount
    assert FAKE == modelver.fingerprint(url).digest
    content = _put_multipart(s3_endpoint, s3_bucket, "data/train.bin", [b"1" * (5 << 20), b"b"])
    assert modelver.fingerprint(content).digest == modelver.fingerprint(url).digest
