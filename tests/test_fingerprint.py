"""Tests for modelver.data.fingerprint: real files, symlinks, fsspec memory filesystems, numpy arrays, pandas frames."""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import fsspec.config
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gcsserver import FakeGcs, gcs_options
from modelver.data import files
from modelver.data.fingerprint import Fingerprint, tree_json
from modelver.data.sources import fingerprint
from modelver.errors import CaptureError
from modelver.serde import canonical_json
from modelver.store.digest import digest_bytes
from s3server import CountingProxy

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and FIFOs need POSIX")


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Create ``files`` (POSIX relative path to content) under ``root``, in the dict's order."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def expected_tree_digest(files: dict[str, bytes]) -> str:
    """The tree digest computed from its definition, independently of the walker."""
    entries = sorted([rel, digest_bytes(content), len(content)] for rel, content in files.items())
    return digest_bytes(canonical_json({"type": "modelver.tree/1", "entries": entries}))


FILES = {"a.txt": b"alpha", "sub/b.bin": b"\x00\x01\x02", "sub/deeper/c.csv": b"x,y\n1,2\n"}


# --- files and bytes -----------------------------------------------------------------------------------------------


def test_file_fingerprint(tmp_path: Path) -> None:
    """A file's digest is the plain digest of its bytes; str and Path sources agree."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"some bytes")

    expected = Fingerprint(
        digest=digest_bytes(b"some bytes"),
        size_bytes=10,
        files=1,
        kind="file",
        method="blake3",
        uri=str(path.resolve()),
    )
    assert expected == fingerprint(path)
    assert expected == fingerprint(str(path))


def test_file_sha256(tmp_path: Path) -> None:
    """algorithm="sha256" gives the standard sha256 of the bytes."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"some bytes")

    result = fingerprint(path, algorithm="sha256")

    assert ("sha256:" + hashlib.sha256(b"some bytes").hexdigest(), "sha256") == (result.digest, result.method)


def test_bytes_fingerprint_matches_file(tmp_path: Path) -> None:
    """bytes, bytearray and memoryview hash like a file with the same content."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"same content")

    digests = {fingerprint(source).digest for source in (b"same content", bytearray(b"same content"))}
    digests.add(fingerprint(memoryview(b"xsame contentx")[1:-1]).digest)

    assert {fingerprint(path).digest} == digests
    result = fingerprint(b"same content")
    expected = ("bytes", "<bytes>", 12)
    assert expected == (result.kind, result.uri, result.size_bytes)


def test_unknown_algorithm() -> None:
    """An unknown algorithm is a ValueError before anything is read."""
    with pytest.raises(ValueError, match="md5"):
        fingerprint(b"x", algorithm="md5")


def test_path_and_bytes_do_not_import_numpy_or_pandas(tmp_path: Path) -> None:
    """Fingerprinting paths and bytes imports neither numpy nor pandas, so ``import modelver`` stays light."""
    (tmp_path / "f").write_bytes(b"x")
    script = (
        "import sys\n"
        "from modelver.data.sources import fingerprint\n"
        "before = set(sys.modules)\n"
        f"fingerprint({str(tmp_path)!r}); fingerprint({str(tmp_path / 'f')!r}); fingerprint(b'x')\n"
        "import json\n"
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('numpy', 'pandas'))))\n"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)

    expected: list[str] = []
    assert expected == json.loads(result.stdout)


# --- directories ---------------------------------------------------------------------------------------------------


def test_directory_fingerprint(tmp_path: Path) -> None:
    """A directory's digest follows its definition; entries list every file with POSIX paths."""
    root = write_tree(tmp_path / "d", FILES)

    result = fingerprint(root)

    assert expected_tree_digest(FILES) == result.digest
    assert {rel: (digest_bytes(content), len(content)) for rel, content in FILES.items()} == result.entries
    assert (3, sum(map(len, FILES.values())), "directory", "blake3-tree", str(root.resolve()), ()) == (
        result.files,
        result.size_bytes,
        result.kind,
        result.method,
        result.uri,
        result.skipped,
    )
    assert digest_bytes(tree_json(result.entries)) == result.digest


