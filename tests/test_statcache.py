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
from modelver import _statcache
from modelver._statcache import StatCache, filesystem_type, trusted

FAKE = "blake3:" + "0" * 64


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files made by a test are seconds old at most; let them be cached (the racy rule has its own test)."""
    monkeypatch.setattr(_statcache, "RACY_WINDOW_S", -1.0)


def _forge(db: Path, path: Path) -> None:
    """Replace the cached digest of ``path`` with FAKE: if a later fingerprint returns FAKE, it read no byte."""
    with sqlite3.connect(db) as conn:
        updated = conn.execute("UPDATE files SET digest = ? WHERE path = ?", (FAKE, str(path))).rowcount
    assert 1 == updated


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.csv").write_text("x\n1\n")
    (root / "sub" / "b.bin").write_bytes(b"\x00" * 1000)
    return root


def test_unchanged_file_is_answered_from_the_cache(tmp_path: Path) -> None:
    """A second fingerprint of an unchanged file uses the cached digest instead of reading it."""
    tree = _tree(tmp_path / "data")
    first = modelver.fingerprint(tree)
    _forge(_statcache.cache_dir() / "fingerprints.sqlite3", tree / "a.csv")
    second = modelver.fingerprint(tree)
    assert FAKE == second.entries["a.csv"][0]
    assert first.entries["sub/b.bin"] == second.entries["sub/b.bin"]
    assert first.digest == modelver.fingerprint(tree, cache=False).digest


def test_any_change_to_a_file_forces_a_rehash(tmp_path: Path) -> None:
    """Rewriting a file with the same size (so only mtime/ctime move) is seen."""
    tree = _tree(tmp_path / "data")
    modelver.fingerprint(tree)
    _forge(_statcache.cache_dir() / "fingerprints.sqlite3", tree / "a.csv")
    (tree / "a.csv").write_text("x\n2\n")
    again = modelver.fingerprint(tree)
    assert modelver.fingerprint(tree, cache=False).entries["a.csv"] == again.entries["a.csv"]
    assert FAKE != again.entries["a.csv"][0]


def test_restoring_mtime_does_not_fool_the_cache(tmp_path: Path) -> None:
    """Changing content and putting the old mtime back still re-hashes: ctime moved."""
    tree = _tree(tmp_path / "data")
    modelver.fingerprint(tree)
    _forge(_statcache.cache_dir() / "fingerprints.sqlite3", tree / "a.csv")
    before = os.stat(tree / "a.csv")
    (tree / "a.csv").write_text("x\n3\n")
    os.utime(tree / "a.csv", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert FAKE != modelver.fingerprint(tree).entries["a.csv"][0]


def test_files_modified_just_now_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the racy window a file could change again without changing its stat: it is not stored."""
    monkeypatch.setattr(_statcache, "RACY_WINDOW_S", 3600.0)
    tree = _tree(tmp_path / "data")
    modelver.fingerprint(tree)
    with sqlite3.connect(_statcache.cache_dir() / "fingerprints.sqlite3") as conn:
        assert 0 == conn.execute("SELECT count(*) FROM files").fetchone()[0]


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


def test_remote_objects_are_not_read_again_while_their_etag_holds(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the S3 server: an unchanged object is answered from the cache, a rewritten one (new ETag) is re-read."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # fingerprint() opens the URL with default options
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True)
    url = f"s3://{s3_bucket}/data/train.csv"
    fs.pipe_file(url, b"a,b\n1,2\n")
    first = modelver.fingerprint(url)
    assert modelver.fingerprint(b"a,b\n1,2\n").digest == first.digest
    with sqlite3.connect(_statcache.cache_dir() / "fingerprints.sqlite3") as conn:
        assert 1 == conn.execute("UPDATE objects SET digest = ?", (FAKE,)).rowcount
    s3fs.S3FileSystem.clear_instance_cache()
    assert FAKE == modelver.fingerprint(url).digest
    fs.pipe_file(url, b"a,b\n1,3\n")
    s3fs.S3FileSystem.clear_instance_cache()
    assert modelver.fingerprint(b"a,b\n1,3\n").digest == modelver.fingerprint(url).digest
