"""The searchable fields of one version, as ``(key, value)`` pairs: what the index stores and filters compare.

=========================  ==============================================================================
key                        value
=========================  ==============================================================================
``name``, ``version``      the model name and version (strings)
``digest``                 the manifest digest
``created``                the version tag's ``created_at`` (RFC 3339 UTC; compares as a string)
``metrics.<key>``          the metric (a number; a metric recorded as ``None`` is missing)
``config.<a>.<b>``         a leaf of the config, flattened by :func:`flatten_config`
``labels.<key>``           a label (strings)
``description``            the description
``data.<label>``, ``data`` the data digest under that label; ``data`` holds every data digest of the version
``packages.<name>``        the installed version of a package (PEP 503 canonical name)
``git.<key>``              ``commit``, ``branch``, ``dirty``, ``remote``
``alias``                  every alias that points at the version now (from the events)
``yanked``                 ``"true"`` or ``"false"`` (from the events)
=========================  ==============================================================================

Numbers stay numbers, booleans become ``"true"``/``"false"``, ``None`` is left out (a missing key never matches),
and lists or other structured leaves become their canonical JSON text.
"""

from __future__ import annotations

import math
from typing import Any

from modelver.capture.flatten import flatten_config as flatten_shared
from modelver.catalog.query import Value
from modelver.manifest import Manifest
from modelver.serde import canonical_json

__all__ = ["flatten_config", "leaf", "manifest_fields", "manifest_links"]

#: ``(kind, digest, role, step)``: one lineage edge of a version (see :func:`manifest_links`).
Link = tuple[str, str, str, str]


def leaf(value: Any) -> Value | None:
    """The comparable form of one JSON leaf: a number, a string, or ``None`` (left out).

    Example:
        >>> leaf(True), leaf(3), leaf([1, 2])
        ('true', 3, '[1,2]')
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str):
        return value
    return canonical_json(value).decode("utf-8")


def flatten_config(config: Any) -> dict[str, Value]:
    """A recorded (encoded) config as dotted keys, comparable: the same field-by-field view ``modelver diff`` and
    the UI use (:func:`modelver.capture.flatten.flatten_config`: nested mappings, dataclasses, attrs classes and
    Namespaces walked field by field), with each value made comparable by :func:`leaf`.

    Args:
        config: the manifest's ``config`` (as :func:`modelver.encode_config` recorded it).

    Returns:
        Dotted key to comparable leaf; ``None`` leaves (and a config that is not an object) are left out.

    Example:
        >>> flatten_config({"opt": {"lr": 0.01}, "layers": {"$type": "tuple", "items": [1, 2]}})
        {'opt.lr': 0.01, 'layers': '[1,2]'}
    """
    out: dict[str, Value] = {}
    for key, value in flatten_shared(config).items():
        comparable = leaf(value)
        if key and comparable is not None:
            out[key] = comparable
    return out


def manifest_fields(manifest: Manifest, *, created: str, config: Any = None) -> list[tuple[str, Value]]:
    """The fields a version's tag and manifest give (the events add ``alias``, ``yanked`` and later labels).

    Args:
        manifest: the verified manifest, with ``version`` and ``digest`` filled in.
        created: the tag's ``created_at``.
        config: the config to flatten when the manifest holds it as a blob (read and verified by the caller).

    Returns:
        ``(key, value)`` pairs; ``data`` appears once per data entry.
    """
    pairs: list[tuple[str, Value]] = [
        ("name", manifest.name),
        ("version", manifest.version or ""),
        ("digest", manifest.digest or ""),
        ("created", created),
    ]
    for key, number in manifest.metrics.items():
        value = leaf(number)
        if value is not None:
            pairs.append((f"metrics.{key}", value))
    recorded = manifest.config if config is None else config
    pairs.extend((f"config.{key}", value) for key, value in flatten_config(recorded).items())
    labels = getattr(manifest, "labels", None) or {}
    pairs.extend((f"labels.{key}", str(value)) for key, value in labels.items())
    description = getattr(manifest, "description", None)
    if description:
        pairs.append(("description", str(description)))
    for label, entry in manifest.data.items():
        pairs.append((f"data.{label}", entry.digest))
        pairs.append(("data", entry.digest))
    pairs.extend((f"packages.{name}", version) for name, version in manifest.environment.packages.items())
    git = manifest.code.git
    if git is not None:
        for key, raw in (("commit", git.commit), ("branch", git.branch), ("dirty", git.dirty), ("remote", git.remote)):
            value = leaf(raw)
            if value is not None:
                pairs.append((f"git.{key}", value))
    return pairs


def manifest_links(manifest: Manifest) -> list[Link]:
    """The lineage edges a manifest records, for reverse lineage (:func:`modelver.catalog.lineage.used_by`).

    Kinds: ``data`` (a data digest), ``step`` (a step version), ``input`` and ``output`` (the digest of a step's
    argument or of its result, whole or one part), ``loaded`` (the manifest digest of a version loaded during the
    run). ``step`` is the step version the edge belongs to (empty for data and loaded versions), so that only the
    outputs of a step whose input matched carry a use further.
    """
    links: list[Link] = [("data", entry.digest, f"data {label!r}", "") for label, entry in manifest.data.items()]
    for step in manifest.lineage.steps:
        links.append(("step", step.step_version, f"step {step.name}", step.step_version))
        links.extend(
            ("input", digest, f"step {step.name} input {arg!r}", step.step_version)
            for arg, digest in step.inputs.items()
        )
        outputs = [step.output] if step.output else []
        outputs += list(step.outputs.values())
        links.extend(("output", digest, f"step {step.name}", step.step_version) for digest in outputs)
    for entry in manifest.lineage.inputs:
        digest = entry.rpartition("@")[2]  # entry: "<ref as loaded>@<digest>", kept whole in the role
        if digest:
            links.append(("loaded", digest, f"loaded version {entry}", ""))
    return links
