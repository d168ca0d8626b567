"""SemVer 2.0.0 versions: parse, print, order and bump.

Implements https://semver.org/spec/v2.0.0.html to the letter (``packaging`` implements PEP 440, a different
grammar and order). ``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``:

- numeric parts and numeric pre-release identifiers have no leading zeros (§2, §9);
- identifiers use only ``[0-9A-Za-z-]`` and are never empty (§9, §10);
- there is no ``v`` prefix: the spec's FAQ says "v1.2.3" is not a semantic version, and a store that accepted both
  would hold ``1.2.3`` and ``v1.2.3`` as two different versions.

Order: precedence as in §11, then build metadata as a tiebreak (see :meth:`SemVer.sort_key`), so the order is total
and agrees with ``==``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from modelver.errors import InvalidReferenceError

__all__ = ["SemVer"]

_DIGITS = frozenset("0123456789")
_IDENTIFIER_CHARS = _DIGITS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")
_PARTS = ("major", "minor", "patch")
VERSION_FORMS = "a version looks like '1.2.0', '1.2.0-rc.1' or '1.2.0+build.5' (SemVer 2.0.0)"

# Sort-key shapes. A pre-release identifier is (0, n, "") when numeric and (1, 0, s) when alphanumeric, so numeric
# identifiers sort numerically and before alphanumeric ones (§11.4.1-3). A build identifier is
# (0, digit count, digits without leading zeros, original) when numeric, else (1, 0, s, ""): numeric by value
# without converting to int (build identifiers may be arbitrarily long and keep their leading zeros), with the
# original text as the last resort so that "01" and "1" still differ, as they do under ==.
_PreKey = tuple[int, int, str]
_BuildKey = tuple[int, int, str, str]
PrecedenceKey = tuple[int, int, int, int, tuple[_PreKey, ...]]
SortKey = tuple[PrecedenceKey, tuple[_BuildKey, ...]]


class InvalidFragmentError(Exception):
    """What is wrong with a fragment of text; public entry points turn it into :class:`InvalidReferenceError`.

    Internal to the package: it never escapes a public function. Raising it where parsing fails and formatting it
    at the boundary lets one message name both the exact problem and the whole input (a version, range or reference).
    """

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def show(text: str, limit: int = 80) -> str:
    """``repr`` of ``text`` (so control characters show escaped), shortened when long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def format_error(what: str, text: str, problem: str, fix: str | None, forms: str) -> str:
    """One error message: what was wrong, then the corrected text when one is known, else the valid forms."""
    if fix is not None and fix != text:
        return f"invalid {what} {show(text)}: {problem}; write {show(fix)}, not {show(text)}"
    return f"invalid {what} {show(text)}: {problem}; {forms}"


def parse_number(part: str, label: str) -> int:
    """Parse a numeric part (``major``, ``minor``, ``patch``) with no leading zero (§2).

    Raises:
        InvalidFragmentError: ``part`` is empty, not ASCII digits, has a leading zero or is too long for ``int``.
    """
    if not part:
        raise InvalidFragmentError(f"the {label} version is empty")
    if part in ("x", "X", "*"):
        raise InvalidFragmentError(
            f"the {label} version is the wildcard {part!r}; wildcards are not supported (a range such as '~1.2'"
            " stands for 1.2.x)"
        )
    if not _DIGITS.issuperset(part):
        raise InvalidFragmentError(f"the {label} version {show(part)} is not a number")
    if len(part) > 1 and part[0] == "0":
        raise InvalidFragmentError(f"the {label} version {show(part)} has a leading zero (SemVer 2.0.0 §2)")
    return _to_int(part)


def _to_int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:
        # Python refuses to convert strings of more than sys.get_int_max_str_digits() digits.
        raise InvalidFragmentError(f"the number {show(digits, 20)} is too long") from None


