"""Names, aliases, version ranges and references (modelver.registry.refs)."""

from __future__ import annotations

import ast
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelver.errors import InvalidReferenceError
from modelver.registry.names import MAX_NAME_LENGTH, RESERVED_SEGMENTS, validate_alias, validate_name
from modelver.registry.ranges import VersionRange
from modelver.registry.refs import Reference, parse_reference
from modelver.registry.semver import SemVer
from modelver.store.digest import ALGORITHMS

# Every example takes milliseconds; a wall-clock deadline would only turn a busy CI machine into flaky failures.
no_deadline = settings(deadline=None)

# --- strategies --------------------------------------------------------------------------------------------------

segments = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True).filter(lambda s: s not in RESERVED_SEGMENTS)
names = st.lists(segments, min_size=1, max_size=4).map("/".join).filter(lambda n: len(n) <= MAX_NAME_LENGTH)


def is_valid_alias(alias: str) -> bool:
    """Whether validate_alias accepts ``alias``."""
    try:
        validate_alias(alias)
    except InvalidReferenceError:
        return False
    return True


aliases = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True).filter(is_valid_alias)
digest_prefixes = st.builds(
    "{}:{}".format, st.sampled_from(ALGORITHMS), st.from_regex(r"[0-9a-f]{8,64}", fullmatch=True)
)
versions = st.builds(
    SemVer,
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 30),
    st.lists(st.integers(0, 3) | st.sampled_from(["alpha", "rc", "x-1"]), max_size=2).map(tuple),
    st.lists(st.sampled_from(["b", "001", "sha-1"]), max_size=2).map(tuple),
)
partial_versions = st.lists(st.integers(0, 30).map(str), min_size=1, max_size=3).map(".".join)
bare_versions = versions.map(lambda v: str(SemVer(v.major, v.minor, v.patch, v.prerelease)))
comparators = st.builds(
    "{}{}".format, st.sampled_from(["^", "~", ">=", ">", "<=", "<", "=="]), partial_versions | bare_versions
)
range_texts = st.lists(comparators, min_size=1, max_size=3).map(",".join)


@st.composite
def references(draw: st.DrawFn) -> Reference:
    """A valid Reference built field by field (not by the parser under test)."""
    name = draw(names)
    kind = draw(st.sampled_from(["latest", "version", "range", "alias", "digest"]))
    if kind == "version":
        version = draw(versions)
        return Reference(name, "version", str(version), version=version)
    if kind == "range":
        text = draw(range_texts)
        return Reference(name, "range", text, range=VersionRange.parse(text))
    if kind == "alias":
        alias = draw(aliases)
        return Reference(name, "alias", alias, alias=alias)
    if kind == "digest":
        prefix = draw(digest_prefixes)
        return Reference(name, "digest", prefix, digest_prefix=prefix)
    return Reference(name, "latest", "latest")


# Characters that reach every branch of the parser: separators, operators, digits, hex, case, space, control.
reference_alphabet = "ab3ekl.-_/@^~<>=!,:+*|vV fA0129\\\x00\t\u202eé"
fuzz_texts = (
    st.text()
    | st.text(alphabet=reference_alphabet, max_size=24)
    | st.builds("{}@{}".format, names, st.text(alphabet=reference_alphabet, max_size=20))
    | st.builds("{}@blake3:{}".format, names, st.text(alphabet="0123456789abcdefABg:", max_size=70))
)


def suggested_fix(message: str) -> str | None:
    """The corrected text that an error message proposes ("write 'X', not 'Y'"), if any."""
    match = re.search(r"; write ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"), not ", message)
    return None if match is None else str(ast.literal_eval(match[1]))