# Directory names and file names come from disjoint alphabets so no path is both a file and a directory.
paths = st.builds(
    lambda dirs, name: "/".join([*dirs, name]),
    st.lists(st.sampled_from(["d0", "d1", "dé", "d 2"]), max_size=3),
    st.sampled_from(["f0", "f1.txt", "é.bin", "f 2", ".hidden"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.dictionaries(paths, st.binary(max_size=40), max_size=8), data=st.data())
def test_directory_digest_independent_of_creation_order(files: dict[str, bytes], data: st.DataObject) -> None:
    """The same files created in two different orders give the same, definition-conforming digest."""
    order = data.draw(st.permutations(list(files)))
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        write_tree(Path(first), files)
        write_tree(Path(second), {rel: files[rel] for rel in order})

        digests = (fingerprint(first).digest, fingerprint(second).digest)

    assert (expected_tree_digest(files), expected_tree_digest(files)) == digests


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.dictionaries(paths, st.binary(max_size=40), min_size=1, max_size=6), data=st.data())
def test_any_single_change_changes_the_tree_digest(files: dict[str, bytes], data: st.DataObject) -> None:
    """On random trees, with the stat cache on: flipping one byte, renaming a file, adding an empty file or removing
    any file (an empty one too) changes the digest, which stays the definition's digest of the new tree."""
    victim = data.draw(st.sampled_from(sorted(files)))
    change = data.draw(st.sampled_from(["byte", "rename", "add empty", "remove"]))
    changed = dict(files)
    if change == "byte" and files[victim]:
        at = data.draw(st.integers(0, len(files[victim]) - 1))
        content = bytearray(files[victim])
        content[at] ^= data.draw(st.integers(1, 255))
        changed[victim] = bytes(content)
    elif change == "byte":  # an empty file gains its first byte
        changed[victim] = b"\x00"
    elif change == "rename":
        changed[victim + "~"] = changed.pop(victim)
    elif change == "add empty":
        changed[victim + ".new"] = b""
    else:
        del changed[victim]
    with tempfile.TemporaryDirectory() as root:
        write_tree(Path(root), files)
        before = fingerprint(root).digest  # fills the stat cache and the snapshot
        for rel in files.keys() - changed.keys():
            (Path(root) / rel).unlink()
        write_tree(Path(root), {rel: content for rel, content in changed.items() if files.get(rel) != content})

        after = fingerprint(root).digest

    assert (expected_tree_digest(files), expected_tree_digest(changed)) == (before, after)
    assert before != after


@pytest.mark.parametrize(
    "change",
    ["one byte changed", "renamed", "empty file added", "empty file removed", "file moved to another directory"],
)
def test_directory_digest_sees_changes(tmp_path: Path, change: str) -> None:
    """Any 1-byte change, rename, added or removed empty file, or move changes the digest."""
    root = write_tree(tmp_path / "d", {**FILES, "empty": b""})
    before = fingerprint(root).digest

    if change == "one byte changed":
        (root / "sub/b.bin").write_bytes(b"\x00\x01\x03")
    elif change == "renamed":
        (root / "a.txt").rename(root / "A.txt.renamed")
    elif change == "empty file added":
        (root / "sub/new-empty").write_bytes(b"")
    elif change == "empty file removed":
        (root / "empty").unlink()
    else:
        (root / "a.txt").rename(root / "sub/a.txt")

    assert before != fingerprint(root).digest


def test_empty_directories_do_not_count(tmp_path: Path) -> None:
    """Empty directories do not change a tree digest (only files make entries)."""
    root = write_tree(tmp_path / "d", FILES)
    before = fingerprint(root)

    (root / "empty-dir/nested").mkdir(parents=True)

    assert before == fingerprint(root)


def test_empty_directory(tmp_path: Path) -> None:
    """An empty directory has no entries and the digest of an empty listing."""
    (tmp_path / "d").mkdir()

    result = fingerprint(tmp_path / "d")

    assert (expected_tree_digest({}), 0, 0) == (result.digest, result.files, result.size_bytes)


@posix_only
def test_symlink_policy(tmp_path: Path) -> None:
    """Links to files inside are hashed as the target; links out, dangling, looping, to directories are skipped."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret")
    root = write_tree(tmp_path / "d", {"a.txt": b"alpha", "sub/b.txt": b"beta"})
    (root / "link-in").symlink_to("sub/b.txt")
    (root / "sub/link-up").symlink_to("../a.txt")
    (root / "link-abs-in").symlink_to(root / "a.txt")
    (root / "link-out").symlink_to("../outside.txt")
    (root / "link-abs-out").symlink_to(outside)
    (root / "dangling").symlink_to("missing.txt")
    (root / "loop").symlink_to("loop")
    (root / "link-dir").symlink_to("sub", target_is_directory=True)
    (root / "link-via-dir").symlink_to("link-dir/b.txt")
    os.mkfifo(root / "fifo")

    result = fingerprint(root)

    expected_entries = {
        "a.txt": (digest_bytes(b"alpha"), 5),
        "sub/b.txt": (digest_bytes(b"beta"), 4),
        "link-in": (digest_bytes(b"beta"), 4),
        "sub/link-up": (digest_bytes(b"alpha"), 5),
        "link-abs-in": (digest_bytes(b"alpha"), 5),
        "link-via-dir": (digest_bytes(b"beta"), 4),
    }
    expected_skipped = (
        "dangling: dangling or looping symlink, not followed",
        "fifo: not a regular file",
        "link-abs-out: symlink leaves the directory, not followed",
        "link-dir: symlink to a directory, not followed",
        "link-out: symlink leaves the directory, not followed",
        "loop: dangling or looping symlink, not followed",
    )
    assert expected_entries == result.entries
    assert expected_skipped == result.skipped


@posix_only
def test_hard_links_are_entries_under_each_name(tmp_path: Path) -> None:
    """Every name of a hard-linked file is an entry with its content, in the cache's snapshot too."""
    root = write_tree(tmp_path / "d", {"a.bin": b"same inode", "sub/other": b"x"})
    os.link(root / "a.bin", root / "sub/also-a.bin")

    first, second = fingerprint(root), fingerprint(root)

    expected = {"a.bin": (digest_bytes(b"same inode"), 10), "sub/also-a.bin": (digest_bytes(b"same inode"), 10)}
    expected["sub/other"] = (digest_bytes(b"x"), 1)
    assert (
        expected,
        expected_tree_digest({"a.bin": b"same inode", "sub/also-a.bin": b"same inode", "sub/other": b"x"}),
    ) == (first.entries, first.digest)
    assert first == second


@posix_only
def test_symlink_outside_is_never_read(tmp_path: Path) -> None:
    """Changing a file outside the tree that a symlink points at leaves the digest unchanged."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"one")
    root = write_tree(tmp_path / "d", {"a.txt": b"alpha"})
    (root / "link-out").symlink_to(outside)
    before = fingerprint(root).digest

    outside.write_bytes(b"two")

    assert before == fingerprint(root).digest


@posix_only
def test_symlinked_root_is_followed(tmp_path: Path) -> None:
    """A source path that is itself a symlink names what it points at."""
    root = write_tree(tmp_path / "d", FILES)
    (tmp_path / "link").symlink_to(root, target_is_directory=True)
    (tmp_path / "file-link").symlink_to(root / "a.txt")

    assert (fingerprint(root).digest, fingerprint(root / "a.txt").digest) == (
        fingerprint(tmp_path / "link").digest,
        fingerprint(tmp_path / "file-link").digest,
    )


UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]  # user "nobody"


@posix_only
@pytest.mark.parametrize(("unreadable", "message"), [("a.txt", "cannot read"), ("sub", "cannot list 'sub'")])
def test_unreadable_entry_raises(unreadable: str, message: str) -> None:
    """An unreadable file or subdirectory is a CaptureError naming it, not a silent skip.

    Root reads whatever the mode, so as root the check runs in a subprocess as user nobody (needs ``setpriv``).
    """
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    with tempfile.TemporaryDirectory() as parent:
        os.chmod(parent, 0o755)  # user nobody must reach the tree
        root = write_tree(Path(parent) / "d", FILES)
        (root / unreadable).chmod(0)
        try:
            if as_root:
                script = f"from modelver.data.sources import fingerprint\nfingerprint({str(root)!r})"
                result = subprocess.run([*UNPRIVILEGED, sys.executable, "-c", script], capture_output=True, text=True)
                error = result.stderr.strip().splitlines()[-1]
            else:
                with pytest.raises(CaptureError) as info:
                    fingerprint(root)
                error = f"modelver.errors.CaptureError: {info.value}"
        finally:
            (root / unreadable).chmod(0o755)

    assert error.startswith("modelver.errors.CaptureError: ")
    assert message in error
    assert unreadable in error


def _rewrite_mid_read(
    monkeypatch: pytest.MonkeyPatch, path: Path, new: bytes, mtime_ns: int | None = None
) -> list[int]:
    """Make the next read of ``path`` overwrite it with ``new`` halfway through (as another process would), then
    set its mtime back to ``mtime_ns`` when given; return a list that counts every read."""
    real = files.hash_handle
    reads: list[int] = []

    def read_with_a_writer(handle: Any, expected: int, hasher: Any) -> int:
        reads.append(expected)
        if len(reads) > 1:
            return real(handle, expected, hasher)
        first = handle.read(expected // 2)
        hasher.update(first)
        path.write_bytes(new)  # in place, same size: only the times can tell
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))
        return len(first) + real(handle, expected - len(first), hasher)

    monkeypatch.setattr(files, "hash_handle", read_with_a_writer)
    return reads


def test_a_file_rewritten_while_hashed_is_never_half_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file rewritten in place halfway through its read, within the same timestamp tick as its last write (so
    its size, mtime and ctime look unchanged), is read again: the digest is the new version's, never a mix.

    Deterministic: the write happens at a fixed point of the read; without the racy-file rule the rewrite lands in
    the file's own tick (its previous write was microseconds earlier) and the half-and-half digest comes back."""
    old, new = b"a" * (64 << 10), b"b" * (64 << 10)
    outcomes = []
    for round_ in range(5):
        path = tmp_path / f"busy-{round_}.bin"
        path.write_bytes(old)
        _rewrite_mid_read(monkeypatch, path, new)
        outcomes.append(fingerprint(path, cache=False).digest)

    assert [digest_bytes(new)] * 5 == outcomes


@posix_only
def test_a_write_in_flight_during_the_read_is_caught_by_the_restat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer descheduled in the middle of a ``write`` call stamped the file before the read began and lands its
    bytes during it, which no ``fstat`` around the read can see; when it then writes again, the re-stat a tick
    after the read sees the new stamp and the file is read again: the digest is the finished version's, not a mix.

    The unstamped bytes are stored through a shared mmap whose pages were already dirtied (a store to them stamps
    nothing, like the tail of a write call in flight); the writer's next write happens during the tick wait."""
    size = 64 << 10
    old, new = b"a" * size, b"b" * size
    path = tmp_path / "in-flight.bin"
    path.write_bytes(old)
    fd = os.open(path, os.O_RDWR)
    mapped = mmap.mmap(fd, size)
    mapped[:] = old  # dirty every page now: the stamps of the write fall before the read
    real_read, real_wait = files.hash_handle, files._wait_a_tick
    reads: list[int] = []

    def read_while_a_write_lands(handle: Any, expected: int, hasher: Any) -> int:
        reads.append(expected)
        if len(reads) > 1:
            return real_read(handle, expected, hasher)
        first = handle.read(expected // 2)
        hasher.update(first)
        mapped[expected // 2 :] = new[expected // 2 :]  # the rest of the in-flight write: no new stamp
        return len(first) + real_read(handle, expected - len(first), hasher)

    def writer_writes_again() -> None:
        if len(reads) == 1:
            os.pwrite(fd, new, 0)  # the writer's next (and last) write call stamps the file
        real_wait()

    monkeypatch.setattr(files, "hash_handle", read_while_a_write_lands)
    monkeypatch.setattr(files, "_wait_a_tick", writer_writes_again)
    try:
        digest = fingerprint(path, cache=False).digest
    finally:
        mapped.close()
        os.close(fd)

    assert (digest_bytes(new), 2) == (digest, len(reads))


def test_a_file_with_a_future_mtime_is_confirmed_by_a_second_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose mtime is in the future (a clock-skewed copy) can never be shown to be settled: a read only counts
    when the next one gives the same digest under the same key, so a rewrite that restores the mtime is caught."""
    path = tmp_path / "future.bin"
    path.write_bytes(b"a" * (64 << 10))
    future_ns = (int(time.time()) + 3600) * 1_000_000_000 + 123
    os.utime(path, ns=(future_ns, future_ns))
    reads = _rewrite_mid_read(monkeypatch, path, b"b" * (64 << 10), mtime_ns=future_ns)

    digest = fingerprint(path, cache=False).digest

    assert digest_bytes(b"b" * (64 << 10)) == digest
    assert 3 == len(reads)  # the mixed read, the new version, and the same again to confirm it


def test_a_fresh_file_waits_a_tick_and_a_future_dated_one_is_read_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The racy-file rule costs a file written just now one clock tick, not a second read; only a file whose times
    stay ahead of the clock is read twice."""
    reads: list[str] = []
    real = files.hash_handle

    def counting(handle: Any, expected: int, hasher: Any) -> int:
        reads.append(Path(handle.name).name)
        return real(handle, expected, hasher)

    monkeypatch.setattr(files, "hash_handle", counting)
    (tmp_path / "fresh.bin").write_bytes(b"fresh")
    fresh = fingerprint(tmp_path / "fresh.bin", cache=False).digest
    (tmp_path / "future.bin").write_bytes(b"future")
    future_ns = (int(time.time()) + 3600) * 1_000_000_000 + 123
    os.utime(tmp_path / "future.bin", ns=(future_ns, future_ns))
    future = fingerprint(tmp_path / "future.bin", cache=False).digest

    assert ["fresh.bin", "future.bin", "future.bin"] == reads
    assert (digest_bytes(b"fresh"), digest_bytes(b"future")) == (fresh, future)


@posix_only
def test_fifo_source_raises(tmp_path: Path) -> None:
    """A source that is neither a regular file nor a directory is refused, not read (it could block)."""
    os.mkfifo(tmp_path / "fifo")

    with pytest.raises(CaptureError, match="not a regular file or directory"):
        fingerprint(tmp_path / "fifo")


def test_missing_path_raises(tmp_path: Path) -> None:
    """A missing path is a CaptureError that names it."""
    with pytest.raises(CaptureError, match="no such file or directory") as info:
        fingerprint(tmp_path / "nope")

    assert str(tmp_path / "nope") in str(info.value)


# Fingerprints argv[1] and prints its digest on stdout; any progress bar goes where stderr goes.
PROGRESS_SCRIPT = "import sys, modelver; print(modelver.fingerprint(sys.argv[1], cache=False).digest)"


@posix_only
def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    """Reading more than 256 MiB draws a bar on stderr when it is a terminal (a pty here), nothing when it is a pipe;
    stdout carries only the result either way."""
    import pty

    big = tmp_path / "sparse.bin"
    with open(big, "wb") as handle:
        handle.truncate(300 << 20)  # sparse: 300 MiB of zeros that take no disk and read fast
    command = [sys.executable, "-c", PROGRESS_SCRIPT, str(big)]
    leader, follower = pty.openpty()
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower) as on_terminal:
            os.close(follower)
            drawn = b""
            with contextlib.suppress(OSError):  # EIO once the child has exited and closed the pty
                while chunk := os.read(leader, 1 << 16):
                    drawn += chunk
            out, _ = on_terminal.communicate(timeout=120)
    finally:
        os.close(leader)
    piped = subprocess.run(command, capture_output=True, timeout=120, check=True)

    assert b"fingerprinting" in drawn
    assert (out, b"") == (piped.stdout, piped.stderr)
    assert out.decode().strip().startswith("blake3:")


# --- fsspec URLs ---------------------------------------------------------------------------------------------------


@pytest.fixture
def memory_root() -> Iterator[str]:
    """A unique prefix in fsspec's process-wide memory filesystem, removed afterwards."""
    root = f"/modelver-tests/{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    yield root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_memory_file(memory_root: str) -> None:
    """A memory:// file hashes like the same bytes; its uri is the URL as given."""
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{memory_root}/x.bin", b"remote bytes")
    url = f"memory://{memory_root}/x.bin"

    result = fingerprint(url)

    assert (digest_bytes(b"remote bytes"), 12, 1, "file", url) == (
        result.digest,
        result.size_bytes,
        result.files,
        result.kind,
        result.uri,
    )


def test_memory_directory_matches_local(memory_root: str, tmp_path: Path) -> None:
    """A memory:// directory has the same tree digest and entries as a local directory with the same files."""
    fs = fsspec.filesystem("memory")
    for rel, content in FILES.items():
        fs.pipe(f"{memory_root}/data/{rel}", content)
    local = fingerprint(write_tree(tmp_path / "data", FILES))

    remote = fingerprint(f"memory://{memory_root}/data/")

    assert (local.digest, local.entries, local.size_bytes, local.files) == (
        remote.digest,
        remote.entries,
        remote.size_bytes,
        remote.files,
    )
    expected_kind = "directory"
    assert expected_kind == remote.kind


def test_file_url_matches_path(tmp_path: Path) -> None:
    """A file:// URL fingerprints like the plain path (same symlink policy) and keeps the URL as its uri."""
    root = write_tree(tmp_path / "d", FILES)
    url = root.resolve().as_uri()

    result = fingerprint(url)

    assert (fingerprint(root).digest, url) == (result.digest, result.uri)


def test_missing_url_raises(memory_root: str) -> None:
    """A URL to nothing is a CaptureError naming the URL."""
    url = f"memory://{memory_root}/missing"

    with pytest.raises(CaptureError, match="no such file or directory") as info:
        fingerprint(url)

    assert url in str(info.value)


def test_unknown_protocol_raises() -> None:
    """A URL with a protocol fsspec does not know is a CaptureError."""
    with pytest.raises(CaptureError, match="nosuchproto"):
        fingerprint("nosuchproto://bucket/key")


# --- numpy ---------------------------------------------------------------------------------------------------------


def test_ndarray_fingerprint() -> None:
    """An array's fingerprint has its kind, method, size and a shape/dtype summary."""
    array = np.arange(12, dtype="<i4").reshape(3, 4)

    result = fingerprint(array)

    expected = ("ndarray", "blake3-ndarray", "<numpy.ndarray>", 48, 1, {"shape": [3, 4], "dtype": "int32"})
    assert expected == (
        result.kind,
        result.method,
        result.uri,
        result.size_bytes,
        result.files,
        result.summary,
    )


def test_ndarray_same_bytes_other_dtype_or_shape_differ() -> None:
    """The same bytes viewed as another dtype, byte order or shape hash differently."""
    array = np.arange(12, dtype="<i4")
    variants = [array, array.view("<f4"), array.view("<u4"), array.reshape(3, 4), array.reshape(4, 3)]
    variants.append(array.byteswap().view(">i4"))  # same values, other byte order

    assert len(variants) == len({fingerprint(v).digest for v in variants})


def test_ndarray_views_hash_like_copies() -> None:
    """A non-contiguous view and a Fortran-ordered array hash like their C-contiguous copies."""
    array = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    views = [array[:, ::2, 1:], array.transpose(2, 0, 1), np.asfortranarray(array), array[::-1]]

    assert [fingerprint(np.ascontiguousarray(v)).digest for v in views] == [fingerprint(v).digest for v in views]


def test_ndarray_large_non_contiguous_view() -> None:
    """A view larger than one hashing block hashes like its copy (blocks are joined in C order)."""
    array = np.arange(3_000_000, dtype=np.float64).reshape(1_000_000, 3)[:, ::2]

    assert fingerprint(np.ascontiguousarray(array)).digest == fingerprint(array).digest


def test_ndarray_structured_dtype_field_names_count() -> None:
    """Structured arrays with the same bytes but different field names differ."""
    first = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])
    second = first.view([("x", "<i4"), ("y", "<f8")])

    assert fingerprint(first).digest != fingerprint(second).digest


