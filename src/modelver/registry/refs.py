"""References (``name[@spec]``) and their parser (docs/architecture.md, "References").

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

Owns: :class:`Reference`, :func:`parse_reference` and the reading of the text after ``@`` (exact versions, digest
prefixes, and which kind a spec is). Names and aliases are checked in :mod:`modelver.registry.names`, ranges parsed
and matched in :mod:`modelver.registry.ranges`.
"""

from __future__ import annotations

from typing import Literal

import attrs

from modelver.errors import InvalidReferenceError
from modelver.registry.names import (
    DIGITS,
    HEX,
    LATEST,
    RANGE_START,
    boundary,
    check_alias,
    check_name,
    looks_like_hex_digest,
    repair_alias,
    repair_name,
    validate_name,
)
from modelver.registry.ranges import VersionRange, parse_comparators, repair_range
from modelver.registry.semver import InvalidFragmentError, SemVer, parse_semver, repair_version, show
from modelver.store.digest import ALGORITHMS, DEFAULT_ALGORITHM, HEX_LENGTH

__all__ = [
    "MIN_DIGEST_PREFIX",
    "Reference",
    "ReferenceKind",
    "parse_reference",
]

#: Fewer hex digits than this match too many manifests to be a useful prefix (git's short hashes start at 7).
MIN_DIGEST_PREFIX = 8

ReferenceKind = Literal["latest", "version", "range", "alias", "digest"]

REFERENCE_FORMS = (
    "a reference looks like 'name', 'name@latest', 'name@1.2.0', 'name@^1.2', 'name@>=1.2,<2', 'name@production'"
    " or 'name@blake3:3f9a01bc'"
)


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
    bad = next((ch for ch in hex_part if ch not in HEX), None)
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
    if first in RANGE_START:
        return Reference(name, "range", spec, range=VersionRange(spec, parse_comparators(spec)))
    if first in DIGITS:
        if not RANGE_START.isdisjoint(spec) or "," in spec:
            raise InvalidFragmentError(
                "a range starts with an operator, and so does each comparator in it (e.g. '>=1.2,<2')"
            )
        core = spec.partition("+")[0].partition("-")[0]
        if len(core.split(".")) < 3 and all(part and DIGITS.issuperset(part) for part in core.split(".")):
            full = ".".join([*core.split("."), "0", "0"][:3])
            raise InvalidFragmentError(
                f"{show(spec)} is a partial version; write {show(full)} for that exact version, or a range such as"
                f" {show('~' + spec)} or {show('^' + spec)}"
            )
        if looks_like_hex_digest(spec) and not DIGITS.issuperset(spec):
            raise InvalidFragmentError(
                f"this looks like a digest prefix without its algorithm ({show(DEFAULT_ALGORITHM + ':' + spec)})"
            )
        return Reference(name, "version", spec, version=parse_semver(spec))
    if first in ("v", "V") and spec[1:2] in DIGITS:
        raise InvalidFragmentError(f"a version has no {first!r} prefix (SemVer 2.0.0 FAQ)")
    # Digest algorithm names start with a letter, so a digit-first spec above was never a digest.
    if ":" in spec:
        return Reference(name, "digest", spec, digest_prefix=_parse_digest_prefix(spec))
    if first.isascii() and first.isalpha():
        check_alias(spec)
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
    check_name(name)
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
    if fixed[0] in RANGE_START:
        return repair_range(fixed)
    if fixed[0] in DIGITS or (fixed[0] in ("v", "V") and fixed[1:2] in DIGITS):
        fixed = repair_version(fixed, pad=False)  # "x@1.2": exact 1.2.0 or a range? The message asks.
    else:
        fixed = repair_alias(fixed)  # lowercasing also repairs "LATEST" and "BLAKE3:3F9A01BC"
    if looks_like_hex_digest(fixed):
        return f"{DEFAULT_ALGORITHM}:{fixed}"
    return fixed


def _repair_reference(text: str) -> str:
    name, at, spec = text.partition("@")
    if not at:
        return repair_name(name)
    return f"{repair_name(name)}@{_repair_spec(spec.lstrip('@'))}"


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
    return boundary("reference", text, _parse_reference, _repair_reference, REFERENCE_FORMS)