# --- names -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "m",
        "0",
        "churn-model",
        "team/churn-model",
        "org/team/model",
        "bert-base.v2",
        "a_b",
        "a..b",
        "model.",
        "versions-2",
        "my-events",
        "a" * MAX_NAME_LENGTH,
    ],
)
def test_valid_names(name: str) -> None:
    """Lowercase segments of [a-z0-9][a-z0-9._-]* joined by '/', up to 128 characters, are names."""
    assert name == validate_name(name)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "the name is empty"),
        ("Model", "uppercase letters; only lowercase ones are allowed; write 'model', not 'Model'"),
        ("my model", "a space at position 2; write 'my-model'"),
        ("team\\model", "a backslash at position 4; namespaces are separated by '/'; write 'team/model'"),
        ("/abs/model", "starts with '/'; a name is not an absolute path; write 'abs/model'"),
        ("..", "a '..' segment; a name is not a file path"),
        ("../x", "a '..' segment"),
        ("a/./b", "a '.' segment"),
        ("a//b", "an empty segment ('//' or a trailing '/'); write 'a/b'"),
        ("a/", "an empty segment"),
        ("a\x00b", r"the control character '\x00' at position 1"),
        ("a\tb", r"the control character '\t' at position 1"),
        ("ok\u202eb", r"the non-printing character '\u202e' at position 2"),
        ("a" * 129, "the name is 129 characters long; names have at most 128 characters"),
        ("a/versions", "the name segment 'versions' is reserved"),
        ("events/x", "the name segment 'events' is reserved"),
        (".hidden", "the name segment '.hidden' starts with '.'"),
        ("team/-x", "the name segment '-x' starts with '-'"),
        ("_x", "starts with '_'"),
        ("modèle", "the non-ASCII character 'è' at position 3"),
        ("a:b", "contains ':' at position 1"),
        ("a@b", "contains '@' at position 1"),
    ],
)
def test_invalid_names(name: str, fragment: str) -> None:
    """Each malformed name raises InvalidReferenceError naming the exact problem."""
    with pytest.raises(InvalidReferenceError) as info:
        validate_name(name)
    assert fragment in str(info.value)
    assert name == info.value.reference


@no_deadline
@given(names)
def test_generated_names_are_valid(name: str) -> None:
    """Every name the strategy builds from the documented grammar is accepted."""
    assert name == validate_name(name)


def test_validate_name_refuses_non_strings() -> None:
    """A name that is not a str is a TypeError, not a malformed name."""
    with pytest.raises(TypeError):
        validate_name(b"model")  # type: ignore[arg-type]


# --- aliases -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alias", ["production", "staging-eu", "champion_2024", "a", "a" * 64, "v", "vnext", "defaced", "latest-eu"]
)
def test_valid_aliases(alias: str) -> None:
    """Aliases are [a-z][a-z0-9_-]{0,63} that read as nothing else."""
    assert alias == validate_alias(alias)


@pytest.mark.parametrize(
    ("alias", "fragment"),
    [
        ("", "the alias is empty"),
        ("Production", "uppercase letters; only lowercase ones are allowed; write 'production'"),
        ("latest", "'latest' is reserved"),
        ("1.2.0", "starts with a digit, so it would read as a version"),
        ("1abc", "starts with a digit"),
        ("v2", "looks like a version"),
        ("v1-beta", "looks like a version"),
        ("prod.eu", "contains '.', so it would read as a version"),
        ("^1", "starts with '^', so it would read as a range"),
        (">=1", "would read as a range"),
        ("blake3:3f9a01bc", "contains ':', so it would read as a digest"),
        ("cafe1234", "looks like a digest prefix or a git commit"),
        ("a1b2c3d", "looks like a digest prefix or a git commit"),
        ("a" * 65, "the alias is 65 characters long; aliases have at most 64 characters"),
        ("_x", "starts with '_'; an alias starts with a lowercase letter"),
        ("x y", "a space at position 1; write 'x-y'"),
        ("x\x00", r"the control character '\x00'"),
        ("team/prod", "contains '/'"),
    ],
)
def test_invalid_aliases(alias: str, fragment: str) -> None:
    """Each malformed alias raises InvalidReferenceError naming the exact problem."""
    with pytest.raises(InvalidReferenceError) as info:
        validate_alias(alias)
    assert fragment in str(info.value)


