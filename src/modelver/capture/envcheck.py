"""The environment check on load, and the recorded environment as a pip requirements list.

A model stored by one version of its library may load differently, or not at all, under another (scikit-learn
documents no cross-version guarantee for persisted estimators: "Model persistence", scikit-learn user guide). So
``load()`` compares, for the artifact's format only, the recorded versions of the distributions the format depends
on (``Format.requires``) and the Python minor version (``Format.checks_python``) with the running ones, and reports
every difference in one :class:`~modelver.errors.EnvironmentMismatchWarning`, or raises
:class:`~modelver.errors.EnvironmentMismatchError` in strict mode.
"""

from __future__ import annotations

import platform
import re
import warnings
from collections.abc import Iterable
from importlib import metadata

from modelver.errors import EnvironmentMismatchError, EnvironmentMismatchWarning
from modelver.manifest import EnvironmentFacet


def _canonical(name: str) -> str:
    """PEP 503's normal form of a distribution name, as ``packaging.utils.canonicalize_name`` gives it.

    Spelled out here: importing ``packaging.utils`` imports ``packaging.tags`` and more, on every serving load.
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or ``None`` when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def loader_distributions(loader: object) -> tuple[str, ...]:
    """The installed distributions that provide ``loader``'s top-level package (``AutoModel.from_pretrained`` →
    ``("transformers",)``), or ``()`` for a loader from the standard library or the caller's own code.

    A directory or a file handed to a loader is read by that loader's library, so its version matters as much as a
    format's own dependencies do.
    """
    module = getattr(loader, "__module__", None) or getattr(getattr(loader, "__func__", None), "__module__", None)
    if not isinstance(module, str) or not module:
        return ()
    top = module.split(".", 1)[0]
    return tuple(metadata.packages_distributions().get(top, ()))


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def environment_differences(
    recorded: EnvironmentFacet,
    requires: Iterable[str],
    *,
    check_python: bool,
    python: str | None = None,
) -> list[str]:
    """One line per difference between ``recorded`` and the running environment, for the given distributions.

    A distribution the run did not record (its capture failed, or it was not installed then) is not compared.

    Args:
        recorded: the version's environment facet.
        requires: distribution names (any spelling; compared PEP 503-canonical).
        check_python: compare the Python minor version too.
        python: the running Python version (default: this interpreter's), a parameter so tests can vary it.
    """
    differences = []
    if check_python and recorded.python:
        running = python or platform.python_version()
        if _minor(recorded.python) != _minor(running):
            differences.append(f"python: recorded {recorded.python}, running {running}")
    for name in sorted({_canonical(r) for r in requires}):
        want = recorded.packages.get(name)
        if want is None:
            continue
        have = installed_version(name)
        if have is None:
            differences.append(f"{name}: recorded {want}, not installed")
        elif have != want:
            differences.append(f"{name}: recorded {want}, running {have}")
    return differences


def check_environment(
    what: str,
    recorded: EnvironmentFacet,
    requires: Iterable[str],
    *,
    check_python: bool,
    strict: bool = False,
) -> list[str]:
    """Warn once (or raise when ``strict``) listing every difference that matters to loading ``what``.

    Returns:
        The differences (empty when the environments agree).

    Raises:
        EnvironmentMismatchError: ``strict`` and something differs.
    """
    differences = environment_differences(recorded, requires, check_python=check_python)
    if differences:
        message = (
            f"{what} was saved in another environment: {'; '.join(differences)}. It may load or behave differently; "
            f"`modelver show {what.split(':')[0]} --requirements` prints the recorded packages to reinstall"
        )
        if strict:
            raise EnvironmentMismatchError(message, differences=tuple(differences))
        warnings.warn(message, EnvironmentMismatchWarning, stacklevel=4)
    return differences


def requirements_text(recorded: EnvironmentFacet, *, ref: str = "") -> str:
    """The recorded environment as a pip requirements file: ``name==version`` lines, sorted.

    Editable installs cannot be reinstalled from an index; they are written as comments with the source they
    pointed at. The header names the Python version, which pip cannot pin.
    """
    lines = [f"# recorded environment of {ref}" if ref else "# recorded environment"]
    if recorded.python:
        lines.append(f"# python {recorded.python} ({recorded.implementation or 'unknown implementation'})")
    for name, version in sorted(recorded.packages.items()):
        if name in recorded.editable:
            lines.append(f"# {name}=={version} was an editable install of {recorded.editable[name].url}")
        else:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"