def split_identifiers(text: str, kind: Literal["pre-release", "build"]) -> tuple[str, ...]:
    """Split and check the dot-separated identifiers after ``-`` (pre-release, §9) or ``+`` (build metadata, §10).

    Raises:
        InvalidFragmentError: an identifier is empty or holds a character outside ``[0-9A-Za-z-]``.
    """
    section = "§9" if kind == "pre-release" else "§10"
    if not text:
        sign = "-" if kind == "pre-release" else "+"
        raise InvalidFragmentError(f"the {kind} after {sign!r} is empty (SemVer 2.0.0 {section})")
    identifiers = tuple(text.split("."))
    for identifier in identifiers:
        if not identifier:
            raise InvalidFragmentError(f"the {kind} {show(text)} has an empty identifier (SemVer 2.0.0 {section})")
        bad = next((ch for ch in identifier if ch not in _IDENTIFIER_CHARS), None)
        if bad is not None:
            raise InvalidFragmentError(
                f"the {kind} identifier {show(identifier)} contains {bad!r}; identifiers use only ASCII letters,"
                f" digits and '-', separated by '.' (SemVer 2.0.0 {section})"
            )
    return identifiers


def parse_prerelease(text: str) -> tuple[int | str, ...]:
    """Parse a pre-release (the text after ``-``); numeric identifiers become ``int`` (§9).

    Raises:
        InvalidFragmentError: a malformed identifier, or a numeric one with a leading zero.
    """
    parsed: list[int | str] = []
    for identifier in split_identifiers(text, "pre-release"):
        if _DIGITS.issuperset(identifier):
            if len(identifier) > 1 and identifier[0] == "0":
                raise InvalidFragmentError(
                    f"the numeric pre-release identifier {show(identifier)} has a leading zero (SemVer 2.0.0 §9)"
                )
            parsed.append(_to_int(identifier))
        else:
            parsed.append(identifier)
    return tuple(parsed)


def parse_semver(text: str) -> SemVer:
    """Parse like :meth:`SemVer.parse` but raise :class:`InvalidFragmentError` (for callers with their own message)."""
    if not text:
        raise InvalidFragmentError("the version is empty")
    if text != text.strip():
        raise InvalidFragmentError("the version has surrounding whitespace")
    if text[0] in ("v", "V") and text[1:2] in _DIGITS:
        raise InvalidFragmentError(f"a version has no {text[0]!r} prefix (SemVer 2.0.0 FAQ)")
    # The core holds no '-' or '+', and pre-release identifiers hold no '+', so the first '+' starts the build
    # metadata and the first '-' the pre-release.
    rest, plus, build_text = text.partition("+")
    core, dash, pre_text = rest.partition("-")
    parts = core.split(".")
    if len(parts) != 3:
        raise InvalidFragmentError(
            f"{show(core)} has {len(parts)} part{'s' if len(parts) > 1 else ''}; a version needs all three of"
            " MAJOR.MINOR.PATCH (SemVer 2.0.0 §2)"
        )
    major, minor, patch = (parse_number(part, label) for part, label in zip(parts, _PARTS, strict=True))
    prerelease = parse_prerelease(pre_text) if dash else ()
    build = split_identifiers(build_text, "build") if plus else ()
    return SemVer(major, minor, patch, prerelease, build)


def _suggest_version(text: str) -> str | None:
    """The repaired ``text`` when the repair parses, else ``None``."""
    fix = repair_version(text)
    try:
        parse_semver(fix)
    except InvalidFragmentError:
        return None
    return fix


def repair_version(text: str, *, pad: bool = True) -> str:
    """Best-effort correction of a version: strip whitespace and a ``v`` prefix, drop leading zeros, pad to 3 parts.

    The result is only a suggestion for an error message; callers check that it parses. Never raises.
    """
    fixed = text.strip()
    if fixed[:1] in ("v", "V") and fixed[1:2] in _DIGITS:
        fixed = fixed[1:]
    rest, plus, build = fixed.partition("+")
    core, dash, pre = rest.partition("-")
    parts = core.split(".")
    if all(part and _DIGITS.issuperset(part) for part in parts):
        parts = [part.lstrip("0") or "0" for part in parts]
        if pad and len(parts) < 3:
            parts += ["0"] * (3 - len(parts))
    ids = [i.lstrip("0") or "0" if i and _DIGITS.issuperset(i) else i for i in pre.split(".")]
    return ".".join(parts) + (dash + ".".join(ids)) + plus + build


