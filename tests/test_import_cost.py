"""`import modelver` is cheap: public names are imported on first use, and nothing heavy comes with the package."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import modelver

# Libraries a bare `import modelver` must not load: format libraries, fsspec and its remote backends, the UI stack.
HEAVY = {
    "adlfs", "blake3", "fsspec", "gcsfs", "jinja2", "joblib", "numpy", "onnx", "pandas", "polars", "pyarrow",
    "s3fs", "safetensors", "scipy", "skops", "sklearn", "starlette", "torch", "uvicorn", "yaml",
}  # fmt: skip


def fresh_modules(code: str) -> set[str]:
    """The top-level names of the modules in `sys.modules` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


def test_import_modelver_loads_no_heavy_library() -> None:
    """A fresh `import modelver` leaves every format library, fsspec backend and UI library unimported."""
    assert [] == sorted(fresh_modules("import modelver") & HEAVY)


def test_import_modelver_imports_no_subpackage() -> None:
    """A fresh `import modelver` imports none of its own subpackages (each public name waits for its first use)."""
    script = "import modelver, sys\nprint(sorted(m for m in sys.modules if m.startswith('modelver.')))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert "['modelver._version']" == out.stdout.strip()


def test_load_for_serving_imports_no_format_library() -> None:
    """`from modelver import load` (what serving code runs first) still imports no format or UI library."""
    heavy = HEAVY - {"fsspec", "blake3"}  # the store and the digest are what loading needs
    assert [] == sorted(fresh_modules("from modelver import load") & heavy)


def test_every_public_name_imports_in_a_fresh_process() -> None:
    """`from modelver import *` and `from modelver import X` give every name of `__all__`, as the eager package did."""
    script = "from modelver import *\nimport modelver\nprint(sorted(set(modelver.__all__) - set(globals())))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert "[]" == out.stdout.strip()


def test_public_names_are_the_defining_modules_objects() -> None:
    """Each lazily imported name is the very object its module defines (no copies, no wrappers)."""
    import importlib

    mismatched = [
        name
        for name, module in modelver._LAZY.items()
        if getattr(modelver, name) is not getattr(importlib.import_module(module), name)
    ]
    assert [] == mismatched
    assert set(modelver.__all__) - {"__version__"} == set(modelver._LAZY)


def test_unknown_attribute_raises_attribute_error() -> None:
    """A name modelver does not offer raises AttributeError (so `hasattr` and `getattr(..., default)` work)."""
    with pytest.raises(AttributeError, match="no_such_name"):
        modelver.no_such_name  # noqa: B018 - the attribute access is the test
    assert "sentinel" == getattr(modelver, "no_such_name", "sentinel")


def test_dir_lists_names_not_imported_yet() -> None:
    """`dir(modelver)` offers every public name, so completion works before anything is imported."""
    assert set() == set(modelver.__all__) - set(dir(modelver))
