"""Capture the Python environment: interpreter, platform and every installed distribution.

``importlib.metadata`` reads the same ``*.dist-info`` metadata that pip reads, in-process, in about 15 ms for a few
hundred distributions; ``pip-api`` runs pip in a subprocess (about 0.8 s here, see benchmarks/track_overhead.py), too
slow for the start of every training run. Where several ``sys.path`` entries hold the same distribution, the first
one wins, which is the copy ``import`` finds.
"""

from __future__ import annotations

import json
import platform
import re
from importlib import metadata

from packaging.utils import canonicalize_name

from modelver.manifest import CaptureErrorRecord, EditableInstall, EnvironmentFacet

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

    Editable installs are those whose PEP 610 ``direct_url.json`` says ``dir_info.editable``. Never raises: a
    distribution with unreadable metadata is skipped and recorded as a capture error.
    """
    errors: list[CaptureErrorRecord] = []
    packages: dict[str, str] = {}
    editable: dict[str, EditableInstall] = {}
    for dist in metadata.distributions():
        try:
            found = _name_version(dist)
            if found is None:
                continue
            name = canonicalize_name(found[0])
            if name in packages:
                continue  # a later sys.path entry: shadowed, not the copy that imports
            packages[name] = found[1]
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
    )
    return facet, errors