def _to_prerelease(identifiers: Iterable[int | str]) -> tuple[int | str, ...]:
    """Normalize pre-release identifiers: any iterable becomes a tuple, all-digit strings become ``int``.

    The spec makes an all-digit identifier numeric, so ``("rc", "1")`` and ``("rc", 1)`` are one version.
    """
    if isinstance(identifiers, str):
        raise TypeError(f"prerelease must be a tuple of identifiers, not the string {show(identifiers)}")
    normalized: list[int | str] = []
    for identifier in identifiers:
        if isinstance(identifier, str) and identifier and _DIGITS.issuperset(identifier):
            if len(identifier) > 1 and identifier[0] == "0":
                raise InvalidReferenceError(
                    f"the numeric pre-release identifier {show(identifier)} has a leading zero (SemVer 2.0.0 §9)",
                    reference=identifier,
                )
            try:
                normalized.append(_to_int(identifier))
            except InvalidFragmentError as error:
                raise InvalidReferenceError(error.problem, reference=identifier) from None
        else:
            normalized.append(identifier)
    return tuple(normalized)


def _to_build(identifiers: Iterable[str]) -> tuple[str, ...]:
    if isinstance(identifiers, str):
        raise TypeError(f"build must be a tuple of identifiers, not the string {show(identifiers)}")
    return tuple(identifiers)


