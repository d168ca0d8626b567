"""Model names, aliases, version ranges and references (``name[@spec]``; docs/architecture.md, "References").

==============================  ==========================================================================
reference                       resolves to
==============================  ==========================================================================
``name``, ``name@latest``       the highest released version
``name@1.2.0``                  exactly that SemVer 2.0.0 version (see :class:`~modelver.registry.semver.SemVer`)
``name@^1.2``, ``name@~1.2.3``  the highest version in the range (see :class:`VersionRange`)
``name@>=1.2,<2``
``name@production``             the version the alias points to now
``name@blake3:3f9a01bc``        the version whose manifest digest starts so (at least 8 hex digits)
==============================  ==========================================================================

Parsing is strict and never guesses: every malformed input raises :class:`~modelver.errors.InvalidReferenceError`
whose message names the exact problem and, when an obvious correction exists, the corrected text.
"""

from __future__ import annotations

import operator
import re
import string
import unicodedata
from collections.abc import Callable
from typing import Literal, TypeVar

import attrs

from modelver.errors import InvalidReferenceError
from modelver.registry.semver import (
    InvalidFragmentError,
    PrecedenceKey,
    SemVer,
    format_error,
    parse_number,
    parse_prerelease,
    parse_semver,
    repair_version,
    show,
)
from modelver.store.digest import ALGORITHMS, DEFAULT_ALGORITHM, HEX_LENGTH

__all__ = [
    "LATEST",
    "MAX_ALIAS_LENGTH",
    "MAX_NAME_LENGTH",
    "MIN_DIGEST_PREFIX",
    "RESERVED_SEGMENTS",
    "Reference",
    "ReferenceKind",
    "VersionRange",
    "parse_reference",
    "validate_alias",
    "validate_name",
]

MAX_NAME_LENGTH = 128
MAX_ALIAS_LENGTH = 64
#: Fewer hex digits than this match too many manifests to be a useful prefix (git's short hashes start at 7).
MIN_DIGEST_PREFIX = 8
#: Segments that would collide with the store layout ``names/<name>/versions/...`` and ``names/<name>/events/...``.
RESERVED_SEGMENTS = frozenset({"versions", "events"})
#: The spec that means "the highest released version"; also what a reference without ``@`` means.
LATEST = "latest"

ReferenceKind = Literal["latest", "version", "range", "alias", "digest"]
Comparator = tuple[str, SemVer]

