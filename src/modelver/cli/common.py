"""What every CLI module shares: one console and the formatting helpers."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from rich.console import Console

from modelver.capture.flatten import flatten_config

#: Width of tables and trees when stdout is not a terminal (a pipe, a file, CI) and ``COLUMNS`` is unset: rich's
#: default of 80 columns would wrap numbers mid-digit and crop tree labels for whoever reads or greps the output.
PIPE_WIDTH = 200

#: soft_wrap: a long digest or path stays on one line when stdout is not a terminal.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def config_lines(config: Any, *, width: int = 80) -> list[str]:
    """The ``config     key = value`` lines ``modelver show`` and ``modelver runs show`` print.

    The config is flattened as ``modelver diff`` and the web UI flatten it (:func:`modelver.capture.flatten.
    flatten_config`: nested keys dotted, class envelopes dropped); each value is JSON, cut to ``width`` characters.

    Args:
        config: the config as recorded in a manifest (or a run record's manifest).
        width: the longest value shown, in characters, ``...`` included.

    Returns:
        One line per flattened key, in the config's order; none for an empty or missing config.

    Example:
        >>> config_lines({"lr": 0.1, "opt": {"name": "adam"}})
        ['config     lr = 0.1', 'config     opt.name = "adam"']
    """
    if config is None:
        return []
    lines = []
    for key, value in flatten_config(config).items():
        text = json.dumps(value, ensure_ascii=False)
        shown = text if len(text) <= width else text[: width - 3] + "..."
        lines.append(f"config     {key or '(config)'} = {shown}")
    return lines
