"""Directory fingerprints over a mix of big and small files: the fast small-file read, the big-file streams, the
re-stat of files changed just now, and the tree listing (``modelver.data.files``, ``modelver.data.fingerprint``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelver.data import files
from modelver.data.fingerprint import tree_json
from modelver.data.sources import fingerprint
from modelver.serde import canonical_json
from modelver.store import statcache
from modelver.store.digest import digest_bytes

# A file over this many bytes counts as big in these tests (the real threshold is 4 MiB: too slow for many examples).
SMALL_LIMIT = 1024


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make files over :data:`SMALL_LIMIT` bytes take the big-file path (streamed, in their own batches)."""
    monkeypatch.setattr(files, "_READ_BUFFER_BYTES", SMALL_LIMIT)


def age_past_a_short_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the racy window to 50 ms and let it pass: files written before this call are then old, so the re-stat
    after the reads (which would read a moved file again anyway) leaves them alone and the checks of the read
    itself are what is tested."""
    monkeypatch.setattr(statcache, "RACY_WINDOW_S", 0.05)
    time.sleep(0.1)


def expected_entries(contents: dict[str, bytes]) -> dict[str, tuple[str, int]]:
    """The entries a directory of ``contents`` must have, from their definition."""
    return {rel: (digest_bytes(content), len(content)) for rel, content in contents.items()}


def write_tree(root: Path, contents: dict[str, bytes]) -> Path:
    """Create the files of ``contents`` (POSIX relative path to bytes) under ``root``."""
    for rel, content in contents.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def test_big_and_small_files_each_get_their_own_digest(
    tmp_path: Path, small_limit: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big files are hashed first, in their own batches, yet every name gets the digest of its own bytes: the
    results are matched to files by the order they were hashed in, not the listing order."""
    contents = {
        "a-small.txt": b"a" * 10,
        "b-big.bin": b"b" * (SMALL_LIMIT * 3),
        "c-small.txt": b"c" * 20,
        "d/e-big.bin": b"e" * (SMALL_LIMIT * 2 + 1),
        "d/f-small.txt": b"f" * SMALL_LIMIT,
        "g-big.bin": b"g" * (SMALL_LIMIT + 1),
    }
    root = write_tree(tmp_path / "tree", contents)
    age_past_a_short_racy_window(monkeypatch)

    result = fingerprint(root, cache=False)

    assert expected_entries(contents) == result.entries
    assert digest_bytes(tree_json(expected_entries(contents))) == result.digest


sizes = st.sampled_from([0, 1, SMALL_LIMIT - 1, SMALL_LIMIT, SMALL_LIMIT + 1, 3 * SMALL_LIMIT])
names = st.text(alphabet="abcxyz", min_size=1, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.dictionaries(names, st.tuples(sizes, st.integers(0, 255)), min_size=1, max_size=10))
def test_any_mix_of_sizes_gives_the_definition(
    tmp_path_factory: pytest.TempPathFactory, small_limit: None, spec: dict[str, tuple[int, int]]
) -> None:
    """Whatever the mix of sizes around the big-file threshold, a directory's entries and digest follow the
    definition (each file's own digest; canonical JSON of the sorted listing)."""
    contents = {f"{name}.bin": bytes([fill]) * size for name, (size, fill) in spec.items()}
    root = write_tree(tmp_path_factory.mktemp("mix"), contents)

    result = fingerprint(root, cache=False)

    listing = sorted([rel, *entry] for rel, entry in expected_entries(contents).items())
    assert expected_entries(contents) == result.entries
    assert digest_bytes(canonical_json({"type": "modelver.tree/1", "entries": listing})) == result.digest


