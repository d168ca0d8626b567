"""What every CLI module shares: one console and the formatting helpers."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from modelver.capture.flatten import flatten_config

#: Width of tables and trees when stdout is not a terminal (a pipe, a file, CI) and ``COLUMNS`` is unset: rich's
#: default of 80 columns would wrap numbers mid-digit and crop tree labels for whoever reads or greps the output.
PIPE_WIDTH = 200

#: soft_wrap: a long digest or path stays on one line when stdout is not a terminal.
console = Console(
    soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH
)


def esc(value: object) -> str:
    """``value`` as text safe to put inside a rich markup string: user text keeps its square brackets.

    Every user-provided or stored value the CLI prints (names, reasons, ``--by``, labels, error messages) goes through
    this (or :func:`add_plain_row`), so that ``[bob]`` prints as ``[bob]`` instead of being read as a style tag;
    modelver's own tags (``[bold]``, ``[red]``) stay outside it.

    Args:
        value: any value; ``None`` becomes ``""``.

    Returns:
        ``str(value)`` with rich markup escaped.

    Example:
        >>> print(esc("[fix] better than [red]old[/red]"))
        \\[fix] better than \\[red]old\\[/red]
    """
    return "" if value is None else escape(str(value))


def add_plain_row(table: Table, *cells: str | Text) -> None:
    """Add a row to ``table`` whose string cells are shown as they are, never read as rich markup.

    Args:
        table: the rich table.
        *cells: the cells; a :class:`rich.text.Text` keeps its styling (build styled cells with
            :func:`styled`), a ``str`` is shown verbatim.

    Example:
        >>> table = Table("by")
        >>> add_plain_row(table, "[bob]")
        >>> table.columns[0]._cells[0].plain
        '[bob]'
    """
    table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in cells))


def styled(text: str, style: str, rest: str = "") -> Text:
    """A table cell: ``text`` in ``style`` (e.g. ``"red"``), then ``rest`` (if any) after a space, both verbatim.

    Args:
        text: the styled part (a status such as ``ok``).
        style: a rich style name.
        rest: plain text after it (a detail), shown verbatim.

    Returns:
        The cell as a :class:`rich.text.Text`.

    Example:
        >>> styled("missing", "red", "[x]").plain
        'missing [x]'
    """
    cell = Text(text, style=style)
    if rest:
        cell.append(" " + rest)
    return cell


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
