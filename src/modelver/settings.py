"""Which store a process uses, and why.

Order (first that applies wins): an explicit ``store=`` argument > the ``MODELVER_STORE`` environment variable >
``[tool.modelver] store`` in the nearest ``pyproject.toml`` above the working directory (a relative path there is
relative to that file) > the per-user default, ``platformdirs.user_data_dir("modelver")/store``, which a training
script and a serving script started from different directories on the same machine both find.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from pathlib import Path
from typing import Any

import attrs

from modelver.errors import StoreError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_STORE = "MODELVER_STORE"
ENV_DEBUG = "MODELVER_DEBUG"
#: A local ``ssh-keygen`` allowed_signers file that approval signatures are verified against (never the store's: anyone
#: who can write the store could add a key there).
ENV_ALLOWED_SIGNERS = "MODELVER_ALLOWED_SIGNERS"
#: Comma-separated host names (``host`` or ``host:port``) that hook payloads may be sent to from this machine; unset:
#: any. Local, because anyone who can write the store can edit its hook list.
ENV_HOOK_HOSTS = "MODELVER_HOOK_HOSTS"


@attrs.frozen
class StoreChoice:
    """The store URL a process uses and where that choice came from (for ``modelver info``).

    Example:
        >>> modelver.choose_store("memory://scratch")
        StoreChoice(url='memory://scratch', source='the store= argument')
    """

    url: str
    source: str


def default_store_url() -> str:
    """The per-user default store: a directory in the platform's user data location."""
    import platformdirs  # only when no store is configured: kept off the import path of a configured load

    return str(Path(platformdirs.user_data_dir("modelver", appauthor=False)) / "store")


def _nearest_modelver_table(start: Path, what: str) -> tuple[Path, dict[str, Any]] | None:
    """The nearest ``pyproject.toml`` at or above ``start`` and its ``[tool.modelver]`` table (empty when absent).

    The nearest project decides: a ``pyproject.toml`` further up belongs to another project.

    Raises:
        StoreError: that file cannot be read (``what`` says what was being looked for).
    """
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read {candidate} to find [tool.modelver] {what}: {exc}") from exc
        table = data.get("tool", {}).get("modelver", {})
        return candidate, table if isinstance(table, dict) else {}
    return None


def _from_pyproject(start: Path) -> StoreChoice | None:
    found = _nearest_modelver_table(start, "store")
    if found is not None:
        candidate, table = found
        url = table.get("store")
        if url is None:
            return None
        if not isinstance(url, str) or not url:
            raise StoreError(f"[tool.modelver] store in {candidate} must be a non-empty string, not {url!r}")
        if "://" not in url:
            url = str((candidate.parent / os.path.expanduser(url)).resolve())
        return StoreChoice(url, f"[tool.modelver] store in {candidate}")
    return None


