"""Manifests: canonical JSON round trips and digests that depend on content only."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from modelver.manifest import (
    ArtifactEntry,
    CaptureErrorRecord,
    CodeFacet,
    CreatedBy,
    DataEntry,
    EditableInstall,
    EnvironmentFacet,
    GitInfo,
    Lineage,
    Manifest,
    ResourcesFacet,
)
from modelver.serde import canonical_json, from_json_dict, to_json_dict

text = st.text(max_size=20)
hexes = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"blake3:{h}")
counts = st.integers(min_value=0, max_value=2**53)
finite = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | finite | text
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=10
)

git_infos = st.builds(
    GitInfo,
    commit=st.text("0123456789abcdef", min_size=40, max_size=40),
    branch=st.none() | text,
    detached=st.booleans(),
    dirty=st.booleans(),
    remote=st.none() | text,
    diff=st.none() | hexes,
    untracked=st.dictionaries(text, st.none() | hexes, max_size=3),
    shallow=st.booleans(),
    root=st.none() | text,
)
manifests = st.builds(
    Manifest,
    name=text,
    created_at=text,
    created_by=st.builds(CreatedBy, text, text),
    run_id=text,
    code=st.builds(
        CodeFacet,
        git=st.none() | git_infos,
        entrypoint=st.none() | text,
        argv=st.tuples(text, text),
        sources=st.dictionaries(text, hexes, max_size=3),
        errors=st.lists(text, max_size=2).map(tuple),
    ),
    environment=st.builds(
        EnvironmentFacet,
        python=text,
        packages=st.dictionaries(text, text, max_size=5),
        editable=st.dictionaries(text, st.builds(EditableInstall, text), max_size=2),
    ),
    config=json_values,
    data=st.dictionaries(
        text,
        st.builds(DataEntry, text, hexes, counts, counts, text, text, st.dictionaries(text, json_values, max_size=2)),
        max_size=2,
    ),
    resources=st.builds(ResourcesFacet, finite, finite, counts, counts, counts),
    metrics=st.dictionaries(text, st.none() | finite | st.integers(-(2**53), 2**53), max_size=3),
    artifacts=st.dictionaries(text, st.builds(ArtifactEntry, hexes, counts, text, text), max_size=3),
    lineage=st.builds(Lineage, inputs=st.lists(text, max_size=2).map(tuple)),
    capture_errors=st.lists(st.builds(CaptureErrorRecord, text, text, text), max_size=2).map(tuple),
)


@given(manifests)
def test_manifest_round_trips_through_canonical_json(manifest: Manifest) -> None:
    """unstructure → canonical JSON → parse → structure gives back an equal manifest."""
    encoded = canonical_json(to_json_dict(manifest))
    assert manifest == from_json_dict(json.loads(encoded), Manifest)


@given(manifests)
def test_canonical_json_is_stable_under_key_order(manifest: Manifest) -> None:
    """Re-encoding a parsed manifest, whatever its dict order, gives the same bytes (so the same digest)."""
    encoded = canonical_json(to_json_dict(manifest))
    reordered = json.loads(encoded, object_pairs_hook=lambda pairs: dict(reversed(pairs)))
    assert encoded == canonical_json(reordered)