_LOWER = frozenset(string.ascii_lowercase)
_DIGITS = frozenset(string.digits)
_HEX = frozenset(string.hexdigits.lower())
_SEGMENT_START = _LOWER | _DIGITS
_NAME_CHARS = _SEGMENT_START | frozenset("._-/")
_ALIAS_CHARS = _LOWER | _DIGITS | frozenset("_-")
_RANGE_START = frozenset("^~<>=!")
# Two-character operators first, so that the longest operator wins (">=1" is not ">" then "=1").
_OPERATORS = (">=", "<=", "==", ">", "<", "^", "~")
_COMPARE: dict[str, Callable[[PrecedenceKey, PrecedenceKey], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
# Operators from other ecosystems that people type by habit, and what to write here instead.
_FOREIGN_OPERATORS = (("~>", "~"), ("=>", ">="), ("=<", "<="), ("~=", "~"))

NAME_FORMS = (
    "a name looks like 'churn-model' or 'team/churn-model': lowercase letters, digits, '.', '_' and '-',"
    " with '/' between namespaces"
)
ALIAS_FORMS = (
    "an alias looks like 'production' or 'staging-eu': a lowercase letter, then lowercase letters, digits,"
    f" '_' or '-', at most {MAX_ALIAS_LENGTH} characters"
)
RANGE_FORMS = "a range looks like '^1.2', '~1.2.3', '>=1.2,<2', '>1.0.0', '<=2' or '==1.2.3'"
REFERENCE_FORMS = (
    "a reference looks like 'name', 'name@latest', 'name@1.2.0', 'name@^1.2', 'name@>=1.2,<2', 'name@production'"
    " or 'name@blake3:3f9a01bc'"
)

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------------------------
# Names and aliases


def _check_characters(text: str, what: str, allowed: frozenset[str]) -> None:
    """Raise for the first character of ``text`` outside ``allowed``, described so the user can find it."""
    if allowed.issuperset(text):
        return
    # Invisible characters first: they are the ones a user cannot see in their own input.
    for position, ch in enumerate(text):
        if not ch.isprintable() and ch != " ":
            kind = "control character" if unicodedata.category(ch) == "Cc" else "non-printing character"
            raise InvalidFragmentError(f"the {what} contains the {kind} {ch!r} at position {position}")
    for position, ch in enumerate(text):
        if ch in allowed:
            continue
        if ch == " ":
            raise InvalidFragmentError(f"the {what} contains a space at position {position}")
        if ch == "\\":
            hint = "; namespaces are separated by '/'" if "/" in allowed else ""
            raise InvalidFragmentError(f"the {what} contains a backslash at position {position}{hint}")
        if "A" <= ch <= "Z":
            raise InvalidFragmentError(f"the {what} has uppercase letters; only lowercase ones are allowed")
        if not ch.isascii():
            raise InvalidFragmentError(f"the {what} contains the non-ASCII character {ch!r} at position {position}")
        raise InvalidFragmentError(f"the {what} contains {ch!r} at position {position}, which is not allowed there")


def _check_name(name: str) -> None:
    if not name:
        raise InvalidFragmentError("the name is empty")
    _check_characters(name, "name", _NAME_CHARS)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidFragmentError(
            f"the name is {len(name)} characters long; names have at most {MAX_NAME_LENGTH} characters"
        )
    if name.startswith("/"):
        raise InvalidFragmentError("the name starts with '/'; a name is not an absolute path")
    for segment in name.split("/"):
        if not segment:
            raise InvalidFragmentError("the name has an empty segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidFragmentError(f"the name has a {segment!r} segment; a name is not a file path")
        if segment[0] not in _SEGMENT_START:
            raise InvalidFragmentError(
                f"the name segment {show(segment)} starts with {segment[0]!r}; every '/'-separated segment starts"
                " with a lowercase letter or a digit"
            )
        if segment in RESERVED_SEGMENTS:
            raise InvalidFragmentError(
                f"the name segment {segment!r} is reserved (the store keeps names/<name>/{segment}/ for itself);"
                " choose another word"
            )


def _looks_like_hex_digest(text: str) -> bool:
    # Hex with at least one digit, as long as a git short hash or more: a digest prefix or a git-scheme version.
    # Requiring a digit keeps ordinary words made of a-f ("defaced") usable.
    return len(text) >= 7 and _HEX.issuperset(text) and not _DIGITS.isdisjoint(text)


def _check_alias(alias: str) -> None:
    if not alias:
        raise InvalidFragmentError("the alias is empty")
    if alias[0] in _DIGITS:
        raise InvalidFragmentError("the alias starts with a digit, so it would read as a version")
    if alias[0] in _RANGE_START:
        raise InvalidFragmentError(f"the alias starts with {alias[0]!r}, so it would read as a range")
    # Characters with a meaning elsewhere in a reference, and why an alias cannot hold them.
    for ch, why in ((".", "a version"), (":", "a digest"), (",", "a range")):
        if ch in alias:
            raise InvalidFragmentError(f"the alias contains {ch!r}, so it would read as {why}")
    _check_characters(alias, "alias", _ALIAS_CHARS)
    if alias[0] not in _LOWER:
        raise InvalidFragmentError(f"the alias starts with {alias[0]!r}; an alias starts with a lowercase letter")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidFragmentError(
            f"the alias is {len(alias)} characters long; aliases have at most {MAX_ALIAS_LENGTH} characters"
        )
    if alias == LATEST:
        raise InvalidFragmentError(f"{LATEST!r} is reserved: it means the highest released version")
    if alias[0] == "v" and alias[1:2] in _DIGITS:
        raise InvalidFragmentError(
            f"the alias {show(alias)} looks like a version (versions are written '1.2.0', without 'v')"
        )
    if _looks_like_hex_digest(alias):
        raise InvalidFragmentError(f"the alias {show(alias)} looks like a digest prefix or a git commit")


def _repair_name(name: str) -> str:
    fixed = re.sub(r"\s+", "-", name.strip().lower().replace("\\", "/"))
    # Dropping empty segments turns "/x", "x/" and "a//b" into names; "." and ".." are left for the error.
    return "/".join(segment for segment in fixed.split("/") if segment)


def _repair_alias(alias: str) -> str:
    return re.sub(r"\s+", "-", alias.strip().lower())


def _suggest(text: str, repair: Callable[[str], str], check: Callable[[str], object]) -> str | None:
    """``repair(text)`` when that differs from ``text`` and passes ``check``, else ``None``."""
    fix = repair(text)
    if fix == text:
        return None
    try:
        check(fix)
    except InvalidFragmentError:
        return None
    return fix


def _boundary(what: str, text: str, parse: Callable[[str], T], repair: Callable[[str], str], forms: str) -> T:
    """Run ``parse``; turn its :class:`InvalidFragmentError` into one :class:`InvalidReferenceError` message."""
    if not isinstance(text, str):
        raise TypeError(f"a {what} is a str, not {type(text).__name__}")
    try:
        return parse(text)
    except InvalidFragmentError as error:
        message = format_error(what, text, error.problem, _suggest(text, repair, parse), forms)
        raise InvalidReferenceError(message, reference=text) from None


def validate_name(name: str) -> str:
    """Check a model name and return it unchanged.

    A name is one or more segments separated by ``/`` (namespaces), each matching ``[a-z0-9][a-z0-9._-]*``, none
    of them ``versions`` or ``events`` (:data:`RESERVED_SEGMENTS`), at most :data:`MAX_NAME_LENGTH` characters in
    all. Stricter than "lowercase letters, digits, ``-``, ``_``, ``.``": a segment starts with a letter or digit, so
    no segment is ``.``, ``..`` or a hidden directory once the name becomes a store path.

    Args:
        name: e.g. ``"churn-model"``, ``"team/churn-model"``, ``"bert-base.v2"``.

    Returns:
        ``name``.

    Raises:
        InvalidReferenceError: the message names the problem (an uppercase letter, a space, a backslash, an
            absolute path, a ``..`` or empty segment, a control character, shown escaped, or the length) and
            suggests a corrected name when one is obvious.
        TypeError: ``name`` is not a ``str``.
    """
    _boundary("name", name, _check_name, _repair_name, NAME_FORMS)
    return name


def validate_alias(alias: str) -> str:
    """Check an alias (a movable label such as ``production``) and return it unchanged.

    An alias matches ``[a-z][a-z0-9_-]{0,63}``, so it never reads as a version (digits and dots), a range
    (operators) or a digest (``algo:hex``). It is also not ``latest``, not ``v`` followed by a digit (``v2`` reads
    as a version), and not a run of at least 7 hex characters with a digit in it (reads as a digest prefix or a git
    commit).

    Args:
        alias: e.g. ``"production"``, ``"staging-eu"``, ``"champion_2024"``.

    Returns:
        ``alias``.

    Raises:
        InvalidReferenceError: the alias breaks one of the rules above; the message says which.
        TypeError: ``alias`` is not a ``str``.
    """
    _boundary("alias", alias, _check_alias, _repair_alias, ALIAS_FORMS)
    return alias


# ---------------------------------------------------------------------------------------------------------------
# Ranges

_Partial = tuple[int, int | None, int | None, tuple[int | str, ...]]


def _parse_partial(text: str) -> _Partial:
    """Parse ``MAJOR[.MINOR[.PATCH[-PRERELEASE]]]``; missing parts are ``None``."""
    if text[0] in ("v", "V") and text[1:2] in _DIGITS:
        raise InvalidFragmentError(f"a version has no {text[0]!r} prefix (SemVer 2.0.0 FAQ)")
    if "+" in text:
        raise InvalidFragmentError("a range holds no build metadata ('+...'): precedence ignores it (SemVer 2.0.0 §10)")
    core, dash, pre_text = text.partition("-")
    parts = core.split(".")
    if len(parts) > 3:
        raise InvalidFragmentError(f"{show(core)} has {len(parts)} parts; a version has at most MAJOR.MINOR.PATCH")
    numbers = [parse_number(part, label) for part, label in zip(parts, ("major", "minor", "patch"), strict=False)]
    if dash and len(parts) < 3:
        full = ".".join([*parts, "0", "0"][:3]) + "-" + pre_text
        raise InvalidFragmentError(f"a pre-release needs a full version ({show(full)}, not {show(text)})")
    prerelease = parse_prerelease(pre_text) if dash else ()
    minor = numbers[1] if len(numbers) > 1 else None
    patch = numbers[2] if len(numbers) > 2 else None
    return numbers[0], minor, patch, prerelease


def _expand(op: str, partial: _Partial) -> list[Comparator]:
    """Turn one operator and a (partial) version into plain comparators; the rules are in :class:`VersionRange`."""
    major, minor, patch, pre = partial
    low = SemVer(major, minor or 0, patch or 0, pre)
    # The first version above everything the partial covers: 1 -> 2.0.0, 1.2 -> 1.3.0 (1.2.3 covers only itself).
    above = SemVer(major + 1, 0, 0) if minor is None else SemVer(major, minor + 1, 0)
    full = patch is not None
    if op in (">=", "<"):
        return [(op, low)]
    if op == ">":
        return [(">", low)] if full else [(">=", above)]
    if op == "<=":
        return [("<=", low)] if full else [("<", above)]
    if op == "==":
        return [("==", low)] if full else [(">=", low), ("<", above)]
    if op == "~":
        return [(">=", low), ("<", above)]
    # "^": up to, not including, the next change of the left-most non-zero part; a part that is absent counts as
    # free, so ^0 -> <1.0.0 and ^0.0 -> <0.1.0 (npm, cargo).
    if major > 0 or minor is None:
        upper = SemVer(major + 1, 0, 0)
    elif minor > 0 or patch is None:
        upper = SemVer(0, minor + 1, 0)
    else:
        upper = SemVer(0, 0, patch + 1)
    return [(">=", low), ("<", upper)]


def _parse_comparator(part: str) -> list[Comparator]:
    for foreign, native in _FOREIGN_OPERATORS:
        if part.startswith(foreign):
            raise InvalidFragmentError(f"{foreign!r} is not an operator here; write {native!r}")
    if part.startswith("!="):
        raise InvalidFragmentError("'!=' is not supported; a range is an interval")
    op = next((candidate for candidate in _OPERATORS if part.startswith(candidate)), None)
    if op is None:
        if part[0] == "=":
            raise InvalidFragmentError("a single '=' is not an operator; write '==' for an exact version")
        if part[0] in "*xX":
            raise InvalidFragmentError(f"the wildcard {part[0]!r} is not supported; write '>=0.0.0' or '^1'")
        raise InvalidFragmentError(
            f"the comparator {show(part)} does not start with an operator (^, ~, >=, >, <=, < or ==)"
        )
    version = part[len(op) :]
    if not version:
        raise InvalidFragmentError(f"the operator {op!r} has no version after it")
    if version[0] in _RANGE_START:
        raise InvalidFragmentError(f"the comparator {show(part)} has two operators")
    return _expand(op, _parse_partial(version))


def _parse_comparators(text: str) -> tuple[Comparator, ...]:
    if not text:
        raise InvalidFragmentError("the range is empty")
    if any(ch.isspace() for ch in text):
        raise InvalidFragmentError("the range contains whitespace; write its comparators without spaces, joined by ','")
    if "||" in text:
        raise InvalidFragmentError("'||' (a union of ranges) is not supported; ask for one range")
    comparators: list[Comparator] = []
    for part in text.split(","):
        if not part:
            raise InvalidFragmentError("the range has an empty comparator (a ',' with nothing on one side)")
        comparators += _parse_comparator(part)
    return tuple(comparators)


def _repair_range(text: str) -> str:
    # Glue operators to their versions ("> = 1" is beyond help, ">= 1" is not), then split on spaces and commas.
    glued = re.sub(r"(>=|<=|==|=>|=<|~>|~=|[\^~<>=])\s+", r"\1", text.strip())
    fixed: list[str] = []
    for part in re.split(r"[\s,]+", glued):
        if not part:
            continue
        for foreign, native in _FOREIGN_OPERATORS:
            if part.startswith(foreign):
                part = native + part[len(foreign) :]
        if part.startswith("=") and not part.startswith("=="):
            part = "=" + part
        op = next((candidate for candidate in _OPERATORS if part.startswith(candidate)), "")
        fixed.append(op + repair_version(part[len(op) :], pad=False))
    return ",".join(fixed)


def _check_comparators(
    instance: VersionRange, attribute: attrs.Attribute[tuple[Comparator, ...]], value: tuple[Comparator, ...]
) -> None:
    for op, version in value:
        if op not in _COMPARE:
            raise InvalidReferenceError(
                f"unknown comparison {op!r}; a VersionRange holds only {', '.join(_COMPARE)}", reference=op
            )
        if not isinstance(version, SemVer):
            raise TypeError(f"a comparator compares with a SemVer, not {type(version).__name__}")


@attrs.frozen
class VersionRange:
    """A set of SemVer versions: the intersection of comparators, written as in npm and cargo.

    Comparators are joined by ``,`` with no spaces (``>=1.2,<2``). Each is an operator and a version in which
    MINOR and PATCH may be left out. A partial version stands for every version it covers (``1.2`` is ``1.2.x``),
    as in npm (https://github.com/npm/node-semver#ranges) and cargo (https://docs.rs/semver, ``Op``); for ``>=``
    and ``<`` that is the same as filling in zeros, for the other operators it is not:

    - caret, "compatible": changes that keep the left-most non-zero part of MAJOR.MINOR.PATCH, a part left out
      being free: ``^1.2.3`` -> ``>=1.2.3,<2.0.0``; ``^0.2.3`` -> ``>=0.2.3,<0.3.0``; ``^0.0.3`` ->
      ``>=0.0.3,<0.0.4``; ``^1.2`` -> ``>=1.2.0,<2.0.0``; ``^0.0`` -> ``>=0.0.0,<0.1.0``; ``^0`` -> ``>=0.0.0,<1.0.0``;
    - tilde, "reasonably close": patch changes when MINOR is given, minor changes when not: ``~1.2.3`` ->
      ``>=1.2.3,<1.3.0``; ``~1.2`` -> ``>=1.2.0,<1.3.0``; ``~1`` -> ``>=1.0.0,<2.0.0``;
    - ``>=`` and ``<`` bound at the lowest version covered: ``>=1.2`` -> ``>=1.2.0``; ``<2`` -> ``<2.0.0``;
    - ``>`` and ``<=`` bound above everything covered: ``>1.2`` -> ``>=1.3.0``; ``<=2`` -> ``<3.0.0`` (so
      ``2.5.0`` is in ``<=2``); with a full version they are plain: ``>1.0.0``, ``<=1.2.3``;
    - ``==`` is exact for a full version (``==1.2.3``) and covers the rest otherwise: ``==1.2`` ->
      ``>=1.2.0,<1.3.0``.

    A pre-release identifier may follow a full version only (``^1.2.3-rc.1`` -> ``>=1.2.3-rc.1,<2.0.0``). Build
    metadata is refused: precedence ignores it (SemVer 2.0.0 §10). Not supported, with an error that says so:
    wildcards (``1.x``, ``*``), hyphen ranges (``1.2 - 2``), unions (``||``), ``!=``.

    Attributes:
        text: the range as written; ``str(range)`` returns it.
        comparators: the expanded comparators, ``(op, version)`` with op one of ``<``, ``<=``, ``>``, ``>=``, ``==``,
            all of which a version must satisfy.
    """

    text: str
    comparators: tuple[Comparator, ...] = attrs.field(validator=_check_comparators)

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Parse a range such as ``^1.2``, ``~1.2.3``, ``>=1.2,<2`` or ``==1.2.3`` (rules in the class docstring).

        Raises:
            InvalidReferenceError: ``text`` is not a range; the message names the problem and the corrected range
                when one is obvious (``>= 1.2`` -> ``>=1.2``, ``=1.2.3`` -> ``==1.2.3``).
            TypeError: ``text`` is not a ``str``.
        """
        return cls(text, _boundary("range", text, _parse_comparators, _repair_range, RANGE_FORMS))

    def __str__(self) -> str:
        """The range as written."""
        return self.text

    def contains(self, version: SemVer) -> bool:
        """Whether ``version`` satisfies every comparator, by SemVer precedence (build metadata ignored, §10).

        Pre-releases follow npm's rule: a pre-release matches only when some comparator names a pre-release of the
        same ``MAJOR.MINOR.PATCH``. So ``^1.2`` matches no pre-release at all (not ``2.0.0-rc.1``, though it sorts
        below ``2.0.0``, nor ``1.5.0-beta``), while ``>=1.2.3-rc.1`` matches ``1.2.3-rc.2`` but not ``1.2.4-rc.1``:
        asking for one release's pre-releases does not opt in to everybody's.

        Args:
            version: the candidate.

        Returns:
            ``True`` when ``version`` is in the range.
        """
        key = version.precedence_key()
        if not all(_COMPARE[op](key, bound.precedence_key()) for op, bound in self.comparators):
            return False
        if not version.is_prerelease:
            return True
        release = (version.major, version.minor, version.patch)
        return any(
            bound.is_prerelease and (bound.major, bound.minor, bound.patch) == release for _, bound in self.comparators
        )


# ---------------------------------------------------------------------------------------------------------------
# References


def _check_name_field(instance: Reference, attribute: attrs.Attribute[str], value: str) -> None:
    validate_name(value)


@attrs.frozen
class Reference:
    """A parsed ``name[@spec]``: which model, and which of its versions (docs/architecture.md, "References").

    Build one with :func:`parse_reference`; ``parse_reference(str(ref)) == ref``. Exactly the field named by
    ``kind`` is set: ``version`` for ``"version"``, ``range`` for ``"range"``, ``alias`` for ``"alias"``,
    ``digest_prefix`` for ``"digest"``, none for ``"latest"``.

    Attributes:
        name: the model name (see :func:`validate_name`).
        kind: ``"latest"``, ``"version"``, ``"range"``, ``"alias"`` or ``"digest"``.
        spec: the text after ``@`` (``"latest"`` when there was no ``@``).
        version: the exact version, for ``kind == "version"``.
        range: the range, for ``kind == "range"``.
        alias: the alias, for ``kind == "alias"``.
        digest_prefix: ``"algo:hex"`` with at least 8 lowercase hex digits, for ``kind == "digest"``.

    Raises:
        InvalidReferenceError: (on construction) an invalid name, or fields that disagree with ``kind``/``spec``.
    """

    name: str = attrs.field(validator=_check_name_field)
    kind: ReferenceKind
    spec: str
    version: SemVer | None = None
    range: VersionRange | None = None
    alias: str | None = None
    digest_prefix: str | None = None

    def __attrs_post_init__(self) -> None:
        """Refuse fields that disagree with ``kind``, so that a Reference always means one thing."""
        spec_of_kind: dict[str, object] = {
            "latest": LATEST,
            "version": None if self.version is None else str(self.version),
            "range": None if self.range is None else self.range.text,
            "alias": self.alias,
            "digest": self.digest_prefix,
        }
        others = {"version": self.version, "range": self.range, "alias": self.alias, "digest": self.digest_prefix}
        others.pop(self.kind, None)
        if (
            self.kind not in spec_of_kind
            or spec_of_kind[self.kind] != self.spec
            or any(value is not None for value in others.values())
        ):
            raise InvalidReferenceError(
                f"inconsistent Reference (kind={self.kind!r}, spec={self.spec!r}); build references with"
                " parse_reference()",
                reference=str(self),
            )

    def __str__(self) -> str:
        """``name@spec``."""
        return f"{self.name}@{self.spec}"


def _parse_digest_prefix(spec: str) -> str:
    algorithm, _, hex_part = spec.partition(":")
    if algorithm not in ALGORITHMS:
        raise InvalidFragmentError(
            f"unknown digest algorithm {show(algorithm)}; a digest starts with {' or '.join(ALGORITHMS)}"
        )
    if not hex_part:
        raise InvalidFragmentError(f"there are no hex digits after '{algorithm}:'")
    bad = next((ch for ch in hex_part if ch not in _HEX), None)
    if bad is not None:
        if bad in "ABCDEF":
            raise InvalidFragmentError("digest hex digits are lowercase")
        raise InvalidFragmentError(f"the digest contains {bad!r}, which is not a hex digit")
    full = HEX_LENGTH.get(algorithm, 64)
    if len(hex_part) < MIN_DIGEST_PREFIX:
        raise InvalidFragmentError(
            f"the digest prefix has {len(hex_part)} hex digit{'s' if len(hex_part) > 1 else ''}; give at least"
            f" {MIN_DIGEST_PREFIX} (up to all {full}) so that it picks out one version"
        )
    if len(hex_part) > full:
        raise InvalidFragmentError(f"the digest has {len(hex_part)} hex digits; a {algorithm} digest has {full}")
    return spec


def _parse_spec(name: str, spec: str) -> Reference:
    """The Reference for ``name`` and the (non-empty) text after ``@``."""
    if spec == LATEST:
        return Reference(name, "latest", spec)
    first = spec[0]
    if first in _RANGE_START:
        return Reference(name, "range", spec, range=VersionRange(spec, _parse_comparators(spec)))
    if first in _DIGITS:
        if not _RANGE_START.isdisjoint(spec) or "," in spec:
            raise InvalidFragmentError(
                "a range starts with an operator, and so does each comparator in it (e.g. '>=1.2,<2')"
            )
        core = spec.partition("+")[0].partition("-")[0]
        if len(core.split(".")) < 3 and all(part and _DIGITS.issuperset(part) for part in core.split(".")):
            full = ".".join([*core.split("."), "0", "0"][:3])
            raise InvalidFragmentError(
                f"{show(spec)} is a partial version; write {show(full)} for that exact version, or a range such as"
                f" {show('~' + spec)} or {show('^' + spec)}"
            )
        if _looks_like_hex_digest(spec) and not _DIGITS.issuperset(spec):
            raise InvalidFragmentError(
                f"this looks like a digest prefix without its algorithm ({show(DEFAULT_ALGORITHM + ':' + spec)})"
            )
        return Reference(name, "version", spec, version=parse_semver(spec))
    if first in ("v", "V") and spec[1:2] in _DIGITS:
        raise InvalidFragmentError(f"a version has no {first!r} prefix (SemVer 2.0.0 FAQ)")
    # Digest algorithm names start with a letter, so a digit-first spec above was never a digest.
    if ":" in spec:
        return Reference(name, "digest", spec, digest_prefix=_parse_digest_prefix(spec))
    if first.isascii() and first.isalpha():
        _check_alias(spec)
        return Reference(name, "alias", spec, alias=spec)
    raise InvalidFragmentError(f"{show(spec)} is not a version, a range, an alias or a digest")


def _parse_reference(text: str) -> Reference:
    if not text:
        raise InvalidFragmentError("the reference is empty")
    ats = text.count("@")
    if ats > 1:
        raise InvalidFragmentError(f"the reference has {ats} '@'; a reference is NAME or NAME@SPEC, with one '@'")
    name, at, spec = text.partition("@")
    if not name:
        raise InvalidFragmentError("there is no name before '@'")
    _check_name(name)
    if not at:
        return Reference(name, "latest", LATEST)
    if not spec:
        raise InvalidFragmentError("there is nothing after '@'")
    if any(ch.isspace() for ch in spec):
        hyphen = "; a hyphen range 'A - B' is written '>=A,<=B'" if " - " in spec else ""
        raise InvalidFragmentError(f"the text after '@' contains whitespace{hyphen}")
    return _parse_spec(name, spec)


def _repair_spec(spec: str) -> str:
    fixed = spec.strip()
    if not fixed:
        return LATEST
    if fixed[0] in _RANGE_START:
        return _repair_range(fixed)
    if fixed[0] in _DIGITS or (fixed[0] in ("v", "V") and fixed[1:2] in _DIGITS):
        fixed = repair_version(fixed, pad=False)  # "x@1.2": exact 1.2.0 or a range? The message asks.
    else:
        fixed = _repair_alias(fixed)  # lowercasing also repairs "LATEST" and "BLAKE3:3F9A01BC"
    if _looks_like_hex_digest(fixed):
        return f"{DEFAULT_ALGORITHM}:{fixed}"
    return fixed


def _repair_reference(text: str) -> str:
    name, at, spec = text.partition("@")
    if not at:
        return _repair_name(name)
    return f"{_repair_name(name)}@{_repair_spec(spec.lstrip('@'))}"


def parse_reference(text: str) -> Reference:
    """Parse a reference: ``name[@spec]``.

    Valid forms: ``name``, ``name@latest``, ``name@1.2.0``, ``name@^1.2``, ``name@>=1.2,<2``, ``name@production``,
    ``name@blake3:3f9a01bc``. The spec is read as ``latest``; as a range when it starts with an operator
    (``^ ~ > < =``); as a digest prefix when it holds ``:``; as an exact SemVer 2.0.0 version when it starts with a
    digit; otherwise as an alias. Versions take no ``v`` prefix (``name@v1.2.0`` is refused with "write
    'name@1.2.0'"), and a partial version without an operator (``name@1.2``) is refused rather than guessed at.

    Args:
        text: the reference.

    Returns:
        The parsed :class:`Reference`; resolving it against a store is the registry's job.

    Raises:
        InvalidReferenceError: for any malformed string, and nothing else for any string; ``reference`` is
            ``text`` and the message says what was wrong and what a valid reference looks like.
        TypeError: ``text`` is not a ``str``.
    """
    return _boundary("reference", text, _parse_reference, _repair_reference, REFERENCE_FORMS)