# --- ranges ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # caret (npm and cargo agree)
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^1.2", ">=1.2.0,<2.0.0"),
        ("^1", ">=1.0.0,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.2", ">=0.2.0,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0.0.0", ">=0.0.0,<0.0.1"),
        ("^0.0", ">=0.0.0,<0.1.0"),
        ("^0", ">=0.0.0,<1.0.0"),
        ("^1.2.3-beta.2", ">=1.2.3-beta.2,<2.0.0"),
        ("^0.0.3-beta", ">=0.0.3-beta,<0.0.4"),
        # tilde
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1.2", ">=1.2.0,<1.3.0"),
        ("~1", ">=1.0.0,<2.0.0"),
        ("~0.2.3", ">=0.2.3,<0.3.0"),
        ("~0", ">=0.0.0,<1.0.0"),
        ("~1.2.3-beta.2", ">=1.2.3-beta.2,<1.3.0"),
        # comparators
        (">=1.2,<2", ">=1.2.0,<2.0.0"),
        (">=1.2.3", ">=1.2.3"),
        (">=1", ">=1.0.0"),
        (">1.0.0", ">1.0.0"),
        (">1.2", ">=1.3.0"),
        (">1", ">=2.0.0"),
        ("<2", "<2.0.0"),
        ("<1.2.3-rc.1", "<1.2.3-rc.1"),
        ("<=2", "<3.0.0"),
        ("<=1.2", "<1.3.0"),
        ("<=1.2.3", "<=1.2.3"),
        ("==1.2.3", "==1.2.3"),
        ("==1.2.3-rc.1", "==1.2.3-rc.1"),
        ("==1.2", ">=1.2.0,<1.3.0"),
        ("==1", ">=1.0.0,<2.0.0"),
        ("^1.2,<1.5", ">=1.2.0,<2.0.0,<1.5.0"),
    ],
)
def test_range_expansion(text: str, expected: str) -> None:
    """Carets, tildes and partial versions expand as npm and cargo expand them."""
    version_range = VersionRange.parse(text)
    assert expected == ",".join(f"{op}{version}" for op, version in version_range.comparators)
    assert text == str(version_range)


@pytest.mark.parametrize(
    ("text", "version", "expected"),
    [
        ("^1.2", "1.2.0", True),
        ("^1.2", "1.9.9", True),
        ("^1.2", "1.1.9", False),
        ("^1.2", "2.0.0", False),
        ("^1.2", "1.2.0+build.5", True),
        ("~1.2.3", "1.2.9", True),
        ("~1.2.3", "1.3.0", False),
        ("^0.0.3", "0.0.3", True),
        ("^0.0.3", "0.0.4", False),
        (">1.2", "1.2.9", False),
        (">1.2", "1.3.0", True),
        ("<=2", "2.9.0", True),
        ("<=2", "3.0.0", False),
        ("==1.2", "1.2.7", True),
        ("==1.2.3", "1.2.3+build.5", True),  # precedence ignores build metadata (SemVer 2.0.0 §10)
        (">1.2.3", "1.2.3+build.5", False),
        # pre-releases (npm's rule)
        ("^1.2", "1.5.0-beta", False),
        ("^1.2", "2.0.0-rc.1", False),
        ("<=2", "3.0.0-rc.1", False),
        ("<2", "1.9.0-rc.1", False),
        ("^1.2.3-rc.1", "1.2.3-rc.2", True),
        ("^1.2.3-rc.1", "1.2.3-rc.0", False),
        ("^1.2.3-rc.1", "1.2.3", True),
        ("^1.2.3-rc.1", "1.2.4-rc.1", False),
        ("^1.2.3-rc.1", "1.3.0", True),
        (">=1.2.3-rc.1", "1.2.3-rc.1", True),
        ("==1.2.3-rc.1", "1.2.3-rc.1+b", True),
        ("<2.0.0-rc.1", "2.0.0-beta", True),
        ("<2.0.0-rc.1", "2.0.0-rc.1", False),
        ("<2.0.0-rc.1", "1.9.0-beta", False),
        (">=1.0.0-0,<2", "1.0.0-alpha", True),
    ],
)
def test_range_contains(text: str, version: str, expected: bool) -> None:
    """contains follows precedence, and admits a pre-release only when a comparator names its release."""
    assert expected == VersionRange.parse(text).contains(SemVer.parse(version))


