"""Version tags and reference resolution: from ``"name@spec"`` to one concrete version and manifest digest.

Resolution reads version *tags* (small objects listed per name) and never a manifest, so it costs one listing and
one read whatever the size of the bundles. Nothing is cached in the process: every resolve sees tags another
process has just created.
"""

from __future__ import annotations

import bisect
import difflib
import json
import warnings

import attrs

from ._refs import Reference, parse_reference
from ._semver import SemVer
from ._serde import canonical_json, from_json_dict, to_json_dict
from ._store import Store
from .errors import IntegrityError, InvalidReferenceError, StoreError, VersionNotFoundError
from .manifest import CreatedBy

TAG_SCHEMA = "modelver.tag/1"


@attrs.frozen
class VersionTag:
    """The commit point of a version: which manifest ``name@version`` names, when and by whom it was published.

    Attributes:
        name: model name.
        version: SemVer 2.0.0 string.
        manifest: digest of the manifest.
        created_at: RFC 3339 UTC time of publication.
        created_by: user and host that published.
    """

    name: str
    version: str
    manifest: str
    created_at: str
    created_by: CreatedBy
    schema: str = TAG_SCHEMA

    def to_bytes(self) -> bytes:
        """Canonical JSON of the tag (never empty: an empty create is unconditional on S3)."""
        return canonical_json(to_json_dict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> VersionTag:
        """Parse a stored tag.

        Raises:
            StoreError: the bytes are not a version tag.
        """
        try:
            return from_json_dict(json.loads(data), cls)
        except Exception as exc:
            raise StoreError(f"a version tag in the store is not valid JSON of {TAG_SCHEMA}: {exc}") from exc


def sorted_versions(store: Store, name: str) -> list[SemVer]:
    """Every version of ``name`` in SemVer precedence order, lowest first."""
    out = []
    for text in store.list_versions(name):
        try:
            out.append(SemVer.parse(text))
        except InvalidReferenceError:
            warnings.warn(f"ignoring {name}@{text} in {store.url}: not a SemVer version", stacklevel=2)
    return sorted(out)


def read_tag(store: Store, name: str, version: str) -> VersionTag:
    """Read the tag of ``name@version``.

    Raises:
        VersionNotFoundError: there is no such version.
        IntegrityError: the tag names another version than its place in the store (a copied or forged tag).
    """
    tag = VersionTag.from_bytes(store.read_tag(name, version))
    if (tag.name, tag.version) != (name, version):
        raise IntegrityError(
            f"the tag stored as {name}@{version} in {store.url} says {tag.name}@{tag.version}; it was copied or "
            "forged. Remove it, and run `modelver verify` on the real version",
            digest=tag.manifest,
            location=store.tag_path(name, version),
        )
    return tag


def _nearest(versions: list[SemVer], target: SemVer, count: int = 3) -> tuple[str, ...]:
    at = bisect.bisect_left(versions, target)
    return tuple(str(v) for v in versions[max(0, at - count) : at + count])


def unknown_name(store: Store, name: str) -> VersionNotFoundError:
    """The error for a name with no versions: it names close or existing names, and where failed runs are."""
    names = store.list_names()
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        hint = f"did you mean {', '.join(close)}?"
    elif names:
        hint = f"names in this store: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
    else:
        hint = "the store has no versions yet; publish one with modelver.track()"
    if store.has_runs():
        hint += " (runs that published nothing are listed by `modelver runs`)"
    return VersionNotFoundError(
        f"no model named {name!r} in {store.url}; {hint}", reference=name, available=tuple(close or names[:10])
    )


def resolve(store: Store, reference: str | Reference) -> VersionTag:
    """Resolve a reference to the tag of one concrete version.

    ``name`` / ``name@latest``: the highest release (pre-releases are not releases); ``name@1.2.0``: exactly
    that; a range (``^1.2``, ``~1.2.3``, ``>=1.2,<2``): the highest release inside it; a digest prefix
    (``name@blake3:3f9a01bc``): the version whose manifest digest starts so; aliases arrive with promotion.

    Raises:
        InvalidReferenceError: the reference is malformed, or a digest prefix matches several versions.
        VersionNotFoundError: nothing matches; the message lists what exists, nearest first.
    """
    ref = reference if isinstance(reference, Reference) else parse_reference(reference)
    versions = sorted_versions(store, ref.name)
    if not versions:
        raise unknown_name(store, ref.name)
    shown = ", ".join(str(v) for v in versions[-5:])
    if ref.kind == "version":
        assert ref.version is not None
        if ref.version not in versions:
            nearest = _nearest(versions, ref.version)
            raise VersionNotFoundError(
                f"{ref.name}@{ref.version} does not exist; nearest versions: {', '.join(nearest)}",
                reference=str(ref),
                available=nearest,
            )
        return read_tag(store, ref.name, str(ref.version))
    if ref.kind in ("latest", "range"):
        candidates = [v for v in versions if (ref.range.contains(v) if ref.range else not v.is_prerelease)]
        if not candidates:
            what = f"matches {ref.spec}" if ref.range else "is a release (only pre-releases exist)"
            raise VersionNotFoundError(
                f"no version of {ref.name} {what}; highest versions: {shown}",
                reference=str(ref),
                available=tuple(str(v) for v in versions[-5:]),
            )
        return read_tag(store, ref.name, str(candidates[-1]))
    if ref.kind == "digest":
        assert ref.digest_prefix is not None
        tags = [read_tag(store, ref.name, str(v)) for v in versions]
        matches = [t for t in tags if t.manifest.startswith(ref.digest_prefix)]
        if not matches:
            raise VersionNotFoundError(
                f"no version of {ref.name} has a manifest digest starting {ref.digest_prefix}; highest versions: "
                f"{shown}",
                reference=str(ref),
            )
        if len({t.manifest for t in matches}) > 1:
            listed = ", ".join(f"{t.version} ({t.manifest[:20]}…)" for t in matches)
            raise InvalidReferenceError(
                f"digest prefix {ref.digest_prefix} is ambiguous in {ref.name}: {listed}; give more hex digits",
                reference=str(ref),
            )
        # Several versions may share one manifest (a release of an experiment): the highest names it.
        return matches[-1]
    raise VersionNotFoundError(
        f"alias {ref.alias!r} is not set for {ref.name} (aliases are set by promotion); versions: {shown}",
        reference=str(ref),
        available=tuple(str(v) for v in versions[-5:]),
    )
