"""Resolution through tags and events (modelver.registry.resolution): aliases, yanks, ranges, freshness."""

from __future__ import annotations

import itertools
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelver
from helpers import run_python
from modelver.errors import VersionNotFoundError, YankedVersionWarning
from modelver.manifest import CreatedBy
from modelver.registry.events import new_event, write_event
from modelver.registry.lifecycle import promote, yank
from modelver.registry.ranges import VersionRange
from modelver.registry.resolution import VersionTag, resolve
from modelver.registry.semver import SemVer
from s3server import s3_options

BY = CreatedBy("tester", "host")
DIGEST = "blake3:" + "ab" * 32


def _tag(store: modelver.Store, name: str, version: str, digest: str = DIGEST) -> None:
    store.create_tag(name, version, VersionTag(name, version, digest, "2026-01-01T00:00:00.000Z", BY).to_bytes())


def test_alias_that_is_not_set_names_the_aliases_that_are(store_dir: Path) -> None:
    """An unknown alias lists the set ones and how to set it."""
    store = modelver.Store(store_dir)
    store.initialize()
    _tag(store, "m", "1.0.0")
    with pytest.raises(VersionNotFoundError, match=r"m has no aliases.*modelver promote"):
        resolve(store, "m@production")
    write_event(store, new_event("m", "promote", by="a", created_by=BY, alias="staging", version="1.0.0"))
    with pytest.raises(VersionNotFoundError, match="aliases of m: staging"):
        resolve(store, "m@production")
    with pytest.raises(VersionNotFoundError, match=r"did you mean m@latest\? Otherwise set it"):
        resolve(store, "m@latset")
    with pytest.raises(VersionNotFoundError, match=r"did you mean m@staging\?"):
        resolve(store, "m@stagign")
    with pytest.raises(VersionNotFoundError, match="no model named 'n'"):
        resolve(store, "n@production")


def test_every_resolution_reports_version_and_digest(store_dir: Path) -> None:
    """Alias, range, latest, exact and digest prefix all return the concrete version and manifest digest."""
    store = modelver.Store(store_dir)
    store.initialize()
    _tag(store, "m", "1.0.0", "blake3:" + "11" * 32)
    _tag(store, "m", "1.1.0", "blake3:" + "22" * 32)
    promote("m@1.0.0", "production", store=store)
    for ref, expected in [
        ("m", ("1.1.0", "blake3:" + "22" * 32)),
        ("m@^1.0", ("1.1.0", "blake3:" + "22" * 32)),
        ("m@production", ("1.0.0", "blake3:" + "11" * 32)),
        ("m@1.0.0", ("1.0.0", "blake3:" + "11" * 32)),
        ("m@blake3:22222222", ("1.1.0", "blake3:" + "22" * 32)),
    ]:
        tag = resolve(store, ref)
        assert expected == (tag.version, tag.manifest)


def test_yanked_versions_under_an_alias_and_a_digest_warn(store_dir: Path) -> None:
    """An alias or digest that lands on a yanked version still resolves, with a warning; latest errors name it."""
    store = modelver.Store(store_dir)
    store.initialize()
    _tag(store, "m", "1.0.0")
    promote("m@1.0.0", "production", store=store)
    yank("m@1.0.0", reason="broken", store=store)
    with pytest.warns(YankedVersionWarning, match="alias 'production'"):
        assert "1.0.0" == resolve(store, "m@production").version
    with pytest.warns(YankedVersionWarning, match="digest prefix"):
        resolve(store, "m@blake3:abababab")
    with pytest.raises(VersionNotFoundError, match=r"not yanked \(yanked: 1\.0\.0\)"):
        resolve(store, "m")


versions_strategy = st.lists(
    st.builds(
        SemVer,
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(0, 2),
        st.sampled_from([(), (), ("rc", 1), ("rc", 2)]),
    ),
    min_size=1,
    max_size=12,
    unique=True,
)
ranges = st.sampled_from(["^1", "~1.1", ">=0.2,<2", ">1.0.0", "<=1.1", "==1.1", "==1.1.1", ">=1.1.1-rc.1", "<0.1"])


@settings(deadline=None, max_examples=60)
@given(versions_strategy, ranges | st.none(), st.data())
def test_latest_and_ranges_agree_with_a_brute_force_scan(
    versions: list[SemVer], range_text: str | None, data: st.DataObject
) -> None:
    """The index's bisected search returns what scanning every version would, yanked versions skipped."""
    store = modelver.Store(f"memory://registry-{uuid.uuid4().hex}")
    store.initialize()
    for version in versions:
        _tag(store, "m", str(version))
    yanked = data.draw(st.sets(st.sampled_from(versions)))
    for version in yanked:
        write_event(store, new_event("m", "yank", by="a", created_by=BY, version=str(version)))
    version_range = VersionRange.parse(range_text) if range_text else None
    matching = [
        v
        for v in sorted(versions)
        if v not in yanked and (version_range.contains(v) if version_range else not v.is_prerelease)
    ]
    ref = f"m@{range_text}" if range_text else "m"
    if matching:
        assert str(matching[-1]) == resolve(store, ref).version
    else:
        with pytest.raises(VersionNotFoundError):
            resolve(store, ref)


PUBLISH_TAG = """
import sys
from modelver import Store
from modelver.registry.resolution import VersionTag
from modelver.manifest import CreatedBy
store = Store(sys.argv[1])
tag = VersionTag("m", sys.argv[2], "blake3:" + "ab" * 32, "2026", CreatedBy("u", "h"))
store.create_tag("m", sys.argv[2], tag.to_bytes())
"""


def test_a_new_tag_from_another_process_is_seen_after_the_listing_is_trusted(store_dir: Path, tmp_path: Path) -> None:
    """The cached listing is reused once old, yet a tag created later by another process is seen at once."""
    store = modelver.Store(store_dir)
    store.initialize()
    for version in itertools.islice((f"1.{i}.0" for i in itertools.count()), 5):
        _tag(store, "m", version)
    assert "1.4.0" == resolve(store, "m").version
    time.sleep(3.2)  # past the racy window: the next resolve trusts the cached listing
    assert "1.4.0" == resolve(store, "m").version
    script = tmp_path / "tag.py"
    script.write_text(PUBLISH_TAG)
    run_python(script, str(store_dir), "1.5.0", cwd=tmp_path)
    assert "1.5.0" == resolve(store, "m").version
    assert "1.5.0" == resolve(store, "m@^1").version


def test_on_s3_a_second_store_instance_sees_promotions_yanks_and_new_tags(s3_endpoint: str, s3_bucket: str) -> None:
    """Two clients of one bucket (as two processes would be): each change by one is seen by the other's next resolve."""
    writer = modelver.Store(f"s3://{s3_bucket}/store", **s3_options(s3_endpoint))
    writer.initialize()
    reader = modelver.Store(f"s3://{s3_bucket}/store", **s3_options(s3_endpoint))
    _tag(writer, "m", "1.0.0")
    _tag(writer, "m", "1.1.0")
    promote("m@1.0.0", "production", store=writer)
    assert ("1.0.0", "1.1.0") == (resolve(reader, "m@production").version, resolve(reader, "m").version)
    promote("m@1.1.0", "production", store=writer)
    yank("m@1.1.0", reason="bad", store=writer)
    _tag(writer, "m", "1.2.0")
    with pytest.warns(YankedVersionWarning):
        assert "1.1.0" == resolve(reader, "m@production").version
    assert "1.2.0" == resolve(reader, "m@^1").version