@no_deadline
@given(versions)
def test_caret_and_tilde_of_a_release(version: SemVer) -> None:
    """~v holds v and its next patch but not its next minor; ^v lets through exactly what keeps its left-most non-0."""
    release = SemVer(version.major, version.minor, version.patch)
    caret, tilde = VersionRange.parse(f"^{release}"), VersionRange.parse(f"~{release}")
    expected_tilde = (True, True, False)
    assert expected_tilde == tuple(tilde.contains(v) for v in (release, release.bump("patch"), release.bump("minor")))
    expected_caret = (True, release.major > 0 or release.minor > 0, release.major > 0, False)
    bumps = (release, release.bump("patch"), release.bump("minor"), release.bump("major"))
    assert expected_caret == tuple(caret.contains(v) for v in bumps)


@no_deadline
@given(versions, versions)
def test_lower_and_upper_bounds_split_the_releases(bound: SemVer, version: SemVer) -> None:
    """A release is in exactly one of >=v and <v (v a release), as precedence says."""
    bare = SemVer(bound.major, bound.minor, bound.patch)
    release = SemVer(version.major, version.minor, version.patch, (), version.build)
    at_least = VersionRange.parse(f">={bare}").contains(release)
    below = VersionRange.parse(f"<{bare}").contains(release)
    assert (at_least, below) == (release.precedence_key() >= bare.precedence_key(), not at_least)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the range is empty"),
        (">= 1.2", "whitespace; write its comparators without spaces, joined by ','; write '>=1.2', not '>= 1.2'"),
        (">=1.2 <2", "write '>=1.2,<2'"),
        ("=1.2.3", "a single '=' is not an operator; write '==' for an exact version; write '==1.2.3'"),
        ("~>1.2", "'~>' is not an operator here; write '~'; write '~1.2'"),
        ("=>1.2", "write '>=1.2'"),
        ("!=1.2.3", "'!=' is not supported"),
        ("^1.2||^2", "'||' (a union of ranges) is not supported"),
        ("^", "the operator '^' has no version after it"),
        ("^^1", "has two operators"),
        (">=1.2,", "an empty comparator"),
        ("1.2", "does not start with an operator"),
        ("*", "the wildcard '*' is not supported"),
        ("^1.x", "the minor version is the wildcard 'x'"),
        ("^v1.2", "a version has no 'v' prefix (SemVer 2.0.0 FAQ); write '^1.2'"),
        ("^01.2", "the major version '01' has a leading zero (SemVer 2.0.0 §2); write '^1.2'"),
        ("^1.2.3.4", "'1.2.3.4' has 4 parts"),
        ("^1.2+build", "a range holds no build metadata"),
        ("^1.2-rc.1", "a pre-release needs a full version ('1.2.0-rc.1', not '1.2-rc.1')"),
        ("^1.2.3-rc..1", "has an empty identifier"),
    ],
)
def test_invalid_ranges(text: str, fragment: str) -> None:
    """Each malformed range raises InvalidReferenceError naming the exact problem."""
    with pytest.raises(InvalidReferenceError) as info:
        VersionRange.parse(text)
    assert fragment in str(info.value)
    assert text == info.value.reference


def test_version_range_refuses_unknown_comparisons() -> None:
    """A VersionRange built by hand may hold only <, <=, >, >= and ==."""
    with pytest.raises(InvalidReferenceError, match="unknown comparison '~'"):
        VersionRange("~1.2.3", (("~", SemVer(1, 2, 3)),))


