"""The vetted scikit-learn allow-list: tree models load with no opt-in; crafted or unlisted types are still refused."""

from __future__ import annotations

import io
import json
import re
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import modelver
from helpers import run_python
from modelver import UnsafeFormatError
from modelver.formats import deserialize, serialize, sklearn_trust
from modelver.formats.sklearn_trust import TRUSTED_SKLEARN_TYPES, trusted_sklearn_types

ESTIMATORS = [
    "RandomForestClassifier(n_estimators=3, random_state=0)",
    "ExtraTreesClassifier(n_estimators=3, random_state=0)",
    "GradientBoostingClassifier(n_estimators=3, random_state=0)",
    "HistGradientBoostingClassifier(max_iter=3, random_state=0)",
    "HistGradientBoostingClassifier(max_iter=3, categorical_features=['cat'], random_state=0)",
    "DecisionTreeClassifier(random_state=0)",
    "IsolationForest(n_estimators=3, random_state=0)",
    "RandomForestRegressor(n_estimators=3, random_state=0)",
    "GradientBoostingRegressor(n_estimators=3, random_state=0)",
    "HistGradientBoostingRegressor(max_iter=3, random_state=0)",
]

TRAIN = """
import json, sys
import numpy as np, pandas as pd
import modelver
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import *
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

X, y = load_iris(return_X_y=True, as_frame=True)
X["cat"] = pd.Categorical(np.array(["a", "b", "c"])[np.arange(150) % 3])
numeric = X.drop(columns="cat")
expected = {}
for i, source in enumerate(json.loads(sys.argv[1])):
    alone = eval(source)
    piped = Pipeline([
        ("prep", ColumnTransformer([("num", StandardScaler(), list(numeric.columns)),
                                    ("cat", OneHotEncoder(), ["cat"])])),
        ("model", eval(source.replace("categorical_features=['cat'], ", ""))),
    ])
    for kind, model, features in (("alone", alone, X if "cat" in source else numeric), ("pipeline", piped, X)):
        model.fit(features, y)
        name = f"m{i}-{kind}"
        with modelver.track(name) as run:
            run.save_model(model)
        expected[name] = model.predict(features).tolist()
print(json.dumps(expected))
"""

LOAD = """
import json, sys
import numpy as np, pandas as pd
import modelver
from sklearn.datasets import load_iris

X, y = load_iris(return_X_y=True, as_frame=True)
X["cat"] = pd.Categorical(np.array(["a", "b", "c"])[np.arange(150) % 3])
numeric = X.drop(columns="cat")
actual = {}
for name, uses_cat in json.loads(sys.argv[1]).items():
    model = modelver.load(name)
    actual[name] = model.predict(X if uses_cat else numeric).tolist()
print(json.dumps(actual))
"""


def test_every_tree_model_alone_and_in_a_column_transformer_pipeline_round_trips_in_a_fresh_process(
    tmp_path: Path,
) -> None:
    """Each estimator the issue lists is published by one process and loaded with no opt-in by another, where it
    predicts exactly what it predicted before saving (the Tree / TreePredictor internals are on the vetted list)."""
    (tmp_path / "train.py").write_text(textwrap.dedent(TRAIN))
    (tmp_path / "load.py").write_text(textwrap.dedent(LOAD))
    trained = run_python(tmp_path / "train.py", json.dumps(ESTIMATORS), cwd=tmp_path).stdout
    expected = json.loads(trained.splitlines()[-1])
    uses_cat = {
        name: name.endswith("pipeline") or "cat" in ESTIMATORS[int(name[1:].split("-")[0])] for name in expected
    }
    loaded = run_python(tmp_path / "load.py", json.dumps(uses_cat), cwd=tmp_path).stdout
    assert 2 * len(ESTIMATORS) == len(expected)
    assert expected == json.loads(loaded.splitlines()[-1])


def _skops_with(tree_node: dict[str, Any]) -> bytes:
    """A real skops file of a fitted decision tree whose ``tree_`` node is replaced by ``tree_node``."""
    model = DecisionTreeClassifier(max_depth=1).fit(*load_iris(return_X_y=True))
    data = serialize(model, format="skops").data
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["content"]["tree_"] = tree_node
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, body in members.items():
            target.writestr(name, body)
    return out.getvalue()


def _text(value: str) -> dict[str, Any]:
    """A skops node for a string."""
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": 900001,
    }


