"""Human-readable quantities shared by the CLI and the web UI."""

from __future__ import annotations


def human_bytes(size: float) -> str:
    """``1536`` → ``"1.5 KiB"`` (IEC units)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
