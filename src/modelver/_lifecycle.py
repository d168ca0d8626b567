"""Deprecated: ``modelver._lifecycle`` moved to :mod:`modelver.registry.lifecycle`.

Public names: modelver.promote, modelver.rollback, modelver.yank, ....

Kept importable for one release because earlier docs sent readers here; every name read from it
warns with a ``DeprecationWarning`` naming the new place. Removed in the next minor release.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_NEW = "modelver.registry.lifecycle"
_PUBLIC = "modelver.promote, modelver.rollback, modelver.yank, ..."


def __getattr__(name: str) -> Any:
    """Forward ``name`` to :mod:`modelver.registry.lifecycle` with a ``DeprecationWarning``."""
    if name.startswith("__"):
        raise AttributeError(name)
    warnings.warn(
        f"modelver._lifecycle is deprecated and will be removed; import {name} from {_NEW} (public: {_PUBLIC})",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(_NEW), name)