def test_ndarray_datetime_and_scalar_shapes() -> None:
    """datetime64 arrays and 0-d arrays are supported; the unit matters."""
    days = np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")

    assert fingerprint(days).digest != fingerprint(days.astype("datetime64[s]")).digest
    assert fingerprint(np.array(5)).digest != fingerprint(np.array([5])).digest


def test_object_ndarray_raises() -> None:
    """Object arrays are refused: their bytes are pointers."""
    with pytest.raises(CaptureError, match="object"):
        fingerprint(np.array([1, "a"], dtype=object))


def test_masked_array_raises() -> None:
    """Masked arrays are refused rather than hashed without their mask."""
    with pytest.raises(CaptureError, match="masked"):
        fingerprint(np.ma.masked_array([1, 2], mask=[True, False]))


# --- pandas --------------------------------------------------------------------------------------------------------

ROWS = 100_000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A 100,000-row frame with int, float (with NaN), string, datetime and bool columns.

    Two int and two float columns, so pandas keeps them in shared 2-d blocks that concat/reorder can split.
    """
    rng = np.random.default_rng(7)
    floats = rng.normal(size=ROWS)
    floats[::97] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(ROWS, dtype=np.int64),
            "x": floats,
            "name": [f"n{i % 1000}" for i in range(ROWS)],
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(ROWS), unit="s"),
            "flag": np.arange(ROWS) % 3 == 0,
            "count": np.arange(ROWS, dtype=np.int64) % 7,
            "score": rng.uniform(size=ROWS),
        }
    )


def test_dataframe_summary(frame: pd.DataFrame) -> None:
    """A frame's fingerprint records rows, column names and dtypes, and pandas' deep size."""
    result = fingerprint(frame)

    expected_summary = {
        "rows": ROWS,
        "columns": ["id", "x", "name", "when", "flag", "count", "score"],
        "dtypes": [str(dtype) for dtype in frame.dtypes],
    }
    assert ("dataframe", "blake3-pandas", "<pandas.DataFrame>", 1, expected_summary) == (
        result.kind,
        result.method,
        result.uri,
        result.files,
        result.summary,
    )
    assert int(frame.memory_usage(index=True, deep=True).sum()) == result.size_bytes


def test_dataframe_equal_whatever_the_construction(frame: pd.DataFrame) -> None:
    """Equal frames built from records, copied, concatenated or reordered back hash equal."""
    columns = list(frame.columns)
    records = pd.DataFrame.from_records(list(frame.itertuples(index=False)), columns=columns)
    pieces = [frame[["id", "score"]], frame[["x", "flag"]], frame[["name", "when", "count"]]]
    concatenated = pd.concat(pieces, axis=1)[columns]
    variants = [records, frame.copy(), concatenated, frame[columns[::-1]][columns], frame.drop_duplicates()]
    for variant in variants:
        pd.testing.assert_frame_equal(frame, variant)

    assert [fingerprint(frame).digest] * len(variants) == [fingerprint(v).digest for v in variants]


@pytest.mark.parametrize("column", ["id", "x", "name", "when", "flag", "count", "score"])
def test_dataframe_one_row_differs(frame: pd.DataFrame, column: str) -> None:
    """Changing one value at row 50,000 in any column changes the digest."""
    changed = frame.copy()
    value = changed.at[50_000, column]
    if column == "when":
        changed.at[50_000, column] = value + pd.Timedelta(microseconds=1)
    elif column == "name":
        changed.at[50_000, column] = value + "!"
    elif column == "flag":
        changed.at[50_000, column] = not value
    else:
        changed.at[50_000, column] = value + 1

    assert fingerprint(frame).digest != fingerprint(changed).digest


def test_dataframe_metadata_counts(frame: pd.DataFrame) -> None:
    """Column order, column names, dtypes and the index all change the digest."""
    small = frame.head(100)
    variants = [
        small,
        small[small.columns[::-1]],
        small.rename(columns={"x": "y"}),
        small.astype({"id": np.int32}),
        small.set_index("id"),
        small.set_axis(range(1, 101)),
        small.rename_axis("row"),
    ]

    assert len(variants) == len({fingerprint(v).digest for v in variants})


@pytest.mark.parametrize("index", [range(0), range(5, -7, -3), range(3, 5_000_003, 2)], ids=["empty", "neg", "big"])
def test_range_index_hashes_like_int64_index(index: range) -> None:
    """A RangeIndex (hashed block by block, never materialized) hashes like the int64 Index of its values."""
    ranged = pd.Series(np.zeros(len(index)), index=pd.RangeIndex(index.start, index.stop, index.step))
    materialized = ranged.set_axis(pd.Index(np.array(index, dtype=np.int64)))

    assert fingerprint(materialized).digest == fingerprint(ranged).digest


def test_dataframe_int_and_str_elements_differ() -> None:
    """In object columns the element's type counts: 1, "1", 1.0 and True differ; None, NaN, NA and NaT too."""
    values = [1, "1", 1.0, True, None, float("nan"), pd.NA, pd.NaT, b"1"]
    digests = {fingerprint(pd.DataFrame({"a": pd.Series([v], dtype=object)})).digest for v in values}

    assert len(values) == len(digests)


