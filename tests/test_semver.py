"""SemVer 2.0.0: parsing, printing, the total order and bumping (modelver.registry.semver)."""

from __future__ import annotations

import itertools
import re

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelver.errors import InvalidReferenceError, ModelverError
from modelver.registry.semver import SemVer

# The regular expression published in the SemVer 2.0.0 FAQ, used here as an independent oracle. re.ASCII so that
# \d is [0-9]; fullmatch because "$" would also accept a trailing newline.
OFFICIAL_RE = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
    re.ASCII,
)

# Every example takes milliseconds; a wall-clock deadline would only turn a busy CI machine into flaky failures.
no_deadline = settings(deadline=None)

# --- strategies --------------------------------------------------------------------------------------------------

alphanumeric_ids = st.from_regex(r"[0-9A-Za-z-]{0,4}[A-Za-z-][0-9A-Za-z-]{0,4}", fullmatch=True)
numbers = st.integers(0, 3) | st.integers(0, 10**20)
prerelease_ids = st.integers(0, 2) | st.integers(0, 10**9) | st.sampled_from(["alpha", "beta", "rc", "0a", "-"])
prerelease_ids = prerelease_ids | alphanumeric_ids
build_ids = st.sampled_from(["1", "01", "001", "2", "sha", "exp-1"])
build_ids = build_ids | st.from_regex(r"[0-9A-Za-z-]{1,8}", fullmatch=True)
semvers = st.builds(
    SemVer,
    numbers,
    numbers,
    numbers,
    st.lists(prerelease_ids, max_size=4).map(tuple),
    st.lists(build_ids, max_size=3).map(tuple),
)
# Few distinct values, so that equal precedence, shared prefixes and build-only differences come up often.
small_semvers = st.builds(
    SemVer,
    st.integers(0, 1),
    st.integers(0, 1),
    st.integers(0, 1),
    st.lists(st.integers(0, 2) | st.sampled_from(["a", "b", "0a"]), max_size=3).map(tuple),
    st.lists(st.sampled_from(["1", "01", "2", "a"]), max_size=2).map(tuple),
)


def spec_compare(a: str, b: str) -> int:
    """SemVer precedence of two version strings, written from the words of §11, for checking the sort key."""
    ma, mb = OFFICIAL_RE.fullmatch(a), OFFICIAL_RE.fullmatch(b)
    assert ma is not None
    assert mb is not None
    for part in ("major", "minor", "patch"):
        x, y = int(ma[part]), int(mb[part])
        if x != y:
            return -1 if x < y else 1
    pa, pb = ma["prerelease"], mb["prerelease"]
    if pa is None or pb is None:
        return (pa is None) - (pb is None)  # a release has higher precedence than its pre-releases
    for x, y in itertools.zip_longest(pa.split("."), pb.split(".")):
        if x is None or y is None:
            return -1 if x is None else 1  # a larger set of fields has higher precedence
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() or y.isdigit():
            return -1 if x.isdigit() else 1  # numeric identifiers have lower precedence
        return -1 if x < y else 1
    return 0


# --- parse and print ---------------------------------------------------------------------------------------------


@no_deadline
@given(semvers)
def test_parse_str_round_trip(version: SemVer) -> None:
    """Every version prints to text that parses back to an equal version."""
    assert version == SemVer.parse(str(version))


@no_deadline
@given(semvers)
def test_str_matches_official_regex(version: SemVer) -> None:
    """Every printed version is valid by the regular expression of the SemVer FAQ."""
    assert OFFICIAL_RE.fullmatch(str(version)) is not None


@no_deadline
@given(st.text(alphabet="0129.-+aZv \n", max_size=16))
def test_parse_accepts_exactly_what_the_official_regex_accepts(text: str) -> None:
    """SemVer.parse succeeds on a string exactly when the FAQ's regular expression matches it."""
    try:
        SemVer.parse(text)
    except InvalidReferenceError:
        accepted = False
    else:
        accepted = True
    assert (OFFICIAL_RE.fullmatch(text) is not None) == accepted