# --- references --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m", Reference("m", "latest", "latest")),
        ("m@latest", Reference("m", "latest", "latest")),
        ("team/m@1.2.0", Reference("team/m", "version", "1.2.0", version=SemVer(1, 2, 0))),
        (
            "m@1.2.0-rc.1+b.5",
            Reference("m", "version", "1.2.0-rc.1+b.5", version=SemVer(1, 2, 0, ("rc", 1), ("b", "5"))),
        ),
        ("m@^1.2", Reference("m", "range", "^1.2", range=VersionRange.parse("^1.2"))),
        ("m@~1.2.3", Reference("m", "range", "~1.2.3", range=VersionRange.parse("~1.2.3"))),
        ("m@>=1.2,<2", Reference("m", "range", ">=1.2,<2", range=VersionRange.parse(">=1.2,<2"))),
        ("m@==1.2.3", Reference("m", "range", "==1.2.3", range=VersionRange.parse("==1.2.3"))),
        ("m@production", Reference("m", "alias", "production", alias="production")),
        ("m@blake3:3f9a01bc", Reference("m", "digest", "blake3:3f9a01bc", digest_prefix="blake3:3f9a01bc")),
        ("m@sha256:" + "a" * 64, Reference("m", "digest", "sha256:" + "a" * 64, digest_prefix="sha256:" + "a" * 64)),
    ],
)
def test_valid_references(text: str, expected: Reference) -> None:
    """Each documented form of reference parses to the expected fields."""
    assert expected == parse_reference(text)


@pytest.mark.parametrize(("text", "expected"), [("m", "m@latest"), ("m@1.2.0", "m@1.2.0"), ("m@^1.2", "m@^1.2")])
def test_reference_str(text: str, expected: str) -> None:
    """str(reference) is name@spec, with "latest" when no spec was given."""
    assert expected == str(parse_reference(text))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the reference is empty"),
        ("Name@@1", "the reference has 2 '@'; a reference is NAME or NAME@SPEC, with one '@'"),
        ("../x@1.0.0", "the name has a '..' segment"),
        ("x@", "there is nothing after '@'; write 'x@latest', not 'x@'"),
        ("@1.0.0", "there is no name before '@'"),
        ("x@v1.2.0", "a version has no 'v' prefix (SemVer 2.0.0 FAQ); write 'x@1.2.0', not 'x@v1.2.0'"),
        ("x@V1.2.0", "write 'x@1.2.0'"),
        ("x@v2", "a version has no 'v' prefix"),
        ("x@01.2.0", "the major version '01' has a leading zero (SemVer 2.0.0 §2); write 'x@1.2.0'"),
        ("x@1.2.3-01", "the numeric pre-release identifier '01' has a leading zero"),
        ("x@1.2", "'1.2' is a partial version; write '1.2.0' for that exact version, or a range such as '~1.2'"),
        ("x@1.2.3.4", "'1.2.3.4' has 4 parts"),
        ("x@1.0.0,<2", "a range starts with an operator"),
        ("x@1.2 - 2", "a hyphen range 'A - B' is written '>=A,<=B'"),
        ("x@1.0.0 ", "whitespace"),
        ("x@blake3:abc", "the digest prefix has 3 hex digits; give at least 8"),
        ("x@blake3:", "there are no hex digits after 'blake3:'"),
        ("x@blake3:3F9A01BC", "digest hex digits are lowercase; write 'x@blake3:3f9a01bc'"),
        ("x@blake3:3f9a01bg", "the digest contains 'g', which is not a hex digit"),
        ("x@md5:3f9a01bc", "unknown digest algorithm 'md5'; a digest starts with blake3 or sha256"),
        ("x@sha256:" + "a" * 65, "the digest has 65 hex digits; a sha256 digest has 64"),
        ("x@3f9a01bcd", "looks like a digest prefix without its algorithm"),
        ("x@cafe1234", "looks like a digest prefix or a git commit"),
        ("Model@1.0.0", "the name has uppercase letters; only lowercase ones are allowed; write 'model@1.0.0'"),
        ("my model@1.0.0", "the name contains a space at position 2; write 'my-model@1.0.0'"),
        ("team\\model@1.0.0", "the name contains a backslash at position 4; namespaces are separated by '/'"),
        ("/abs/x@1.0.0", "the name starts with '/'"),
        ("a\x00b@1.0.0", r"the name contains the control character '\x00' at position 1"),
        ("x@prod\x00", r"the alias contains the control character '\x00' at position 4"),
        ("a" * 129 + "@1.0.0", "the name is 129 characters long; names have at most 128 characters"),
        ("a/versions@1.0.0", "the name segment 'versions' is reserved"),
        ("x@LATEST", "write 'x@latest'"),
        ("x@Production", "write 'x@production'"),
        ("x@=1.2.3", "write 'x@==1.2.3'"),
        ("x@>= 1.2", "write 'x@>=1.2'"),
        ("x@~>1.2", "write 'x@~1.2'"),
        ("x@^1.x", "the minor version is the wildcard 'x'"),
        ("x@!=1.0.0", "'!=' is not supported"),
        ("x@*", "'*' is not a version, a range, an alias or a digest"),
        ("x@é", "'é' is not a version, a range, an alias or a digest"),
    ],
)
def test_invalid_references(text: str, fragment: str) -> None:
    """Each malformed reference raises InvalidReferenceError that names the problem and keeps the text."""
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    assert fragment in str(info.value)
    assert text == info.value.reference


