"""Capture the Python environment: interpreter, platform and every installed distribution.

``importlib.metadata`` reads the same ``*.dist-info`` metadata that pip reads, in-process, in about 15 ms for a few
hundred distributions; ``pip-api`` runs pip in a subprocess (about 0.8 s here, see benchmarks/track_overhead.py), too
slow for the start of every training run. Where several ``sys.path`` entries hold the same distribution, the copy
whose files ``import`` finds wins (a stale ``.dist-info`` earlier on the path does not), and all copies are noted.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import platform
import re
import sys
from importlib import metadata

from packaging.utils import canonicalize_name

from modelver.manifest import CaptureErrorRecord, DistributionCopy, EditableInstall, EnvironmentFacet

# "<name>-<version>.dist-info": the wheel spec (PEP 427, binary distribution format) fixes this directory name, so
# name and version come from it without parsing METADATA (10x faster over a few hundred distributions).
_DIST_INFO_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info$")


def _name_version(dist: metadata.Distribution) -> tuple[str, str] | None:
    path = getattr(dist, "_path", None)
    match = _DIST_INFO_RE.match(getattr(path, "name", ""))
    if match:
        return match["name"], match["version"]
    raw_name = dist.metadata["Name"]
    return (raw_name, dist.version) if raw_name else None


def capture_environment() -> tuple[EnvironmentFacet, list[CaptureErrorRecord]]:
    """Capture interpreter, platform and installed distributions (name canonical per PEP 503 → version).

    Editable installs are those whose PEP 610 ``direct_url.json`` says ``dir_info.editable``. A distribution found
    more than once on ``sys.path`` (a stale ``.dist-info`` left in an earlier entry, say) is recorded at the version
    of the copy whose files ``import`` actually finds, and every copy is listed in ``duplicates``. Never raises: a
    distribution with unreadable metadata is skipped and recorded as a capture error.

    Returns:
        The facet and its capture errors (facet ``"environment"``).

    Example:
        >>> facet, _ = capture_environment()
        >>> "attrs" in facet.packages
        True
    """
    errors: list[CaptureErrorRecord] = []
    copies: dict[str, list[tuple[str, metadata.Distribution]]] = {}
    for dist in metadata.distributions():
        try:
            found = _name_version(dist)
            if found is not None:
                copies.setdefault(canonicalize_name(found[0]), []).append((found[1], dist))
        except Exception as exc:
            errors.append(CaptureErrorRecord("environment", type(exc).__name__, f"unreadable distribution: {exc}"))
    packages: dict[str, str] = {}
    editable: dict[str, EditableInstall] = {}
    duplicates: dict[str, tuple[DistributionCopy, ...]] = {}
    for name, found_copies in copies.items():
        chosen = 0
        if len(found_copies) > 1:
            try:
                chosen = _imported_copy([dist for _, dist in found_copies])
            except Exception as exc:  # the first copy then, as before; never a reason to fail the capture
                errors.append(CaptureErrorRecord("environment", type(exc).__name__, f"{name} found twice: {exc}"))
            duplicates[name] = tuple(
                DistributionCopy(version, _location(dist), imported=index == chosen)
                for index, (version, dist) in enumerate(found_copies)
            )
        version, dist = found_copies[chosen]
        packages[name] = version
        try:
            direct_url = dist.read_text("direct_url.json")
            if direct_url:
                info = json.loads(direct_url)
                if info.get("dir_info", {}).get("editable"):
                    editable[name] = EditableInstall(url=str(info.get("url", "")))
        except Exception as exc:
            errors.append(CaptureErrorRecord("environment", type(exc).__name__, f"unreadable distribution: {exc}"))
    facet = EnvironmentFacet(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=platform.platform(),
        packages=dict(sorted(packages.items())),
        editable=editable,
        errors=tuple(e.message for e in errors),
        duplicates=dict(sorted(duplicates.items())),
    )
    return facet, errors


def _location(dist: metadata.Distribution) -> str:
    return os.path.realpath(str(dist.locate_file("")))


def _top_level_names(dist: metadata.Distribution) -> list[str]:
    """The import names a distribution provides: ``top_level.txt`` (setuptools), else its ``RECORD``'s top entries."""
    text = dist.read_text("top_level.txt")
    if text:
        return [line.strip() for line in text.splitlines() if line.strip().isidentifier()]
    names: list[str] = []
    for file in dist.files or ():
        first = file.parts[0] if file.parts else ""
        if first.endswith((".dist-info", ".data", ".pth")) or first in ("..", "__pycache__"):
            continue
        top = first.split(".", 1)[0] if len(file.parts) == 1 else first
        if top.isidentifier() and top not in names:
            names.append(top)
    return names


def _import_directory(top: str) -> str | None:
    """The ``sys.path`` directory ``import top`` loads from (or did), without importing anything."""
    module = sys.modules.get(top)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        try:
            spec = importlib.machinery.PathFinder.find_spec(top)
        except (ImportError, ValueError, OSError):
            return None
        if spec is None:
            return None
        if spec.origin and os.path.isabs(spec.origin):
            origin = spec.origin
        elif spec.submodule_search_locations:  # a namespace package: its first portion
            return os.path.dirname(os.path.realpath(next(iter(spec.submodule_search_locations))))
    if not isinstance(origin, str):
        return None
    real = os.path.realpath(origin)
    # site/pkg/__init__.py -> site; site/mod.py -> site
    return (
        os.path.dirname(os.path.dirname(real))
        if os.path.basename(real).startswith("__init__.")
        else os.path.dirname(real)
    )


def _imported_copy(dists: list[metadata.Distribution]) -> int:
    """The index of the copy whose files ``import`` finds; the first (``sys.path`` order) when none can be told."""
    locations = [_location(dist) for dist in dists]
    for top in _top_level_names(dists[0]) or [n for d in dists[1:] for n in _top_level_names(d)]:
        directory = _import_directory(top)
        if directory is not None and directory in locations:
            return locations.index(directory)
    return 0
