"""Warnings that point at the user's code, not at modelver's.

``warnings.warn`` blames the frame ``stacklevel`` levels up; modelver reaches a warning through a varying number of
its own frames (``track().__exit__``, a step wrapper, a capture thread's join), so a fixed level lands inside the
library. :func:`warn_user` blames the first frame outside the package instead, as Python 3.12's
``skip_file_prefixes`` does (this package supports 3.10).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that, passed by the caller of this function to ``warnings.warn``, names the first frame
    outside modelver (1 when the caller itself is outside)."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def warn_user(message: str, category: type[Warning]) -> None:
    """Issue ``message`` blamed on the user's frame. Never raises: under ``-W error`` a warning is an exception, and
    tracking must not break training through one (the failure is already recorded in the bundle)."""
    with contextlib.suppress(Exception):
        warnings.warn(message, category, stacklevel=user_stacklevel())