def test_reference_error_without_a_fix_shows_the_valid_forms() -> None:
    """When no correction is obvious, the message lists what valid references look like."""
    with pytest.raises(InvalidReferenceError, match=r"a reference looks like 'name', 'name@latest', 'name@1\.2\.0'"):
        parse_reference("@1.0.0")


def test_reference_error_shortens_long_input() -> None:
    """A huge input is shown shortened, with its length, rather than in full."""
    text = "x@" + "1" * 100_000
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    assert "(100002 characters)" in str(info.value)
    assert len(str(info.value)) < 1000


@no_deadline
@given(fuzz_texts)
def test_parse_reference_raises_only_invalid_reference_error(text: str) -> None:
    """Any string parses or raises InvalidReferenceError; what parses round-trips; every suggested fix parses."""
    error: InvalidReferenceError | None = None
    try:
        reference = parse_reference(text)
    except InvalidReferenceError as raised:
        error = raised
    if error is None:
        assert reference == parse_reference(str(reference))
    else:
        assert text == error.reference
        fix = suggested_fix(str(error))
        if fix is not None:
            parse_reference(fix)


@no_deadline
@given(fuzz_texts)
def test_other_parsers_raise_only_invalid_reference_error(text: str) -> None:
    """validate_name, validate_alias, VersionRange.parse and SemVer.parse raise nothing but InvalidReferenceError."""
    for parse in (validate_name, validate_alias, VersionRange.parse, SemVer.parse):
        try:
            parse(text)
        except InvalidReferenceError as error:
            fix = suggested_fix(str(error))
            if fix is not None:
                parse(fix)


@no_deadline
@given(references())
def test_valid_references_round_trip(reference: Reference) -> None:
    """parse_reference(str(ref)) == ref for every valid reference."""
    assert reference == parse_reference(str(reference))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "x", "kind": "version", "spec": "1.2.0"},
        {"name": "x", "kind": "version", "spec": "1.2.0", "version": SemVer(1, 3, 0)},
        {"name": "x", "kind": "latest", "spec": "latest", "alias": "production"},
        {"name": "x", "kind": "latest", "spec": "1.0.0"},
        {"name": "x", "kind": "alias", "spec": "prod", "alias": "production"},
        {"name": "x", "kind": "branch", "spec": "main"},
        {"name": "X", "kind": "latest", "spec": "latest"},
    ],
)
def test_reference_refuses_inconsistent_fields(kwargs: dict[str, object]) -> None:
    """A Reference whose fields disagree with its kind or spec, or with an invalid name, cannot be built."""
    with pytest.raises(InvalidReferenceError):
        Reference(**kwargs)  # type: ignore[arg-type]


def test_parse_reference_refuses_non_strings() -> None:
    """A reference that is not a str is a TypeError."""
    with pytest.raises(TypeError):
        parse_reference(None)  # type: ignore[arg-type]
