"""The quickstart notebook runs top to bottom in a real Jupyter kernel, so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

import modelver

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_executes_and_publishes(tmp_path: Path) -> None:
    """Executing the notebook publishes a version whose code facet is the notebook's cells."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    version = modelver.get("wine-quickstart@latest")
    assert "<notebook>" == version.manifest.code.entrypoint
    cells = version.store.read_blob(version.manifest.code.sources["notebook.py"]).decode()
    assert 'modelver.track("wine-quickstart"' in cells
    assert version.manifest.metrics["accuracy"] > 0.8
    outputs = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "same predictions" in outputs
