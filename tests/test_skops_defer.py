"""skops.io is imported without `sklearn.cluster` and `sklearn.tree`, and skops' checks stay the same (issue 20)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("skops")

from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from modelver.formats.skops_defer import DEFERRED


def fresh(code: str, cache: Path) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter after skops' trust lists were recorded in ``cache``; return its JSON."""
    env = dict(os.environ, MODELVER_CACHE=str(cache))
    record = "from modelver.formats.skops_import import import_skops_io\nimport_skops_io()"
    subprocess.run([sys.executable, "-c", record], env=env, capture_output=True, text=True, timeout=300, check=True)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert 0 == out.returncode, out.stderr
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_importing_skops_imports_no_clustering_or_tree_package(tmp_path: Path) -> None:
    """After `import_skops_io()` from recorded lists, neither `sklearn.cluster` nor `sklearn.tree` is imported."""
    code = (
        "import json, sys\nfrom modelver.formats.skops_import import import_skops_io\nimport_skops_io()\n"
        "print(json.dumps(sorted(m for m in ('sklearn.cluster', 'sklearn.tree', 'sklearn.tree._tree', "
        "'sklearn.neighbors') if m in sys.modules)))"
    )
    env = dict(os.environ, MODELVER_CACHE=str(tmp_path))
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    assert [] == json.loads(out.stdout.splitlines()[-1])


def test_real_classes_get_skops_save_dispatch_once_imported(tmp_path: Path) -> None:
    """Importing scikit-learn's real modules afterwards gives skops the real classes: Birch is still refused on save,
    Tree still saved by `tree_get_state`, and the import hook is gone."""
    code = """
import json, sys
from modelver.formats.skops_import import import_skops_io
sio = import_skops_io()
import sklearn.cluster, sklearn.tree
import skops.io._sklearn as dispatch, skops.io._utils as utils
from skops.io.exceptions import UnsupportedTypeException
try:
    sio.dumps(sklearn.cluster.Birch(n_clusters=None).fit([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]))
    birch = "saved"
except UnsupportedTypeException:
    birch = "refused"
print(json.dumps({
    "birch": birch,
    "tree": utils._get_state.dispatch(sklearn.tree._tree.Tree).__name__,
    "same": [dispatch.Tree is sklearn.tree._tree.Tree, dispatch.Birch is sklearn.cluster.Birch,
             dispatch.UNSUPPORTED_TYPES == {sklearn.cluster.Birch}],
    "hooks": [type(f).__name__ for f in sys.meta_path if type(f).__module__.startswith("modelver")],
}))
"""
    assert {"birch": "refused", "tree": "tree_get_state", "same": [True] * 3, "hooks": []} == fresh(code, tmp_path)


def test_a_tree_model_round_trips_and_an_untrusted_tree_stays_refused(tmp_path: Path) -> None:
    """A DecisionTreeClassifier saved with skops loads through modelver (which trusts and checks Tree) with the same
    predictions, while a plain `skops.io.loads` in the same process still refuses `sklearn.tree._tree.Tree`."""
    x, y = load_iris(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y)
    from modelver.formats import serialize

    (tmp_path / "tree.skops").write_bytes(serialize(model).data)
    code = f"""
import json
from pathlib import Path
from modelver.formats import deserialize
from modelver.formats.skops_import import import_skops_io
from skops.io.exceptions import UntrustedTypesFoundException
data = Path({str(tmp_path / "tree.skops")!r}).read_bytes()
try:
    import_skops_io().loads(data)
    plain = "loaded"
except UntrustedTypesFoundException as exc:
    plain = "refused" if "sklearn.tree._tree.Tree" in str(exc) else str(exc)
print(json.dumps({{"plain": plain, "predictions": deserialize(data, "skops").predict({x.tolist()!r}).tolist()}}))
"""
    assert {"plain": "refused", "predictions": model.predict(x).tolist()} == fresh(code, tmp_path)


def test_stand_ins_name_the_real_modules() -> None:
    """Each deferred class is defined where the table says (its stand-in carries that `__module__` to skops)."""
    import importlib

    actual = {
        module: {attr: getattr(importlib.import_module(module), attr).__module__ for attr in classes}
        for module, classes in DEFERRED.items()
    }
    assert DEFERRED == actual
