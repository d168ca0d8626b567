"""The ``modelver`` command line: one module per command group, wired together in :mod:`.app`.

The entry point stays ``modelver.cli:main``. May import anything below it (the UI included).
"""

from __future__ import annotations

from modelver.cli.app import cli, main

__all__ = ["cli", "main"]
