"""Version ranges: the npm/cargo comparator grammar (``^1.2``, ``~1.2.3``, ``>=1.2,<2``) and matching against it.

Owns: :class:`VersionRange` (parsing a range into plain comparators, and :meth:`VersionRange.contains` with npm's
pre-release rule), and :func:`parse_comparators` / :func:`repair_range`, which the reference parser reuses for the
text after ``@``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

import attrs

from modelver.errors import InvalidReferenceError
from modelver.registry.names import DIGITS, RANGE_START, boundary
from modelver.registry.semver import (
    InvalidFragmentError,
    PrecedenceKey,
    SemVer,
    parse_number,
    parse_prerelease,
    repair_version,
    show,
)

__all__ = ["VersionRange"]

Comparator = tuple[str, SemVer]

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

RANGE_FORMS = "a range looks like '^1.2', '~1.2.3', '>=1.2,<2', '>1.0.0', '<=2' or '==1.2.3'"


_Partial = tuple[int, int | None, int | None, tuple[int | str, ...]]


def _parse_partial(text: str) -> _Partial:
    """Parse ``MAJOR[.MINOR[.PATCH[-PRERELEASE]]]``; missing parts are ``None``."""
    if text[0] in ("v", "V") and text[1:2] in DIGITS:
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
    if version[0] in RANGE_START:
        raise InvalidFragmentError(f"the comparator {show(part)} has two operators")
    return _expand(op, _parse_partial(version))


def parse_comparators(text: str) -> tuple[Comparator, ...]:
    """The comparators of a range such as ``>=1.2,<2``; :class:`InvalidFragmentError` says what is wrong."""
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


def repair_range(text: str) -> str:
    """The range a user most likely meant (operators glued to versions, joined by ``,``), for suggestions."""
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
        return cls(text, boundary("range", text, parse_comparators, repair_range, RANGE_FORMS))

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