def test_dataframe_nan_payloads_are_one_nan() -> None:
    """NaNs with different sign or payload bits hash alike in a float column."""
    quiet = np.array([1.0, np.nan])
    other = np.array([1.0, -np.nan])
    other[1] = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes(), dtype=np.float64)[0]

    assert fingerprint(pd.DataFrame({"a": quiet})).digest == fingerprint(pd.DataFrame({"a": other})).digest


def test_dataframe_extension_dtypes() -> None:
    """Nullable, categorical and tz-aware columns hash by value: equal frames built differently agree."""
    first = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "c": pd.Categorical(["a", "b", "a"], categories=["a", "b"]),
            "t": pd.to_datetime(["2024-01-01 12:00", None, "2024-03-01 00:00"]).tz_localize("Europe/Paris"),
            "s": pd.array(["x", None, "z"], dtype="string"),
        }
    )
    second = pd.DataFrame.from_records(list(first.itertuples(index=False)), columns=list(first.columns)).astype(
        first.dtypes.to_dict()
    )
    pd.testing.assert_frame_equal(first, second)
    other_zone = first.assign(t=first["t"].dt.tz_convert("UTC"))
    other_categories = first.assign(c=first["c"].cat.set_categories(["b", "a"]))
    other_missing = first.assign(i=pd.array([1, 0, 3], dtype="Int64"))

    digests = [fingerprint(f).digest for f in (first, second, other_zone, other_categories, other_missing)]

    assert digests[0] == digests[1]
    expected_distinct = 4  # first == second; zone, categories order and a missing value each count
    assert expected_distinct == len(set(digests))