# The valid and invalid examples that semver.org's FAQ links to (https://regex101.com/r/Ly7O1x/3/).
SPEC_VALID = [
    "0.0.4",
    "1.2.3",
    "10.20.30",
    "1.1.2-prerelease+meta",
    "1.1.2+meta",
    "1.1.2+meta-valid",
    "1.0.0-alpha",
    "1.0.0-beta",
    "1.0.0-alpha.beta",
    "1.0.0-alpha.beta.1",
    "1.0.0-alpha.1",
    "1.0.0-alpha0.valid",
    "1.0.0-alpha.0valid",
    "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
    "1.0.0-rc.1+build.1",
    "2.0.0-rc.1+build.123",
    "1.2.3-beta",
    "10.2.3-DEV-SNAPSHOT",
    "1.2.3-SNAPSHOT-123",
    "1.0.0",
    "2.0.0",
    "1.1.7",
    "2.0.0+build.1848",
    "2.0.1-alpha.1227",
    "1.0.0-alpha+beta",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
    "1.2.3----R-S.12.9.1--.12+meta",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12",
    "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
    "99999999999999999999999.999999999999999999.99999999999999999",
    "1.0.0-0A.is.legal",
    "1.0.0-alpha+001",
]
SPEC_INVALID = [
    "1",
    "1.2",
    "1.2.3-0123",
    "1.2.3-0123.0123",
    "1.1.2+.123",
    "+invalid",
    "-invalid",
    "-invalid+invalid",
    "-invalid.01",
    "alpha",
    "alpha.beta",
    "alpha.beta.1",
    "alpha.1",
    "alpha+beta",
    "alpha_beta",
    "alpha.",
    "alpha..",
    "beta",
    "1.0.0-alpha_beta",
    "-alpha.",
    "1.0.0-alpha..",
    "1.0.0-alpha..1",
    "1.0.0-alpha...1",
    "1.0.0-alpha....1",
    "1.0.0-alpha.....1",
    "1.0.0-alpha......1",
    "1.0.0-alpha.......1",
    "01.1.1",
    "1.01.1",
    "1.1.01",
    "1.2.3.DEV",
    "1.2-SNAPSHOT",
    "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
    "1.2-RC-SNAPSHOT",
    "-1.0.3-gamma+b7718",
    "+justmeta",
    "9.8.7+meta+meta",
    "9.8.7-whatever+meta+meta",
    "99999999999999999999999.999999999999999999.99999999999999999----RC-SNAPSHOT.12.09.1--------------------------------..12",
    # Not in that list, but refused on purpose.
    "",
    "v1.2.3",
    "V1.2.3",
    " 1.2.3",
    "1.2.3\n",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-rc.1\x00",
    "1.2.3-é",
    "1.2.x",
    "1.2.٣",  # an Arabic-Indic digit: str.isdigit() says yes, SemVer says ASCII only
]


@pytest.mark.parametrize("text", SPEC_VALID)
def test_spec_valid_examples_parse_and_print_unchanged(text: str) -> None:
    """Each valid example of the SemVer FAQ parses, and prints back to the same text."""
    assert text == str(SemVer.parse(text))


@pytest.mark.parametrize("text", SPEC_INVALID)
def test_spec_invalid_examples_are_refused(text: str) -> None:
    """Each invalid example of the SemVer FAQ raises InvalidReferenceError naming the text."""
    with pytest.raises(InvalidReferenceError) as info:
        SemVer.parse(text)
    assert text == info.value.reference


def test_parse_fields() -> None:
    """Numeric pre-release identifiers become int; build identifiers stay str, leading zeros and all."""
    assert SemVer(1, 0, 0, ("alpha", 1, "0a"), ("001", "sha")) == SemVer.parse("1.0.0-alpha.1.0a+001.sha")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v1.2.0", "no 'v' prefix (SemVer 2.0.0 FAQ); write '1.2.0', not 'v1.2.0'"),
        ("01.1.1", "the major version '01' has a leading zero (SemVer 2.0.0 §2); write '1.1.1'"),
        ("1.2", "'1.2' has 2 parts; a version needs all three of MAJOR.MINOR.PATCH (SemVer 2.0.0 §2); write '1.2.0'"),
        ("1.2.3-0123", "'0123' has a leading zero (SemVer 2.0.0 §9); write '1.2.3-123'"),
        ("1.2.3-rc..1", "the pre-release 'rc..1' has an empty identifier"),
        ("1.0.0-alpha_beta", "the pre-release identifier 'alpha_beta' contains '_'"),
        ("9.8.7+meta+meta", "the build identifier 'meta+meta' contains '+'"),
        ("1.2.3 ", "surrounding whitespace; write '1.2.3'"),
        ("1.2.x", "the patch version is the wildcard 'x'"),
        ("1.2.3-rc.1\x00", r"contains '\x00'"),
        ("1." + "9" * 5000 + ".0", "is too long"),
    ],
)
def test_parse_error_names_the_problem_and_the_fix(text: str, fragment: str) -> None:
    """The error message says what is wrong and, where obvious, the corrected version."""
    with pytest.raises(InvalidReferenceError) as info:
        SemVer.parse(text)
    assert fragment in str(info.value)


