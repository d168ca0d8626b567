"""A notebook run's cells rebuilt: the recorded ``# %% [cell N]`` script read back, turned into a notebook (when
nbformat is installed) and written beside the tree; also how optional dependencies (nbformat, nbclient) are imported.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from modelver.capture.notebook import NOTEBOOK_SOURCE
from modelver.reproduction.builder import Builder

_CELL_MARKER = re.compile(r"^# %% \[cell \d+\]\n", re.MULTILINE)


def write_notebook(builder: Builder) -> None:
    """Write the recorded notebook cells as ``.modelver/notebook.ipynb`` (when nbformat is installed)."""
    nbformat = optional("nbformat")
    if nbformat is None:
        return
    builder.meta.mkdir(exist_ok=True)
    nbformat.write(notebook(nbformat, notebook_text(builder)), str(builder.meta / "notebook.ipynb"))


def notebook_text(builder: Builder) -> str:
    """The rebuilt notebook source: the cells of the recorded notebook, as text."""
    where = builder.meta if builder.version.manifest.code.git is not None else (builder.workdir or builder.target)
    return (where / NOTEBOOK_SOURCE).read_text(encoding="utf-8", errors="surrogateescape")


def optional(module: str) -> Any:
    """An optional dependency, or ``None`` when it is not installed (typed ``Any``: these ship no stubs)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def notebook(nbformat: Any, text: str) -> Any:
    """An nbformat v4 notebook of the code cells in ``text``."""
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(cell) for cell in _notebook_cells(text)]
    return book


def _notebook_cells(text: str) -> list[str]:
    """Split the recorded ``# %% [cell N]`` cells back into cell sources."""
    parts = _CELL_MARKER.split(text)
    return [part.rstrip("\n") for part in parts[1:]] if len(parts) > 1 else [text]