def choose_store(store: str | os.PathLike[str] | None = None) -> StoreChoice:
    """Decide which store to use (see the module docstring for the order).

    Args:
        store: an explicit store URL or path, or ``None``.

    Raises:
        StoreError: a ``pyproject.toml`` on the way cannot be read or has a bad ``store`` value.

    Example:
        >>> choice = modelver.choose_store()  # doctest: +SKIP
        >>> choice.url, choice.source  # doctest: +SKIP
        ('s3://ml-models/registry', 'the MODELVER_STORE environment variable')
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


# --- what the code capture leaves out -----------------------------------------------------------------------------

ENV_CAPTURE_EXCLUDE = "MODELVER_CAPTURE_EXCLUDE"


def _pyproject_excludes(start: Path) -> tuple[str, ...]:
    found = _nearest_modelver_table(start, "capture-exclude")
    if found is not None:
        candidate, table = found
        directory = candidate.parent
        entries = table.get("capture-exclude", [])
        if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
            raise StoreError(
                f"[tool.modelver] capture-exclude in {candidate} must be a list of non-empty path strings, "
                f'not {entries!r}; write it as capture-exclude = ["outputs", "lightning_logs"]'
            )
        return tuple(os.path.join(directory, os.path.expanduser(e)) for e in entries)
    return ()


def capture_excludes(*always: str | os.PathLike[str] | None) -> tuple[str, ...]:
    """The paths the code capture never records as untracked files and never counts as making the tree dirty.

    One list for everything that is output, not code: the store, the read cache and the spool (passed in by the
    caller as ``always``), and what the user configures for framework output folders (``lightning_logs``,
    ``wandb``, ``mlruns``...), from ``MODELVER_CAPTURE_EXCLUDE`` (paths separated by :data:`os.pathsep`, relative to
    the working directory) and ``capture-exclude = [...]`` under ``[tool.modelver]`` in the nearest
    ``pyproject.toml`` (relative to that file). An entry may hold glob characters (``*``, ``?``, ``[``); ``*``
    does not cross a ``/``.

    Args:
        always: paths excluded whatever the configuration says; ``None`` entries (a remote store, say) are
            skipped.

    Returns:
        Absolute paths with user and symbolic links expanded, without repeats, ``always`` first.

    Raises:
        StoreError: the nearest ``pyproject.toml`` cannot be read or its ``capture-exclude`` is not a list of
            strings.

    Example:
        >>> capture_excludes("/srv/store")[0]
        '/srv/store'
    """
    cwd = Path.cwd()
    entries: list[str] = [os.fspath(path) for path in always if path is not None]
    entries.extend(e for e in os.environ.get(ENV_CAPTURE_EXCLUDE, "").split(os.pathsep) if e)
    entries.extend(_pyproject_excludes(cwd))
    result: list[str] = []
    for entry in entries:
        absolute = os.path.realpath(os.path.join(cwd, os.path.expanduser(entry)))
        if absolute not in result:
            result.append(absolute)
    return tuple(result)


# --- what the secret scan adds and skips (docs/security.md) -------------------------------------------------------


@attrs.frozen
class SecretRules:
    """What the user adds to the scan, from ``[tool.modelver]`` in the nearest ``pyproject.toml``.

    Attributes:
        patterns: regular expressions (Python syntax) whose match anywhere in a text is a finding, named
            ``secret-patterns[i]``.
        allow: glob patterns (``*`` crosses ``/``) of untracked or snapshot paths relative to the repository root,
            and of config key paths (``optimizer.name``), that are stored without a scan.
    """

    patterns: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()

    def allows(self, path: str) -> bool:
        """Whether ``path`` is allow-listed (stored without a scan)."""
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.allow)


def secret_rules(start: str | os.PathLike[str] | None = None) -> SecretRules:
    """Read ``secret-patterns`` and ``secret-allow`` (lists of strings) under ``[tool.modelver]``.

    The nearest ``pyproject.toml`` at or above ``start`` (default: the working directory) decides, as for the
    store. Example::

        [tool.modelver]
        secret-patterns = ["acme_[0-9a-f]{32}"]
        secret-allow = ["fixtures/*", "model.tokenizer_path"]

    Args:
        start: where to look from.

    Returns:
        The rules; empty when no ``pyproject.toml`` sets them.

    Raises:
        StoreError: the ``pyproject.toml`` cannot be read, a value is not a list of strings, or a pattern is not a
            valid regular expression.
    """
    found = _nearest_modelver_table(Path(start) if start is not None else Path.cwd(), "secret settings")
    if found is not None:
        candidate, table = found
        values = {}
        for key in ("secret-patterns", "secret-allow"):
            entries = table.get(key, [])
            if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
                raise StoreError(
                    f"[tool.modelver] {key} in {candidate} must be a list of non-empty strings, not {entries!r}"
                )
            values[key] = tuple(entries)
        for pattern in values["secret-patterns"]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise StoreError(
                    f"[tool.modelver] secret-patterns in {candidate}: {pattern!r} is not a regular expression "
                    f"({exc}); fix or remove it"
                ) from exc
        return SecretRules(patterns=values["secret-patterns"], allow=values["secret-allow"])
    return SecretRules()