def _call(module: str, name: str, *args: dict[str, Any]) -> dict[str, Any]:
    """A skops node that, if trusted, would call ``module.name(*args)`` while loading (``ConstructorFromReduceNode``,
    the node skops writes for objects rebuilt through ``__reduce__``)."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": list(args),
            "__id__": 900002,
        },
        "__id__": 900004,
    }


@pytest.mark.parametrize(
    ("module", "name", "command"),
    [
        ("os", "system", "touch {marker}"),
        ("builtins", "eval", "__import__('pathlib').Path({marker!r}).touch()"),
        ("subprocess", "getoutput", "touch {marker}"),
    ],
)
def test_a_crafted_skops_file_naming_a_code_running_callable_is_refused_and_runs_nothing(
    module: str, name: str, command: str, tmp_path: Path
) -> None:
    """os.system, builtins.eval and an unlisted callable are refused by name; the command they carry never runs."""
    marker = tmp_path / "ran"
    data = _skops_with(_call(module, name, _text(command.format(marker=str(marker)))))
    with pytest.raises(UnsafeFormatError, match=re.escape(f"{module}.{name}")) as caught:
        deserialize(data, "skops")
    assert "trusted=" in str(caught.value)
    assert not marker.exists()


def test_a_crafted_file_is_refused_through_modelver_load_too(tmp_path: Path) -> None:
    """A version whose model blob was replaced by a crafted file (someone with write access) is refused on load."""
    from modelver.provenance import created_by
    from modelver.tracking.spool import create_version_tag

    with modelver.track("tree") as run:
        run.save_model(DecisionTreeClassifier(max_depth=1).fit(*load_iris(return_X_y=True)))
    good = modelver.get("tree@0.1.0")
    marker = tmp_path / "ran"
    crafted = _skops_with(_call("os", "system", _text(f"touch {marker}")))
    body = json.loads(good.store.read_manifest(good.digest))
    entry = body["artifacts"]["model.skops"]
    entry.update(digest=good.store.put_bytes(crafted), size_bytes=len(crafted))
    from modelver.serde import canonical_json

    create_version_tag(good.store, "tree", good.store.put_manifest(canonical_json(body)), "9.0.0", created_by())
    assert isinstance(modelver.load("tree@0.1.0"), DecisionTreeClassifier)
    with pytest.raises(UnsafeFormatError, match=r"os\.system"):
        modelver.load("tree@9.0.0")
    assert not marker.exists()


def test_a_vetted_type_is_refused_under_a_scikit_learn_release_nobody_reviewed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is per release range: the same tree file loads under this release and is refused under a newer,
    unreviewed one, with a message that says why and how to opt in."""
    data = serialize(DecisionTreeClassifier(max_depth=1).fit(*load_iris(return_X_y=True)), format="skops").data
    assert isinstance(deserialize(data, "skops"), DecisionTreeClassifier)
    newest = max(entry.before for entry in TRUSTED_SKLEARN_TYPES)
    monkeypatch.setattr(sklearn_trust, "installed_sklearn_version", lambda: newest)
    monkeypatch.setattr("modelver.formats.sklearn.installed_sklearn_version", lambda: newest)
    with pytest.raises(UnsafeFormatError, match="vetted for other scikit-learn releases") as caught:
        deserialize(data, "skops")
    assert "trusted=['sklearn.tree._tree.Tree']" in str(caught.value)
    assert isinstance(deserialize(data, "skops", trusted=["sklearn.tree._tree.Tree"]), DecisionTreeClassifier)


def test_the_allow_list_covers_only_reviewed_ranges_and_is_documented() -> None:
    """Unknown or too-old releases trust nothing; every listed type has its reasoning in docs/security.md."""
    assert frozenset() == trusted_sklearn_types(None)
    assert frozenset() == trusted_sklearn_types((1, 2))
    docs = (Path(__file__).parents[1] / "docs" / "security.md").read_text()
    section = docs.split("## Trusted scikit-learn types", 1)[1].split("\n## ", 1)[0]
    assert [] == [entry.name for entry in TRUSTED_SKLEARN_TYPES if f"`{entry.name}`" not in section]


def _edit_nodes(data: bytes, field: str, change: Any) -> bytes:
    """The skops file with ``change(nodes)`` applied to every node array that has ``field`` (a hand edit)."""
    import numpy as np

    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    for name, body in members.items():
        if name.endswith(".npy"):
            array = np.load(io.BytesIO(body), allow_pickle=False)
            if array.dtype.names and field in array.dtype.names:
                change(array)
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                members[name] = buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, body in members.items():
            target.writestr(name, body)
    return out.getvalue()


def _edit_max_depth(data: bytes, depth: int) -> bytes:
    """The skops file with the tree's recorded ``max_depth`` replaced by ``depth`` (a hand edit)."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    schema = json.loads(members["schema.json"])
    node = schema["content"]["content"]["tree_"]["content"]["content"]["max_depth"]
    node.update(content=str(depth), __id__=900005)  # a fresh id: skops reuses the node of an id it has seen
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, body in members.items():
            target.writestr(name, body)
    return out.getvalue()


def _set(field: str, value: int, node: int = 0) -> Any:
    def change(nodes: Any) -> None:
        nodes[field][node] = value

    return change


@pytest.mark.parametrize(
    ("model", "field", "change", "problem"),
    [
        ("DecisionTreeClassifier", "left_child", _set("left_child", 10**6), "children 1000000"),
        ("DecisionTreeClassifier", "left_child", _set("left_child", 0), "children 0"),
        ("RandomForestClassifier", "feature", _set("feature", 40), "feature 40 of 4"),
        ("DecisionTreeClassifier", "max_depth", None, "max_depth 1"),
        ("HistGradientBoostingClassifier", "is_leaf", _set("right", 10**6), "children"),
        ("HistGradientBoostingClassifier", "is_leaf", _set("feature_idx", 7), "feature 7 of 4"),
        ("HistGradientBoostingClassifier", "is_leaf", _set("is_categorical", 1), "bitset"),
    ],
)
def test_a_vetted_tree_whose_node_indices_were_edited_by_hand_is_refused(
    model: str, field: str, change: Any, problem: str
) -> None:
    """Out-of-range children, a feature the model does not have or a missing bitset would make scikit-learn's
    unchecked predict read outside its arrays: the load is refused before anyone can call predict."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    estimators = {
        "DecisionTreeClassifier": DecisionTreeClassifier(max_depth=2, random_state=0),
        "RandomForestClassifier": RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0),
        "HistGradientBoostingClassifier": HistGradientBoostingClassifier(max_iter=2, random_state=0),
    }
    fitted = estimators[model].fit(*load_iris(return_X_y=True))
    data = serialize(fitted, format="skops").data
    assert type(fitted) is type(deserialize(data, "skops"))
    edited = _edit_nodes(data, field, change) if change else _edit_max_depth(data, 1)
    with pytest.raises(UnsafeFormatError, match="malformed") as caught:
        deserialize(edited, "skops")
    assert problem in str(caught.value)
