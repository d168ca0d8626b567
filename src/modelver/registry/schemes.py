"""Version schemes: how a run without an explicit ``version=`` is numbered.

Every scheme produces a SemVer 2.0.0 version, so one name has one total order (SemVer precedence, with build
metadata as the tiebreak; :class:`~modelver.registry.semver.SemVer`) whichever schemes wrote its versions, and
``SemVer.parse(str(v)) == v`` for every version any scheme makes.

==========  ==========================================  ==============================================================
scheme      example                                     what it is
==========  ==========================================  ==============================================================
semver      ``1.4.0``                                   the highest *semver* release bumped (``patch`` by default);
                                                        ``0.1.0`` first (``1.0.0`` when bumping ``major``)
timestamp   ``20261129160102.0.0``                      a release whose MAJOR is the UTC time ``YYYYMMDDHHMMSS``;
                                                        PATCH counts runs within the same second
git         ``20261129160102.0.0+git.3f9a01b.dirty``    a timestamp release whose build metadata is the short commit
                                                        and ``dirty`` when the tree had uncommitted changes
hybrid      ``1.4.1-exp.20261129T160102Z``              an *experiment*: a pre-release of the next release carrying
                                                        the UTC time; ``modelver release`` gives it a semver version
==========  ==========================================  ==============================================================

Why these shapes (docs/registry.md, "Version schemes"):

- A timestamp MAJOR keeps timestamp and git versions *releases*, so ``latest`` is the newest run, as a user of
  those schemes expects; pre-releases would be skipped by ``latest`` and by every range. Digits and dots only:
  safe in paths and URLs, and ordered by time because a 14-digit number orders as its digits do.
- A git version carries the commit as build metadata because a commit hash has no order; the time before it gives
  the order, and makes two runs of the same dirty commit distinct.
- An experiment is a pre-release of the *next* release, so it sorts after the release it builds on and before the
  release it may become, and ``latest`` and ranges skip it (npm's rule) until it is released.

Cross-scheme order, which follows from SemVer precedence: experiments sit between the semver releases around
them; every timestamp and git version (MAJOR >= 10^13) sorts above every semver release. A name should therefore
keep to one of semver/hybrid or timestamp/git: once a timestamp version exists, ``latest`` is a timestamp version.
Semver bumps ignore timestamp and git versions, so they never bump ``20261129160102.0.0`` to ``20261129160102.0.1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Literal

import attrs

from modelver.errors import CaptureError, InvalidReferenceError
from modelver.manifest import CodeFacet
from modelver.registry.resolution import sorted_versions
from modelver.registry.semver import SemVer
from modelver.store.objects import Store

__all__ = [
    "DEFAULT_BUMP",
    "DEFAULT_SCHEME",
    "SCHEMES",
    "Bump",
    "Scheme",
    "VersionInfo",
    "candidate_versions",
    "describe",
    "experiment_version",
    "highest_semver_release",
    "timestamp_version",
]

Scheme = Literal["semver", "timestamp", "git", "hybrid"]
Bump = Literal["patch", "minor", "major"]
SCHEMES: tuple[str, ...] = ("semver", "timestamp", "git", "hybrid")
BUMPS: tuple[str, ...] = ("patch", "minor", "major")
#: What ``track()`` does without ``version=`` (docs/registry.md explains the choice).
DEFAULT_SCHEME: Scheme = "semver"
DEFAULT_BUMP: Bump = "patch"
#: MAJOR values from here up are UTC times ``YYYYMMDDHHMMSS`` (14 digits: the year 1000 onwards).
TIME_MAJOR_MIN = 10**13
#: The first pre-release identifier of a hybrid experiment version.
EXPERIMENT = "exp"
#: How many versions a publish tries before giving up (each is a create-if-absent that another process won).
MAX_CANDIDATES = 1000

_TIME_MAJOR = "%Y%m%d%H%M%S"
_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_RE = re.compile(r"\d{8}T\d{6}Z", re.ASCII)
_COMMIT_RE = re.compile(r"[0-9a-f]{4,40}", re.ASCII)


@attrs.frozen
class VersionInfo:
    """What a version says about itself, read from its text alone.

    Attributes:
        version: the version.
        scheme: ``"semver"``, ``"timestamp"``, ``"git"`` or ``"experiment"`` (a hybrid run not yet released).
        time: the UTC time a timestamp, git or experiment version carries (to the second), else ``None``.
        commit: the short commit of a git version, else ``None``.
        dirty: whether a git version was made from a tree with uncommitted changes.
    """

    version: SemVer
    scheme: str
    time: datetime | None = None
    commit: str | None = None
    dirty: bool = False


def _utc(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(timezone.utc)
    if when.tzinfo is None:
        raise ValueError("a version time must be timezone-aware (naive datetimes have no defined UTC time)")
    return when.astimezone(timezone.utc)


def timestamp_version(
    when: datetime | None = None, counter: int = 0, *, commit: str | None = None, dirty: bool = False
) -> SemVer:
    """A timestamp (or, with ``commit``, git) version: ``YYYYMMDDHHMMSS.0.COUNTER[+git.COMMIT[.dirty]]``.

    Args:
        when: a timezone-aware time (default: now); it is converted to UTC and truncated to the second.
        counter: runs already numbered within the same second (the PATCH).
        commit: the commit; its first 7 characters are kept, as ``git log --oneline`` shows them.
        dirty: whether the tree had uncommitted changes.

    Raises:
        ValueError: ``when`` is naive, or before the year 1000.
    """
    utc = _utc(when)
    if utc.year < 1000:
        raise ValueError("a timestamp version needs a year of four digits")
    build: tuple[str, ...] = ()
    if commit is not None:
        build = ("git", commit[:7].lower(), *(("dirty",) if dirty else ()))
    return SemVer(int(utc.strftime(_TIME_MAJOR)), 0, counter, (), build)


def experiment_version(base: SemVer, when: datetime | None = None, counter: int = 0) -> SemVer:
    """A hybrid experiment: ``base`` (a release) with the pre-release ``exp.YYYYMMDDTHHMMSSZ[.COUNTER]``.

    Raises:
        ValueError: ``when`` is naive.
    """
    stamp = _utc(when).strftime(_STAMP)
    return SemVer(base.major, base.minor, base.patch, (EXPERIMENT, stamp, *((counter,) if counter else ())))


def describe(version: SemVer | str) -> VersionInfo:
    """Which scheme made ``version``, and the time and commit it carries.

    Raises:
        InvalidReferenceError: ``version`` is a string that is not SemVer 2.0.0.
    """
    v = SemVer.parse(version) if isinstance(version, str) else version
    if v.major >= TIME_MAJOR_MIN and v.minor == 0 and not v.prerelease:
        try:
            when = datetime.strptime(str(v.major), _TIME_MAJOR).replace(tzinfo=timezone.utc)
        except ValueError:
            when = None
        if when is not None:
            if len(v.build) >= 2 and v.build[0] == "git" and _COMMIT_RE.fullmatch(v.build[1]):
                return VersionInfo(v, "git", when, v.build[1], v.build[2:] == ("dirty",))
            return VersionInfo(v, "timestamp", when)
    pre = v.prerelease
    if len(pre) >= 2 and pre[0] == EXPERIMENT and isinstance(pre[1], str) and _STAMP_RE.fullmatch(pre[1]):
        when = datetime.strptime(pre[1], _STAMP).replace(tzinfo=timezone.utc)
        return VersionInfo(v, "experiment", when)
    return VersionInfo(v, "semver")


def is_semver_release(version: SemVer) -> bool:
    """Whether ``version`` is a release made by the semver scheme (not a pre-release, not a timestamp/git one)."""
    return not version.is_prerelease and version.major < TIME_MAJOR_MIN


def highest_semver_release(store: Store, name: str) -> SemVer | None:
    """The highest semver-scheme release of ``name`` (what bumps start from), or ``None``."""
    releases = [v for v in sorted_versions(store, name) if is_semver_release(v)]
    return releases[-1] if releases else None


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InvalidReferenceError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}", reference=value)


def candidate_versions(
    store: Store,
    name: str,
    *,
    scheme: str = DEFAULT_SCHEME,
    requested: str | SemVer | None = None,
    bump: str = DEFAULT_BUMP,
    code: CodeFacet | None = None,
    now: datetime | None = None,
) -> Iterator[str]:
    """The versions a publish should try, in order: take the next one each time the tag turns out to be taken.

    With ``requested`` there is exactly one candidate (an explicit version is never changed). Otherwise the
    scheme decides (module docstring). Semver and hybrid candidates are recomputed from the store after each
    conflict, so a publish that lost a race takes the version after the winner's. At most
    :data:`MAX_CANDIDATES` candidates are yielded.

    Args:
        store: the store.
        name: the model name.
        scheme: ``"semver"``, ``"timestamp"``, ``"git"`` or ``"hybrid"``.
        requested: an explicit version.
        bump: for semver, which part to bump from the highest release; for hybrid, which release the experiments
            are pre-releases of.
        code: the run's code facet (the git scheme needs its commit and dirty flag).
        now: the run's time (default: when the first candidate is asked for).

    Raises:
        InvalidReferenceError: an unknown scheme or bump, or a ``requested`` version that is not SemVer.
        CaptureError: the git scheme without a captured git state.
    """
    _check_choice(scheme, SCHEMES, "version scheme")
    _check_choice(bump, BUMPS, "bump")
    part: Bump = bump  # type: ignore[assignment]  # checked just above
    if requested is not None:
        yield str(SemVer.parse(requested) if isinstance(requested, str) else requested)
        return
    if scheme == "git" and (code is None or code.git is None):
        errors = "; ".join(code.errors) if code is not None and code.errors else "no git repository was found"
        raise CaptureError(
            f"the git version scheme needs the commit the run started from, and none was captured ({errors}). "
            "Run from a git repository, or choose scheme='timestamp'"
        )
    when = _utc(now)
    last: SemVer | None = None
    for counter in range(MAX_CANDIDATES):
        if scheme in ("timestamp", "git"):
            git = code.git if code is not None else None
            candidate = timestamp_version(
                when, counter, commit=git.commit if git else None, dirty=bool(git and git.dirty)
            )
        else:
            base = highest_semver_release(store, name)
            release = (SemVer(1, 0, 0) if part == "major" else SemVer(0, 1, 0)) if base is None else base.bump(part)
            if scheme == "semver":
                candidate = release if last is None or release > last else last.bump(part)
            else:
                candidate = experiment_version(release, when, counter)
        last = candidate
        yield str(candidate)
