"""Version schemes (modelver.registry.schemes): shapes, round trips, the cross-scheme order, candidates on conflict."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelver
from modelver.errors import CaptureError, InvalidReferenceError, VersionExistsError
from modelver.manifest import CodeFacet, CreatedBy, GitInfo
from modelver.registry.resolution import VersionTag, resolve
from modelver.registry.schemes import (
    candidate_versions,
    describe,
    experiment_version,
    timestamp_version,
)
from modelver.registry.semver import SemVer

WHEN = datetime(2026, 11, 29, 16, 1, 2, tzinfo=timezone.utc)
times = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc))
commits = st.from_regex(r"[0-9a-f]{40}", fullmatch=True)
counters = st.integers(0, 50)


def test_examples_of_each_scheme() -> None:
    """The documented shapes."""
    assert "20261129160102.0.0" == str(timestamp_version(WHEN))
    assert "20261129160102.0.3+git.3f9a01b.dirty" == str(timestamp_version(WHEN, 3, commit="3f9a01bc" * 5, dirty=True))
    assert "1.4.1-exp.20261129T160102Z" == str(experiment_version(SemVer(1, 4, 1), WHEN))
    assert "1.4.1-exp.20261129T160102Z.2" == str(experiment_version(SemVer(1, 4, 1), WHEN, 2))
    other_zone = WHEN.astimezone(timezone(timedelta(hours=5)))
    assert timestamp_version(WHEN) == timestamp_version(other_zone)


@settings(deadline=None)
@given(times, counters, commits | st.none(), st.booleans())
def test_timestamp_and_git_versions_round_trip_and_describe_themselves(
    when: datetime, counter: int, commit: str | None, dirty: bool
) -> None:
    """parse(str(v)) == v; describe() recovers the scheme, the time (to the second) and the commit."""
    version = timestamp_version(when, counter, commit=commit, dirty=dirty)
    text = str(version)
    assert version == SemVer.parse(text)
    assert text == quote(text, safe=".+")  # nothing a path or URL would need to escape
    info = describe(text)
    expected_scheme = "git" if commit else "timestamp"
    assert (expected_scheme, when.replace(microsecond=0)) == (info.scheme, info.time)
    assert ((commit[:7], dirty) if commit else (None, False)) == (info.commit, info.dirty)


@settings(deadline=None)
@given(times, counters)
def test_experiment_versions_round_trip(when: datetime, counter: int) -> None:
    """Experiments parse back and describe themselves."""
    version = experiment_version(SemVer(2, 0, 1), when, counter)
    assert version == SemVer.parse(str(version))
    assert ("experiment", when.replace(microsecond=0)) == (describe(version).scheme, describe(version).time)


@settings(deadline=None)
@given(times, counters, times, counters)
def test_time_versions_order_by_time_then_counter(a: datetime, ca: int, b: datetime, cb: int) -> None:
    """Timestamp versions (and experiments of one release) sort as their times do, then their counters."""
    expected = (a.replace(microsecond=0), ca) < (b.replace(microsecond=0), cb)
    assert expected == (timestamp_version(a, ca) < timestamp_version(b, cb))
    assert expected == (experiment_version(SemVer(1, 0, 0), a, ca) < experiment_version(SemVer(1, 0, 0), b, cb))


@settings(deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(SemVer, st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
            st.builds(timestamp_version, times, counters),
            st.builds(lambda w, c: timestamp_version(w, commit=c, dirty=True), times, commits),
            st.builds(lambda w, c: experiment_version(SemVer(1, 0, c), w), times, counters),
        ),
        min_size=3,
        max_size=3,
    )
)
def test_cross_scheme_order_is_total_and_transitive(versions: list[SemVer]) -> None:
    """Versions of all schemes mixed: exactly one of <, ==, > holds, and < is transitive."""
    a, b, c = versions
    assert 1 == sum((a < b, a == b, a > b))
    if a < b and b < c:
        assert a < c
    releases = [v for v in versions if describe(v).scheme == "semver"]
    stamped = [v for v in versions if describe(v).scheme in ("timestamp", "git")]
    assert all(r < s for r in releases for s in stamped)


def test_describe_leaves_ordinary_versions_to_semver() -> None:
    """Versions that merely look numeric stay semver: 14-digit majors that are not dates, rc pre-releases."""
    assert "semver" == describe("99999999999999.0.0").scheme
    assert "semver" == describe("1.0.0-rc.1").scheme
    assert "semver" == describe("1.0.0-exp.yesterday").scheme


def _take(store: modelver.Store, name: str, **kwargs: object) -> str:
    """Publish a tag with the first free candidate, as _tracking._publish does."""
    for candidate in candidate_versions(store, name, **kwargs):  # type: ignore[arg-type]
        try:
            store.create_tag(name, candidate, VersionTag(name, candidate, "blake3:" + "0" * 64, "t", BY).to_bytes())
        except VersionExistsError:
            continue
        return candidate
    raise AssertionError("no candidate")


BY = CreatedBy("u", "h")


def test_semver_scheme_bumps_the_highest_semver_release(store_dir: Path) -> None:
    """0.1.0 first (1.0.0 for major); bumps ignore timestamp versions and pre-releases; a conflict takes the next."""
    store = modelver.Store(store_dir)
    store.initialize()
    assert "1.0.0" == next(candidate_versions(store, "fresh", bump="major"))
    assert "0.1.0" == _take(store, "m")
    assert "0.1.1" == _take(store, "m")
    assert "0.2.0" == _take(store, "m", bump="minor")
    _take(store, "m", scheme="timestamp", now=WHEN)
    _take(store, "m", scheme="hybrid", now=WHEN)
    assert "1.0.0" == _take(store, "m", bump="major")
    candidates = candidate_versions(store, "m")
    assert "1.0.1" == next(candidates)
    _take(store, "m")  # another process takes 1.0.1 meanwhile
    assert "1.0.2" == next(candidates)
    assert ["2.0.0-rc.1"] == list(candidate_versions(store, "m", requested="2.0.0-rc.1"))


def test_timestamp_scheme_counts_up_within_one_second(store_dir: Path) -> None:
    """Two runs in the same second get PATCH 0 and 1; latest is the newest."""
    store = modelver.Store(store_dir)
    store.initialize()
    first = _take(store, "t", scheme="timestamp", now=WHEN)
    second = _take(store, "t", scheme="timestamp", now=WHEN)
    later = _take(store, "t", scheme="timestamp", now=WHEN + timedelta(seconds=1))
    assert ["20261129160102.0.0", "20261129160102.0.1", "20261129160103.0.0"] == [first, second, later]
    assert later == resolve(store, "t").version


def test_git_scheme_marks_dirty_trees_and_keeps_two_runs_of_one_commit_apart(store_dir: Path) -> None:
    """The same dirty commit twice (even in one second) gives two versions; no git state is an error."""
    store = modelver.Store(store_dir)
    store.initialize()
    code = CodeFacet(git=GitInfo(commit="3f9a01bc" * 5, branch="main", detached=False, dirty=True))
    first = _take(store, "g", scheme="git", code=code, now=WHEN)
    second = _take(store, "g", scheme="git", code=code, now=WHEN)
    assert ["20261129160102.0.0+git.3f9a01b.dirty", "20261129160102.0.1+git.3f9a01b.dirty"] == [first, second]
    with pytest.raises(CaptureError, match="git version scheme"):
        next(candidate_versions(store, "g", scheme="git", code=CodeFacet(errors=("git not found",))))


def test_hybrid_experiments_are_pre_releases_of_the_next_release(store_dir: Path) -> None:
    """Experiments sort after the release they build on, and latest skips them."""
    store = modelver.Store(store_dir)
    store.initialize()
    _take(store, "h")
    experiment = _take(store, "h", scheme="hybrid", now=WHEN)
    assert "0.1.1-exp.20261129T160102Z" == experiment
    assert "0.1.1-exp.20261129T160102Z.1" == _take(store, "h", scheme="hybrid", now=WHEN)
    assert "0.1.0" == resolve(store, "h").version
    assert experiment == resolve(store, f"h@{experiment}").version


def test_unknown_scheme_or_bump_is_refused(store_dir: Path) -> None:
    """Typos are errors that list the choices."""
    store = modelver.Store(store_dir)
    with pytest.raises(InvalidReferenceError, match="semver, timestamp, git, hybrid"):
        next(candidate_versions(store, "m", scheme="calver"))
    with pytest.raises(InvalidReferenceError, match="patch, minor, major"):
        next(candidate_versions(store, "m", bump="micro"))
    with pytest.raises(ValueError, match="timezone-aware"):
        timestamp_version(datetime(2026, 1, 1))
