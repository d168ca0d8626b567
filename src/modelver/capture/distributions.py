"""The installed versions of the packages that a step's code imports, by top-level import name (``sklearn`` →
``scikit-learn``), for the step key: code of installed packages is not hashed, their versions stand for it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from importlib import metadata

from packaging.utils import canonicalize_name

__all__ = ["package_versions"]


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    # Reads every installed distribution's file list: about 0.4 s for 190 distributions here, so only used for
    # import names that are not also a distribution's name (sklearn -> scikit-learn).
    return metadata.packages_distributions()


@functools.cache
def _versions_of(top: str) -> tuple[tuple[str, str], ...]:
    with contextlib.suppress(metadata.PackageNotFoundError):
        return ((canonicalize_name(top), metadata.version(top)),)
    found = []
    for dist in _distributions().get(top, ()):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append((canonicalize_name(dist), metadata.version(dist)))
    return tuple(found)


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed distribution versions of top-level import names: ``("numpy", "sklearn")`` → ``{"numpy": "2.1.0",
    "scikit-learn": "1.5.2"}`` (PEP 503 names). Names no distribution provides (a local package) are left out."""
    found: dict[str, str] = {}
    for top in packages:
        found.update(_versions_of(top))
    return dict(sorted(found.items()))