def test_dataframe_nested_elements() -> None:
    """Dicts hash by content whatever their key order; lists, tuples, sets, arrays and dates are supported."""
    import datetime
    import decimal

    def frame_of(value: object) -> pd.DataFrame:
        return pd.DataFrame({"a": pd.Series([value, 0], dtype=object)})

    assert fingerprint(frame_of({"a": 1, "b": [1, 2]})).digest == fingerprint(frame_of({"b": [1, 2], "a": 1})).digest
    values = [
        [1, 2],
        (1, 2),
        {1, 2},
        np.array([1, 2]),
        decimal.Decimal("1.5"),
        datetime.date(2024, 1, 1),
        datetime.datetime(2024, 1, 1),
        pd.Timestamp("2024-01-01"),
        pd.Period("2024-01", freq="M"),
        pd.Interval(0, 1),
        datetime.timedelta(seconds=1),
    ]
    assert len(values) == len({fingerprint(frame_of(v)).digest for v in values})


def test_dataframe_unsupported_element_raises() -> None:
    """An element with no stable encoding is a CaptureError naming its type."""
    with pytest.raises(CaptureError, match="object"):
        fingerprint(pd.DataFrame({"a": pd.Series([object()], dtype=object)}))


def test_series_fingerprint(frame: pd.DataFrame) -> None:
    """A Series hashes its name, index and values; it differs from the one-column frame."""
    series = frame["x"]

    result = fingerprint(series)

    expected = ("series", "<pandas.Series>", {"rows": ROWS, "name": "x", "dtype": "float64"})
    assert expected == (
        result.kind,
        result.uri,
        result.summary,
    )
    assert result.digest == fingerprint(pd.Series(series.to_numpy().copy(), name="x")).digest
    others = {fingerprint(series.rename("y")).digest, fingerprint(frame[["x"]]).digest, result.digest}
    expected_distinct = 3
    assert expected_distinct == len(others)


