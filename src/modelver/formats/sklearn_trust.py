"""The vetted allow-list of scikit-learn's own internal types that skops files may hold without an opt-in.

skops (https://skops.readthedocs.io/en/stable/persistence.html) rebuilds only the types it trusts by default and
reports every other type a file names; scikit-learn's estimators are trusted, but not the Cython and helper types
some of them keep inside (the tree of a ``DecisionTreeClassifier``, the predictors of a
``HistGradientBoostingClassifier``). Without them, every tree-based model people ship needs ``trusted=[...]``.

Each entry here names one type, the scikit-learn releases whose source was reviewed for it (``since`` inclusive,
``before`` exclusive: a newer release's internals stay refused until someone reviews it and widens the range), and
why rebuilding it cannot run code of the file's choosing. The reasoning is written out in ``docs/security.md``
(section "Trusted scikit-learn types"); change both together. Types not listed here stay refused unless the caller
names them in ``trusted``.
"""

from __future__ import annotations

import re
from importlib import metadata

import attrs

__all__ = ["TRUSTED_SKLEARN_TYPES", "TrustedType", "installed_sklearn_version", "trusted_sklearn_types"]


@attrs.frozen
class TrustedType:
    """One scikit-learn internal type that loads without an opt-in, for a range of scikit-learn releases.

    Attributes:
        name: the type as skops names it, ``"module.QualName"`` (``"sklearn.tree._tree.Tree"``).
        since: the first reviewed scikit-learn release, ``(major, minor)``, inclusive.
        before: the first release not reviewed yet, ``(major, minor)``, exclusive.
        reason: why rebuilding it runs no code of the file's choosing (the long form is in docs/security.md).

    Example:
        >>> entry = TrustedType("sklearn.tree._tree.Tree", (1, 3), (1, 10), "numeric arrays only")
        >>> entry.covers((1, 9)), entry.covers((1, 10))
        (True, False)
    """

    name: str
    since: tuple[int, int]
    before: tuple[int, int]
    reason: str

    def covers(self, version: tuple[int, int]) -> bool:
        """Whether ``version`` (``(major, minor)`` of scikit-learn) is in the reviewed range.

        Args:
            version: the scikit-learn release, ``(major, minor)``.

        Returns:
            ``since <= version < before``.

        Example:
            >>> TRUSTED_SKLEARN_TYPES[0].covers((0, 24))
            False
        """
        return self.since <= version < self.before


# Reviewed against scikit-learn 1.3 to 1.9 (the releases the `sklearn` extra allows up to the newest tested); raise
# `before` only after reading the new release's source for these types and running tests/test_sklearn_trust.py.
_REVIEWED = ((1, 3), (1, 10))

TRUSTED_SKLEARN_TYPES: tuple[TrustedType, ...] = (
    TrustedType(
        "sklearn.tree._tree.Tree",
        *_REVIEWED,
        "the fitted tree of every DecisionTree*, ExtraTree*, RandomForest*, ExtraTrees*, GradientBoosting* and "
        "IsolationForest: a Cython extension type whose constructor takes three ints (features, classes per output, "
        "outputs) and whose __setstate__ copies a 'nodes' structured array and a 'values' float array after checking "
        "their dtype and shape; it has no attribute that holds a callable or a type",
    ),
    TrustedType(
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        *_REVIEWED,
        "one tree of a HistGradientBoosting* model: a plain Python class whose __init__ stores three numpy arrays "
        "(nodes, binned and raw categorical bitsets); skops rebuilds it from its __dict__ of arrays",
    ),
    TrustedType(
        "sklearn.utils.validation.check_array",
        *_REVIEWED,
        "the input check a HistGradientBoosting* model with categorical features keeps (inside a functools.partial) "
        "in its internal ColumnTransformer: a function that converts and validates arrays, with no file, process "
        "or import side effect; skops only looks it up, calling it is the model's own predict",
    ),
    TrustedType(
        "functools.partial",
        *_REVIEWED,
        "the wrapper around check_array above: building one calls nothing, and the function it wraps is itself a "
        "type skops reports, so a partial of anything not trusted is still refused",
    ),
)

_VERSION_RE = re.compile(r"(\d+)\.(\d+)")


def installed_sklearn_version() -> tuple[int, int] | None:
    """The installed scikit-learn release as ``(major, minor)``.

    Returns:
        ``(major, minor)``, or ``None`` when scikit-learn is not installed or its version cannot be read.

    Example:
        >>> installed_sklearn_version() >= (1, 3)
        True
    """
    try:
        match = _VERSION_RE.match(metadata.version("scikit-learn"))
    except metadata.PackageNotFoundError:
        return None
    return (int(match.group(1)), int(match.group(2))) if match else None


def trusted_sklearn_types(version: tuple[int, int] | None) -> frozenset[str]:
    """The allow-listed types that load without an opt-in under a scikit-learn release.

    Args:
        version: the scikit-learn release that will rebuild the objects, ``(major, minor)``; ``None`` (unknown)
            trusts nothing.

    Returns:
        The type names (as skops names them) whose reviewed range covers ``version``.

    Example:
        >>> "sklearn.tree._tree.Tree" in trusted_sklearn_types((1, 9))
        True
        >>> trusted_sklearn_types((99, 0))
        frozenset()
    """
    if version is None:
        return frozenset()
    return frozenset(entry.name for entry in TRUSTED_SKLEARN_TYPES if entry.covers(version))
