"""``modelver.check_data``: is the data a version was trained on still what it was?

Resolves the reference here, then compares with :mod:`modelver.data.drift`.
"""

from __future__ import annotations

import os

from modelver.data.drift import DataCheck, check_entries
from modelver.registry.model_version import get
from modelver.store.objects import Store


def check_data(
    ref: str,
    *,
    label: str | None = None,
    location: str | os.PathLike[str] | None = None,
    store: str | os.PathLike[str] | Store | None = None,
) -> list[DataCheck]:
    """Fingerprint the data a version recorded, where it is now, and compare file by file.

    Args:
        ref: the version (``"name@1.2.0"``, ``"name"``, ...).
        label: check only this data label (default: every label).
        location: check the data at this path or URL instead of the recorded one (needs ``label`` when the
            version has several labels).
        store: the store (default: the configured one, see :func:`modelver.choose_store`).

    Returns:
        One :class:`~modelver.DataCheck` per label, in label order.

    Raises:
        VersionNotFoundError: ``ref`` or ``label`` does not exist (the message lists the labels).
        InvalidReferenceError: ``ref`` is malformed.

    Example:
        >>> [c.status for c in modelver.check_data("churn@0.1.0")]  # doctest: +SKIP
        ['identical']
    """
    version = get(ref, store=store)
    return check_entries(version.ref, version.manifest.data, version.store, label=label, location=location)