# --- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [42, 1.5, None, ["a"], {"a": 1}, object()])
def test_unsupported_source_raises(source: object) -> None:
    """Unsupported source types are a CaptureError listing what is supported."""
    with pytest.raises(CaptureError, match="supported sources") as info:
        fingerprint(source)

    assert type(source).__name__ in str(info.value)


def test_fingerprint_is_json_friendly(tmp_path: Path) -> None:
    """A fingerprint's summary and entries are plain JSON values (they go into the manifest)."""
    results = [fingerprint(write_tree(tmp_path / "d", FILES)), fingerprint(np.zeros((2, 3)))]
    results.append(fingerprint(pd.DataFrame({1: [1], "b": [2.0]})))

    for result in results:
        json.dumps([result.summary, result.entries])


# --- object-store checksums ----------------------------------------------------------------------------------------


def _upload(endpoint: str, bucket: str) -> dict[str, bytes]:
    """Three objects on the S3 server: one with a SHA-256 checksum, one plain, one multipart; their bytes by key."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    objects = {"data/sha.csv": b"a,b\n1,2\n", "data/plain.csv": b"a,b\n3,4\n", "data/multi.bin": b""}
    client.put_object(Bucket=bucket, Key="data/sha.csv", Body=objects["data/sha.csv"], ChecksumAlgorithm="SHA256")
    client.put_object(Bucket=bucket, Key="data/plain.csv", Body=objects["data/plain.csv"])
    parts = [os.urandom(5 << 20), b"tail"]
    upload = client.create_multipart_upload(Bucket=bucket, Key="data/multi.bin")["UploadId"]
    done = [
        {
            "PartNumber": n,
            "ETag": client.upload_part(Bucket=bucket, Key="data/multi.bin", UploadId=upload, PartNumber=n, Body=part)[
                "ETag"
            ],
        }
        for n, part in enumerate(parts, start=1)
    ]
    client.complete_multipart_upload(
        Bucket=bucket, Key="data/multi.bin", UploadId=upload, MultipartUpload={"Parts": done}
    )
    objects["data/multi.bin"] = b"".join(parts)
    return objects


def test_s3_checksums_are_used_when_they_hash_the_content(
    s3_proxy: CountingProxy, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full-object ChecksumSHA256 and a single-part ETag are used without reading the object; a multipart ETag
    is not a content hash: that object is streamed and hashed. Each file records its method; a prefix counts them."""
    objects = _upload(s3_proxy.endpoint, s3_bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_proxy.endpoint)  # fingerprint() opens URLs with default options
    s3_proxy.reset()

    results = {key: fingerprint(f"s3://{s3_bucket}/{key}") for key in sorted(objects)}

    expected = {
        "data/sha.csv": ("sha256:" + hashlib.sha256(objects["data/sha.csv"]).hexdigest(), "s3-sha256"),
        "data/plain.csv": ("md5:" + hashlib.md5(objects["data/plain.csv"]).hexdigest(), "s3-etag-md5"),
        "data/multi.bin": (digest_bytes(objects["data/multi.bin"]), "blake3"),
    }
    assert expected == {key: (r.digest, r.method) for key, r in results.items()}
    downloads = sorted({path.split("?")[0] for method, path in s3_proxy.requests if method == "GET"})
    assert [f"/{s3_bucket}/data/multi.bin"] == downloads
    tree = fingerprint(f"s3://{s3_bucket}/data", cache=False)
    assert {"methods": {"blake3": 1, "s3-etag-md5": 1, "s3-sha256": 1}} == tree.summary
    assert {key.removeprefix("data/"): (d, len(objects[key])) for key, (d, _) in expected.items()} == tree.entries


def test_gcs_md5_is_used_without_reading(gcs_server: FakeGcs, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the fake GCS server, an object's md5Hash is its digest (method gcs-md5); the object is not downloaded."""
    import gcsfs

    content = b"x,y\n1,2\n"
    fs = gcsfs.GCSFileSystem(**gcs_options(gcs_server.endpoint))
    gcs_bucket = f"modelver-{uuid.uuid4().hex[:16]}"
    fs.mkdir(gcs_bucket)
    fs.pipe_file(f"{gcs_bucket}/data/train.csv", content)
    # fingerprint() opens URLs with default options: fsspec's per-protocol configuration supplies them.
    monkeypatch.setitem(fsspec.config.conf, "gcs", gcs_options(gcs_server.endpoint))

    result = fingerprint(f"gs://{gcs_bucket}/data/train.csv")

    assert ("md5:" + hashlib.md5(content).hexdigest(), "gcs-md5", 8) == (
        result.digest,
        result.method,
        result.size_bytes,
    )
