"""Lazy format registration: a built-in format's module is imported when that format is first used (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import modelver
from helpers import run_python
from modelver.formats import core

# Libraries and format modules a `modelver.load` of a skops model has no use for. (pyarrow is not listed: scikit-learn
# imports pandas, which imports it, in a plain `joblib.load` too.)
UNUSED_BY_SKOPS = [
    "keras",
    "lightgbm",
    "modelver.formats.keras",
    "modelver.formats.lightgbm",
    "modelver.formats.onnx",
    "modelver.formats.parquet",
    "modelver.formats.torch",
    "modelver.formats.xgboost",
    "onnx",
    "safetensors",
    "torch",
    "xgboost",
    "yaml",
]


def _fresh(code: str, cwd: Path) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it ends by printing one JSON value, which is returned."""
    script = cwd / "fresh.py"
    script.write_text(code)
    return dict(json.loads(run_python(script, cwd=cwd).stdout.splitlines()[-1]))


def test_importing_the_formats_package_imports_no_format_module(tmp_path: Path) -> None:
    """`import modelver.formats` imports only its core; the built-in names are still all listed."""
    out = _fresh(
        "import json, sys\nimport modelver.formats as f\n"
        "print(json.dumps({'modules': sorted(m for m in sys.modules if m.startswith('modelver.formats')),"
        " 'names': list(f.FORMATS)}))\n",
        tmp_path,
    )
    assert ["modelver.formats", "modelver.formats.core"] == out["modules"]
    assert list(core.BUILTIN_FORMATS) == out["names"]


def test_get_format_imports_only_the_module_of_that_format(tmp_path: Path) -> None:
    """`get_format("npy")` imports `modelver.formats.numpy` and no other format module."""
    out = _fresh(
        "import json, sys\nfrom modelver.formats import get_format\nfmt = get_format('npy')\n"
        "print(json.dumps({'modules': sorted(m for m in sys.modules if m.startswith('modelver.formats.')),"
        " 'ext': fmt.extension}))\n",
        tmp_path,
    )
    assert ["modelver.formats.core", "modelver.formats.numpy"] == out["modules"]
    assert ".npy" == out["ext"]


def test_builtin_table_matches_what_the_modules_register() -> None:
    """Every table row names the module that registers the format, with its suffixes, in the old import order."""
    registered = modelver.formats.formats()
    rows = {
        name: (type(fmt).__module__.rpartition(".")[2], fmt.suffixes)
        for name, fmt in registered.items()
        if name in core.BUILTIN_FORMATS
    }
    assert core.BUILTIN_FORMATS == rows
    assert list(core.BUILTIN_FORMATS) == list(registered)[: len(core.BUILTIN_FORMATS)]


def test_detection_order_is_the_eager_registrys_order(tmp_path: Path) -> None:
    """In a fresh process, `formats()` lists the built-ins in the order the eager package registered them."""
    out = _fresh(
        "import json\nfrom modelver.formats import formats\nprint(json.dumps({'n': list(formats())}))\n", tmp_path
    )
    eager = [
        "directory", "keras", "lightgbm", "npy", "onnx", "parquet", "pickle", "joblib", "prompt", "skops", "json",
        "yaml", "text", "torch", "torchscript", "torch-pickle", "torch-state", "xgboost",
    ]  # fmt: skip
    assert eager == out["n"]


def test_a_builtin_name_stays_taken_before_its_module_is_imported(tmp_path: Path) -> None:
    """Registering another class as "onnx" in a fresh process is refused, though the onnx module was not imported."""
    code = (
        "import json\nimport modelver\nclass Fake(modelver.Format):\n    name = 'onnx'\n"
        "try:\n    modelver.register_format(Fake)\n    print(json.dumps({'r': 'accepted'}))\n"
        "except modelver.FormatError as exc:\n    print(json.dumps({'r': str(exc)}))\n"
    )
    assert "already taken by modelver.formats.onnx.Onnx" in str(_fresh(code, tmp_path)["r"])


def test_a_path_is_detected_by_suffix_importing_only_the_claiming_module(tmp_path: Path) -> None:
    """`choose_format(Path("m.onnx"))` picks onnx and imports no module that claims no `.onnx` suffix."""
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    out = _fresh(
        "import json, sys\nfrom pathlib import Path\nfrom modelver.formats import choose_format\n"
        "fmt = choose_format(Path('m.onnx'))\n"
        "print(json.dumps({'name': fmt.name, 'modules': sorted(m for m in sys.modules "
        "if m.startswith('modelver.formats.'))}))\n",
        tmp_path,
    )
    assert {"name": "onnx", "modules": ["modelver.formats.core", "modelver.formats.onnx"]} == out


def test_load_of_a_skops_model_imports_no_unused_format(tmp_path: Path) -> None:
    """A fresh process that runs `modelver.load` of a skops model imports no module or library of another format."""
    x, y = load_iris(return_X_y=True)
    with modelver.track("lazy") as run:
        run.save_model(LogisticRegression(max_iter=300).fit(x, y))
    script = tmp_path / "serve.py"
    script.write_text(
        "import json, sys\nimport modelver\nm = modelver.load('lazy@0.1.0')\n"
        "assert len(m.predict([[5, 3, 1, 0]])) == 1\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    modules = set(json.loads(run_python(script, cwd=tmp_path).stdout.splitlines()[-1]))
    assert [] == [name for name in UNUSED_BY_SKOPS if name in modules]
    assert "modelver.formats.sklearn" in modules
