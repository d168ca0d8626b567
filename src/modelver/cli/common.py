"""What every CLI module shares: one console and the formatting helpers."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from rich.console import Console

#: Width of tables and trees when stdout is not a terminal (a pipe, a file, CI) and ``COLUMNS`` is unset: rich's
#: default of 80 columns would wrap numbers mid-digit and crop tree labels for whoever reads or greps the output.
PIPE_WIDTH = 200

#: soft_wrap: a long digest or path stays on one line when stdout is not a terminal.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