def _check_number(instance: SemVer, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise InvalidReferenceError(f"{attribute.name} must be >= 0, not {value}", reference=str(value))


def _check_prerelease(
    instance: SemVer, attribute: attrs.Attribute[tuple[int | str, ...]], value: tuple[int | str, ...]
) -> None:
    for identifier in value:
        if isinstance(identifier, bool) or not isinstance(identifier, int | str):
            raise TypeError(f"pre-release identifiers are int or str, not {type(identifier).__name__}")
        if isinstance(identifier, int):
            if identifier < 0:
                raise InvalidReferenceError(
                    f"numeric pre-release identifiers are >= 0, not {identifier}", reference=str(identifier)
                )
        elif not identifier or not _IDENTIFIER_CHARS.issuperset(identifier):
            raise InvalidReferenceError(
                f"invalid pre-release identifier {show(identifier)}: identifiers are non-empty and use only ASCII"
                " letters, digits and '-' (SemVer 2.0.0 §9)",
                reference=identifier,
            )


def _check_build(instance: SemVer, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
    for identifier in value:
        if not isinstance(identifier, str):
            raise TypeError(f"build identifiers are str, not {type(identifier).__name__}")
        if not identifier or not _IDENTIFIER_CHARS.issuperset(identifier):
            raise InvalidReferenceError(
                f"invalid build identifier {show(identifier)}: identifiers are non-empty and use only ASCII"
                " letters, digits and '-' (SemVer 2.0.0 §10)",
                reference=identifier,
            )


@attrs.frozen(order=False)
class SemVer:
    """A SemVer 2.0.0 version (https://semver.org/spec/v2.0.0.html).

    ``parse(str(v)) == v`` for every ``v``. Comparison is by precedence (§11): ``major``, ``minor``, ``patch``
    numerically; a pre-release sorts before its release; pre-release identifiers compare one by one, numeric ones
    numerically and before alphanumeric ones, alphanumeric ones in ASCII order, and a longer list wins when all
    before it are equal. Versions of equal precedence that differ in build metadata (which §10 says precedence
    ignores) are then ordered by their build identifiers, compared the same way (a numeric identifier by value,
    then by its text, so ``+01`` and ``+1`` differ as they do under ``==``), with no build metadata sorting first.
    The order is therefore total and consistent with ``==``; use :meth:`precedence_key` for precedence alone.

    Attributes:
        major: incremented for incompatible changes.
        minor: incremented for backward compatible features.
        patch: incremented for backward compatible fixes.
        prerelease: pre-release identifiers (``1.0.0-rc.1`` -> ``("rc", 1)``); numeric ones are ``int``. Any
            iterable is accepted and all-digit strings are converted to ``int``.
        build: build metadata identifiers (``1.0.0+exp.sha.5114f85`` -> ``("exp", "sha", "5114f85")``).

    Raises:
        InvalidReferenceError: (on construction) a negative number or a malformed identifier.
        TypeError: (on construction) a field of the wrong type.
    """

    major: int = attrs.field(validator=_check_number)
    minor: int = attrs.field(validator=_check_number)
    patch: int = attrs.field(validator=_check_number)
    prerelease: tuple[int | str, ...] = attrs.field(default=(), converter=_to_prerelease, validator=_check_prerelease)
    build: tuple[str, ...] = attrs.field(default=(), converter=_to_build, validator=_check_build)

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse a strict SemVer 2.0.0 version string.

        Args:
            text: e.g. ``"1.2.0"``, ``"1.0.0-alpha.1"``, ``"1.0.0+20130313144700"``.

        Returns:
            The version.

        Raises:
            InvalidReferenceError: ``text`` is not SemVer 2.0.0: a ``v`` prefix, a missing or extra part, a
                leading zero, an empty identifier, a character outside ``[0-9A-Za-z-]``, surrounding whitespace.
                The message names the problem and, when it can, the corrected text ("write '1.2.0', not
                'v1.2.0'").
        """
        try:
            return parse_semver(text)
        except InvalidFragmentError as error:
            message = format_error("version", text, error.problem, _suggest_version(text), VERSION_FORMS)
            raise InvalidReferenceError(message, reference=text) from None

    def __str__(self) -> str:
        """``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``."""
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(identifier) for identifier in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def is_prerelease(self) -> bool:
        """Whether this is a pre-release (``1.0.0-rc.1``); build metadata does not count."""
        return bool(self.prerelease)

    def bump(self, part: Literal["major", "minor", "patch"]) -> SemVer:
        """The next release: pre-release and build metadata dropped, ``part`` incremented as npm's ``semver.inc`` does.

        A pre-release of exactly the release being bumped to is finished rather than skipped: ``1.2.3-rc.1`` bumps
        ``patch`` to ``1.2.3``, ``1.3.0-rc.1`` bumps ``minor`` to ``1.3.0`` and ``2.0.0-rc.1`` bumps ``major``
        to ``2.0.0``. Otherwise the part is incremented and the parts after it reset (``1.2.3`` -> ``1.3.0``).
        The result is always a release of higher precedence than ``self``.

        Args:
            part: ``"major"``, ``"minor"`` or ``"patch"``.

        Raises:
            InvalidReferenceError: ``part`` is not one of those.
        """
        pre = self.is_prerelease
        if part == "major":
            if pre and self.minor == 0 and self.patch == 0:
                return SemVer(self.major, 0, 0)
            return SemVer(self.major + 1, 0, 0)
        if part == "minor":
            if pre and self.patch == 0:
                return SemVer(self.major, self.minor, 0)
            return SemVer(self.major, self.minor + 1, 0)
        if part == "patch":
            return SemVer(self.major, self.minor, self.patch if pre else self.patch + 1)
        raise InvalidReferenceError(
            f"cannot bump {show(str(part))}; bump 'major', 'minor' or 'patch'", reference=str(part)
        )

    def precedence_key(self) -> PrecedenceKey:
        """A key that orders versions by SemVer precedence alone (§11); build metadata is ignored (§10).

        Two versions have equal precedence exactly when their keys are equal; ``1.0.0+a`` and ``1.0.0+b`` do.
        """
        if not self.prerelease:
            # A release outranks every pre-release of the same MAJOR.MINOR.PATCH (§11.3).
            return (self.major, self.minor, self.patch, 1, ())
        pre = tuple((0, i, "") if isinstance(i, int) else (1, 0, i) for i in self.prerelease)
        return (self.major, self.minor, self.patch, 0, pre)

    def sort_key(self) -> SortKey:
        """The key of the total order: precedence, then build metadata as a tiebreak (see the class docstring)."""
        build = tuple(
            (0, len(b.lstrip("0")), b.lstrip("0"), b) if _DIGITS.issuperset(b) else (1, 0, b, "") for b in self.build
        )
        return (self.precedence_key(), build)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.sort_key() <= other.sort_key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.sort_key() > other.sort_key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.sort_key() >= other.sort_key()