def test_parse_error_is_a_value_error() -> None:
    """InvalidReferenceError is both a ModelverError and a ValueError."""
    with pytest.raises(InvalidReferenceError) as info:
        SemVer.parse("1.2")
    assert isinstance(info.value, ModelverError)
    assert isinstance(info.value, ValueError)


# --- construction ------------------------------------------------------------------------------------------------


def test_constructor_normalizes_all_digit_prerelease_strings() -> None:
    """An all-digit pre-release string is the numeric identifier, so both spellings are one version."""
    assert SemVer.parse("1.0.0-rc.1") == SemVer(1, 0, 0, ["rc", "1"])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"major": -1, "minor": 0, "patch": 0}, InvalidReferenceError),
        ({"major": 1.0, "minor": 0, "patch": 0}, TypeError),
        ({"major": True, "minor": 0, "patch": 0}, TypeError),
        ({"major": 1, "minor": 0, "patch": 0, "prerelease": "rc"}, TypeError),
        ({"major": 1, "minor": 0, "patch": 0, "prerelease": ("01",)}, InvalidReferenceError),
        ({"major": 1, "minor": 0, "patch": 0, "prerelease": ("",)}, InvalidReferenceError),
        ({"major": 1, "minor": 0, "patch": 0, "prerelease": ("a.b",)}, InvalidReferenceError),
        ({"major": 1, "minor": 0, "patch": 0, "prerelease": (-1,)}, InvalidReferenceError),
        ({"major": 1, "minor": 0, "patch": 0, "build": ("a+b",)}, InvalidReferenceError),
        ({"major": 1, "minor": 0, "patch": 0, "build": (1,)}, TypeError),
        ({"major": 1, "minor": 0, "patch": 0, "build": "sha"}, TypeError),
    ],
)
def test_constructor_refuses_what_has_no_text_form(kwargs: dict[str, object], error: type[Exception]) -> None:
    """Fields that could not print as a valid version are refused, so parse(str(v)) == v holds for every v."""
    with pytest.raises(error):
        SemVer(**kwargs)  # type: ignore[arg-type]


# --- order -------------------------------------------------------------------------------------------------------


def chain_pairs(chain: list[str]) -> list[tuple[str, str]]:
    """Every (lower, higher) pair of an ascending chain."""
    return list(itertools.combinations(chain, 2))


SPEC_CHAINS = [
    ["1.0.0", "2.0.0", "2.1.0", "2.1.1"],
    [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ],
    ["1.9.0", "1.10.0"],
    ["1.0.0-2", "1.0.0-10", "1.0.0-1a"],
]


@pytest.mark.parametrize(("lower", "higher"), [pair for chain in SPEC_CHAINS for pair in chain_pairs(chain)])
def test_spec_precedence_examples(lower: str, higher: str) -> None:
    """The precedence examples of SemVer 2.0.0 §11 hold (and 1.10.0 > 1.9.0, numeric ids before alphanumeric)."""
    a, b = SemVer.parse(lower), SemVer.parse(higher)
    expected = (True, True, False, False)
    assert expected == (a < b, b > a, a >= b, b <= a)


@no_deadline
@given(small_semvers | semvers, small_semvers | semvers)
def test_order_is_total_and_consistent_with_eq(a: SemVer, b: SemVer) -> None:
    """Exactly one of a < b, a == b, a > b holds, and equal versions hash equal."""
    expected = 1
    assert expected == [a < b, a == b, a > b].count(True)
    assert (a <= b) == (a < b or a == b)
    assert (a >= b) == (a > b or a == b)
    if a == b:
        assert hash(a) == hash(b)


@no_deadline
@given(small_semvers, small_semvers)
def test_order_is_antisymmetric(a: SemVer, b: SemVer) -> None:
    """a <= b and b <= a only when a == b."""
    if a <= b and b <= a:
        assert a == b


@no_deadline
@given(small_semvers, small_semvers, small_semvers)
def test_order_is_transitive(a: SemVer, b: SemVer, c: SemVer) -> None:
    """Three sorted versions are pairwise ordered, whichever order they came in."""
    for permutation in itertools.permutations([a, b, c]):
        low, mid, high = sorted(permutation)
        assert low <= mid <= high
        assert low <= high
        assert [low, mid, high] == sorted([a, b, c])