@given(sizes_=st.lists(st.integers(0, 4 * SMALL_LIMIT), max_size=60))
def test_batches_hold_every_file_once_big_files_first(sizes_: list[int]) -> None:
    """Every file is in exactly one batch; big files come first, in at most ``_BIG_FILE_STREAMS`` batches, and the
    small ones keep their order."""
    items = list(range(len(sizes_)))
    limit = files._READ_BUFFER_BYTES
    scaled = [size * (limit // SMALL_LIMIT) for size in sizes_]  # the same mix around the real threshold

    batches = files._batches(items, scaled)

    flat = [item for batch in batches for item in batch]
    big = [item for item in items if scaled[item] > limit]
    big_batches = min(len(big), files._BIG_FILE_STREAMS)
    assert sorted(items) == sorted(flat)
    assert sorted(big) == sorted(flat[: len(big)])
    assert [item for item in items if scaled[item] <= limit] == flat[len(big) :]
    assert big_batches == sum(1 for batch in batches if any(scaled[item] > limit for item in batch))


def test_tree_json_matches_canonical_json_of_sorted_lists() -> None:
    """The listing is the canonical JSON of ``[path, digest, size]`` lists sorted by path, whatever order the
    entries come in (tuples and lists encode alike)."""
    entries = {"b": ("blake3:01", 2), "a/é": ("blake3:02", 0), "a": ("blake3:03", 1)}

    actual = tree_json(entries)

    expected = canonical_json(
        {"type": "modelver.tree/1", "entries": [["a", "blake3:03", 1], ["a/é", "blake3:02", 0], ["b", "blake3:01", 2]]}
    )
    assert expected == actual


def test_a_small_file_rewritten_mid_read_in_a_directory_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-``read`` path for small files in a directory keeps the racy-file rule: a file rewritten in place
    halfway through that read (same size) is read again, and its digest is the new version's, never a mix."""
    old, new = b"a" * (64 << 10), b"b" * (64 << 10)
    root = write_tree(tmp_path / "tree", {"busy.bin": old, "quiet.txt": b"quiet"})
    age_past_a_short_racy_window(monkeypatch)
    busy = root / "busy.bin"
    real = files._read_fd
    reads: list[int] = []

    def read_with_a_writer(fd: int, count: int) -> bytes:
        if count != len(old) + 1 or reads:  # quiet.txt, and every read after the first of busy.bin
            return real(fd, count)
        reads.append(count)
        first = os.read(fd, len(old) // 2)
        busy.write_bytes(new)  # in place, same size: only the times can tell
        return first + real(fd, count - len(first))

    monkeypatch.setattr(files, "_read_fd", read_with_a_writer)

    result = fingerprint(root, cache=False)

    assert (digest_bytes(new), len(new)) == result.entries["busy.bin"]
    assert (digest_bytes(b"quiet"), 5) == result.entries["quiet.txt"]


def test_a_file_changed_during_the_tick_wait_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a directory written just now, the re-stat a tick after the reads still runs (the quick "nothing recent"
    test does not skip it): a file whose writer writes again during the wait is read again."""
    root = write_tree(tmp_path / "tree", {"a.txt": b"first", "b.txt": b"other"})
    real_wait = files._wait_a_tick
    waits: list[int] = []

    def writer_writes_again() -> None:
        waits.append(1)
        if len(waits) == 1:
            (root / "a.txt").write_bytes(b"second, longer")
        real_wait()

    monkeypatch.setattr(files, "_wait_a_tick", writer_writes_again)

    result = fingerprint(root, cache=False)

    assert (digest_bytes(b"second, longer"), 14) == result.entries["a.txt"]
    assert 2 == len(waits)  # one wait after the reads, one after reading a.txt again


def test_an_old_tree_is_not_stat_ed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files last changed long before the fingerprint cost no re-stat and no wait: the racy-file rule only costs
    files changed within the racy window."""
    root = write_tree(tmp_path / "tree", {"a.txt": b"a", "sub/b.txt": b"b"})
    old_ns = 1_600_000_000 * 10**9 + 123
    for path in (root / "a.txt", root / "sub" / "b.txt"):
        os.utime(path, ns=(old_ns, old_ns))
    age_past_a_short_racy_window(monkeypatch)  # ctime cannot be set back
    calls: list[Any] = []
    monkeypatch.setattr(files, "_wait_a_tick", lambda: calls.append("wait"))
    monkeypatch.setattr(files, "_current_key", lambda path: calls.append(path))

    result = fingerprint(root, cache=False)

    assert [] == calls
    assert expected_entries({"a.txt": b"a", "sub/b.txt": b"b"}) == result.entries
