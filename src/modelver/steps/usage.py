"""Reverse lineage queries: which versions and step versions used a data fingerprint, a step version or a
version (:func:`used_by`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import attrs

from modelver.steps.calls import read_calls
from modelver.steps.layout import step_names
from modelver.steps.step_versions import read_step_version
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["Usage", "step_usages", "used_by"]

_DIGEST_PREFIX_RE = re.compile(r"^[a-z0-9]+:[0-9a-f]{8,}$")


@attrs.frozen
class Usage:
    """Something that used a data fingerprint, a step version or a version.

    Attributes:
        kind: ``"version"`` (a published version) or ``"step"`` (a stored step version).
        ref: ``name@version`` of the version, or the step name.
        digest: the version's manifest digest, or the step version's digest.
        role: how it was used, e.g. ``"data 'raw'"``, ``"step featurize input 'path'"``, ``"loaded version"``.

    Example:
        >>> use = modelver.used_by("churn@1.2.0")[0]  # doctest: +SKIP
        >>> use.kind, use.ref, use.role  # doctest: +SKIP
        ('version', 'churn-ensemble@0.3.0', 'loaded version')
    """

    kind: str
    ref: str
    digest: str
    role: str


def used_by(target: str, *, store: str | os.PathLike[str] | Store | None = None) -> list[Usage]:
    """Which versions and step versions used ``target``.

    Args:
        target: a digest (``"blake3:3f9a01bc..."``, a prefix of at least 8 hex digits will do) of data, of a step
            output (or of one part of a returned tuple, list or dict) or of a step version; or a reference
            ``name[@spec]`` to a version, to find the versions and steps that loaded it. For a step version, the
            steps whose inputs are its output or one of its parts used it too (role ``"input 'x' ← step[0]"``).

    Returns:
        Every use found, versions first (by name and version order), then step versions (by step name).
        Every version's manifest and every step's call records are read: a full scan of the store.

    Raises:
        InvalidReferenceError, VersionNotFoundError: ``target`` is neither a digest nor a reference that resolves.

    Example:
        >>> for use in modelver.used_by("blake3:3f9a01bc"):  # doctest: +SKIP
        ...     print(use.kind, use.ref, use.role)
        version churn@1.2.0 data 'train'
    """
    from modelver.registry.model_version import read_manifest
    from modelver.registry.resolution import read_tag, resolve, sorted_versions

    opened = open_store(store)
    wanted = target if _DIGEST_PREFIX_RE.match(target) else resolve(opened, target).manifest

    def hit(digest: object) -> bool:
        return isinstance(digest, str) and digest.startswith(wanted)

    versions = []
    for name in opened.list_names():
        for version in sorted_versions(opened, name):
            tag = read_tag(opened, name, str(version))
            versions.append((f"{name}@{version}", tag.manifest, read_manifest(opened, tag)))
    records = _step_records(opened)
    # What a target step version returned, whole or in parts: an input with one of these digests used it.
    produced: dict[str, str] = {}
    for _, _, manifest in versions:
        for step in manifest.lineage.steps:
            if hit(step.step_version):
                produced.update(_produced_by(step.name, step.output, step.outputs))
    for step_name, step_version, record in records:
        if hit(step_version):
            produced.update(_produced_by(step_name, record.get("output"), record.get("outputs")))

    def input_role(arg: str, digest: object) -> str | None:
        if hit(digest):
            return f"input {arg!r}"
        if isinstance(digest, str) and digest in produced:
            return f"input {arg!r} ← {produced[digest]}"
        return None

    found: list[Usage] = []
    for ref, manifest_digest, manifest in versions:
        roles = [f"data {label!r}" for label, entry in manifest.data.items() if hit(entry.digest)]
        for step in manifest.lineage.steps:
            if hit(step.step_version):
                roles.append(f"step {step.name}")
            for arg, digest in step.inputs.items():
                role = input_role(arg, digest)
                if role is not None:
                    roles.append(f"step {step.name} {role}")
        roles += [f"loaded version {entry}" for entry in manifest.lineage.inputs if hit(entry.rpartition("@")[2])]
        found += [Usage("version", ref, manifest_digest, role) for role in dict.fromkeys(roles)]
    for step_name, step_version, record in records:
        inputs = record.get("inputs", {})
        for arg, digest in sorted(inputs.items() if isinstance(inputs, dict) else ()):
            role = input_role(arg, digest)
            if role is not None:
                found.append(Usage("step", step_name, step_version, role))
    return found


def _step_records(opened: Store) -> list[tuple[str, str, dict[str, Any]]]:
    """``(step name, step version, record)`` of every stored step version, each once (``{}`` when unreadable)."""
    records: list[tuple[str, str, dict[str, Any]]] = []
    for step_name in step_names(opened):
        seen: set[str] = set()
        for call in read_calls(step_name, opened):
            if call.step_version in seen:
                continue
            seen.add(call.step_version)
            try:
                record = read_step_version(opened, call.step_version)
            except Exception:  # a collected or damaged record: nothing to report for it
                record = {}
            records.append((step_name, call.step_version, record))
    return records


def step_usages(carried_by: Callable[[str], str | None], store: str | os.PathLike[str] | Store | None) -> list[Usage]:
    """The step versions whose inputs used a target, from the steps' call records.

    Args:
        carried_by: for a digest, ``""`` if it is the target, what carried the target to it (``"step clean in
            prep@0.1.0"``) if the caller's walk reached it, else ``None``.
        store: the store.

    Returns:
        One :class:`Usage` of kind ``"step"`` per (step version, input), by step name. The outputs of a step
        version that is the target (or was reached) carry it on, named ``step[part]`` as in ``used_by``.

    Example:
        >>> step_usages(lambda digest: None, "memory://empty")
        []
    """
    records = _step_records(open_store(store))
    produced: dict[str, str] = {}
    for step_name, step_version, record in records:
        if carried_by(step_version) is not None:
            produced.update(_produced_by(step_name, record.get("output"), record.get("outputs")))
    found = []
    for step_name, step_version, record in records:
        inputs = record.get("inputs", {})
        for arg, digest in sorted(inputs.items() if isinstance(inputs, dict) else ()):
            if not isinstance(digest, str):
                continue
            via = carried_by(digest)
            via = produced.get(digest, via) if via != "" else via
            if via is not None:
                found.append(
                    Usage("step", step_name, step_version, f"input {arg!r} ← {via}" if via else f"input {arg!r}")
                )
    return found


def _produced_by(name: str, output: object, outputs: object) -> dict[str, str]:
    """Digest to what produced it: ``name`` for the whole output, ``name[key]`` for a part (docs/steps.md)."""
    produced = (
        {d: f"{name}[{key}]" for key, d in outputs.items() if isinstance(d, str)} if isinstance(outputs, dict) else {}
    )
    if isinstance(output, str):
        produced[output] = name
    return produced