@no_deadline
@given(small_semvers | semvers, small_semvers | semvers)
def test_precedence_follows_spec_section_11(a: SemVer, b: SemVer) -> None:
    """precedence_key orders exactly as the rules of §11 written out independently."""
    expected = spec_compare(str(a), str(b))
    ka, kb = a.precedence_key(), b.precedence_key()
    assert expected == (ka > kb) - (ka < kb)


@no_deadline
@given(small_semvers | semvers, small_semvers | semvers)
def test_build_metadata_only_breaks_ties(a: SemVer, b: SemVer) -> None:
    """Versions of different precedence compare by precedence, whatever their build metadata."""
    if a.precedence_key() != b.precedence_key():
        assert (a.precedence_key() < b.precedence_key()) == (a < b)


@no_deadline
@given(small_semvers | semvers)
def test_build_metadata_is_ignored_by_precedence(version: SemVer) -> None:
    """Dropping build metadata keeps precedence and sorts no later (no build metadata sorts first)."""
    bare = attrs.evolve(version, build=())
    assert bare.precedence_key() == version.precedence_key()
    assert bare <= version


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0", "1.0.0+0"),
        ("1.0.0+01", "1.0.0+1"),  # equal value, so the text breaks the tie: "01" < "1"
        ("1.0.0+1", "1.0.0+2"),
        ("1.0.0+2", "1.0.0+10"),
        ("1.0.0+10", "1.0.0+a"),
        ("1.0.0+a", "1.0.0+a.1"),
        ("1.0.0+exp.sha.5114f85", "1.0.0+exp.sha.a"),
        ("1.0.0-rc.1+zzz", "1.0.0+aaa"),
    ],
)
def test_build_metadata_tiebreak(lower: str, higher: str) -> None:
    """Build metadata orders like pre-release identifiers (numeric by value first), and only on equal precedence."""
    assert SemVer.parse(lower) < SemVer.parse(higher)


def test_comparison_with_other_types() -> None:
    """A SemVer is not equal to its string, and ordering against one is a TypeError."""
    version, text = SemVer(1, 0, 0), "1.0.0"
    other: object = text
    assert version != other
    with pytest.raises(TypeError):
        _ = version < other


# --- bump and is_prerelease --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [
        ("1.2.3", "patch", "1.2.4"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "major", "2.0.0"),
        ("0.0.0", "patch", "0.0.1"),
        ("1.2.3+build.7", "patch", "1.2.4"),
        ("1.2.3-rc.1", "patch", "1.2.3"),
        ("1.2.3-rc.1+b", "patch", "1.2.3"),
        ("1.2.3-rc.1", "minor", "1.3.0"),
        ("1.2.3-rc.1", "major", "2.0.0"),
        ("1.3.0-rc.1", "minor", "1.3.0"),
        ("1.3.0-rc.1", "major", "2.0.0"),
        ("2.0.0-rc.1", "major", "2.0.0"),
        ("2.0.0-rc.1", "minor", "2.0.0"),
        ("2.0.0-rc.1", "patch", "2.0.0"),
    ],
)
def test_bump(version: str, part: str, expected: str) -> None:
    """bump drops pre-release and build metadata and finishes a pending pre-release, like npm's semver.inc."""
    assert SemVer.parse(expected) == SemVer.parse(version).bump(part)  # type: ignore[arg-type]


@no_deadline
@given(semvers, st.sampled_from(["major", "minor", "patch"]))
def test_bump_gives_a_higher_release(version: SemVer, part: str) -> None:
    """A bumped version is a release, without build metadata, of higher precedence."""
    bumped = version.bump(part)  # type: ignore[arg-type]
    assert not bumped.is_prerelease
    assert not bumped.build
    assert bumped.precedence_key() > version.precedence_key()


def test_bump_refuses_unknown_part() -> None:
    """Bumping anything but major, minor or patch raises InvalidReferenceError."""
    with pytest.raises(InvalidReferenceError, match="bump 'major', 'minor' or 'patch'"):
        SemVer(1, 0, 0).bump("build")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"), [("1.0.0", False), ("1.0.0+build", False), ("1.0.0-0", True), ("1.0.0-rc.1+b", True)]
)
def test_is_prerelease(text: str, expected: bool) -> None:
    """A version is a pre-release when it has pre-release identifiers; build metadata does not count."""
    assert expected == SemVer.parse(text).is_prerelease
