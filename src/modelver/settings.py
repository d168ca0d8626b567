"""Which store a process uses, and why.

Order (first that applies wins): an explicit ``store=`` argument > the ``MODELVER_STORE`` environment variable >
``[tool.modelver] store`` in the nearest ``pyproject.toml`` above the working directory (a relative path there is
relative to that file) > the per-user default, ``platformdirs.user_data_dir("modelver")/store``, which a training
script and a serving script started from different directories on the same machine both find.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import attrs
import platformdirs

from modelver.errors import StoreError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_STORE = "MODELVER_STORE"
ENV_DEBUG = "MODELVER_DEBUG"


@attrs.frozen
class StoreChoice:
    """The store URL a process uses and where that choice came from (for ``modelver info``)."""

    url: str
    source: str


def default_store_url() -> str:
    """The per-user default store: a directory in the platform's user data location."""
    return str(Path(platformdirs.user_data_dir("modelver", appauthor=False)) / "store")


def _from_pyproject(start: Path) -> StoreChoice | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read {candidate} to find [tool.modelver] store: {exc}") from exc
        url = data.get("tool", {}).get("modelver", {}).get("store")
        if url is None:
            # The nearest project decides; a pyproject.toml further up belongs to another project.
            return None
        if not isinstance(url, str) or not url:
            raise StoreError(f"[tool.modelver] store in {candidate} must be a non-empty string, not {url!r}")
        if "://" not in url:
            url = str((directory / os.path.expanduser(url)).resolve())
        return StoreChoice(url, f"[tool.modelver] store in {candidate}")
    return None


def choose_store(store: str | os.PathLike[str] | None = None) -> StoreChoice:
    """Decide which store to use (see the module docstring for the order).

    Args:
        store: an explicit store URL or path, or ``None``.

    Raises:
        StoreError: a ``pyproject.toml`` on the way cannot be read or has a bad ``store`` value.
    """
    if store is not None:
        return StoreChoice(os.fspath(store), "the store= argument")
    env = os.environ.get(ENV_STORE)
    if env:
        return StoreChoice(env, f"the {ENV_STORE} environment variable")
    found = _from_pyproject(Path.cwd())
    if found is not None:
        return found
    return StoreChoice(default_store_url(), "the per-user default (set MODELVER_STORE to change it)")
