"""Who and when: the writer and timestamp every record (manifest, event, run record) carries."""

from __future__ import annotations

import getpass
import socket
from datetime import datetime, timezone

from modelver.manifest import CreatedBy


def utc_now() -> str:
    """The current time as RFC 3339 UTC with milliseconds, e.g. ``2026-11-29T16:01:02.345Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def created_by() -> CreatedBy:
    """The OS user and host name (``"unknown"`` where they cannot be read, e.g. a container with no passwd)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return CreatedBy(user=user, host=socket.gethostname() or "unknown")
