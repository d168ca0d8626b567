"""The code of an IPython or Jupyter session: the running shell, found without importing IPython, and its executed
cells as one source, with the names under which a run records them (``"<notebook>"``, ``notebook.py``).
"""

from __future__ import annotations

import sys
from typing import Any

#: The ``entrypoint`` recorded for IPython and Jupyter sessions.
NOTEBOOK = "<notebook>"
#: The ``sources`` key of the executed notebook cells.
NOTEBOOK_SOURCE = "notebook.py"


def _ipython_shell() -> Any:
    """The running IPython shell, without importing IPython when the process has not (it is slow to import)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file:
        return None
    try:
        return ipython.get_ipython()
    except Exception:  # a broken IPython means "not a notebook", not a failed run
        return None


def _notebook_cells(shell: Any) -> str | None:
    if shell is None:
        return None
    cells = shell.user_ns.get("In") if isinstance(getattr(shell, "user_ns", None), dict) else None
    if not isinstance(cells, list):
        cells = list(getattr(getattr(shell, "history_manager", None), "input_hist_raw", None) or [])
    # In[0] is an empty placeholder, so the list index is the execution count the notebook shows.
    return "".join(
        f"# %% [cell {number}]\n{source.rstrip()}\n\n"
        for number, source in enumerate(cells)
        if isinstance(source, str) and source.strip()
    )
