"""Structural checks of the tree internals that the vetted scikit-learn allow-list lets load without an opt-in.

skops leaves ``sklearn.tree._tree.Tree`` and ``TreePredictor`` untrusted on purpose: their node arrays hold child
and feature indices that scikit-learn's Cython ``predict`` follows without bounds checks, so a hand-edited file can
crash the process or read outside an array (skops' ``UNTRUSTED_TYPE_REASONS``). Rebuilding them runs no code; using
them is safe once those indices are proved in range. :func:`check_tree_structures` proves it right after loading,
before the model is handed to anyone, and refuses the model otherwise. The reasoning is in ``docs/security.md``.

What is checked, per tree (the invariants scikit-learn's own builders guarantee):

- ``Tree``: ``1 <= node_count <= capacity``; a leaf has both children ``-1``; an inner node's children are both in
  ``(index, node_count)`` (children come after their parent, so following them always ends at a leaf); an inner
  node's feature is in ``[0, n)`` where ``n`` is the smaller of the tree's ``n_features`` and the enclosing
  estimator's ``n_features_in_`` (which ``predict`` checks the input against); no path is deeper than
  ``max_depth`` (``decision_path`` sizes its output by it).
- ``TreePredictor``: the node array has scikit-learn's record dtype and at least one node; children as above; the
  feature in ``[0, n_features_in_)``; a categorical split names a bitset row that exists in both bitset arrays
  (2-D, 8 ``uint32`` words: the 256 categories a ``uint8`` bin can hold) and a feature the model's bin mapper marks
  categorical (``predict`` looks its known categories up through that mark).
"""

from __future__ import annotations

from typing import Any

from modelver.errors import UnsafeFormatError

__all__ = ["check_tree_structures"]

_TREE = ("sklearn.tree._tree", "Tree")
_PREDICTOR = ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor")
_MAX_OBJECTS = 10_000_000


def check_tree_structures(model: object) -> int:
    """Check every ``Tree`` and ``TreePredictor`` reachable from a loaded model (the rules are in the module
    docstring).

    Args:
        model: what skops loaded: an estimator, a pipeline, or any container of them.

    Returns:
        The number of trees checked.

    Raises:
        UnsafeFormatError: a tree's node array points outside itself or at a feature the model does not have (a
            hand-edited file); the message names the tree and what is wrong.

    Example:
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> check_tree_structures([DecisionTreeClassifier().fit([[0], [1]], [0, 1])])
        1
    """
    import numpy as np

    checked = 0
    seen: set[int] = set()
    stack: list[tuple[object, int | None, object, str]] = [(model, None, None, "model")]
    while stack:
        obj, n_features, owner, where = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        seen.add(id(obj))
        if len(seen) > _MAX_OBJECTS:
            raise UnsafeFormatError(f"the model holds more than {_MAX_OBJECTS:,} objects; refusing to check it")
        kind = (type(obj).__module__, type(obj).__name__)
        if kind == _TREE:
            _check_tree(np, obj, n_features, where)
            checked += 1
        elif kind == _PREDICTOR:
            _check_predictor(np, obj, n_features, owner, where)
            checked += 1
        elif isinstance(obj, dict):
            stack.extend((value, n_features, owner, f"{where}[{key!r}]") for key, value in obj.items())
        elif isinstance(obj, (list, tuple)):
            stack.extend((value, n_features, owner, f"{where}[{i}]") for i, value in enumerate(obj))
        elif isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend((value, n_features, owner, f"{where}[{i}]") for i, value in enumerate(obj.flat))
        elif hasattr(obj, "__dict__"):
            declared = vars(obj).get("n_features_in_")
            inner = declared if isinstance(declared, int) and not isinstance(declared, bool) else n_features
            stack.extend((value, inner, obj, f"{where}.{key}") for key, value in vars(obj).items())
    return checked


def _refuse(where: str, what: str) -> UnsafeFormatError:
    return UnsafeFormatError(
        f"the skops file's tree at {where} is malformed ({what}); scikit-learn would read outside its arrays when "
        f"predicting, so the model is refused. Re-save it from its training code (a fitted model always passes this "
        f"check), and find out who wrote this file to the store"
    )


def _check_children(np: Any, left: Any, right: Any, inner: Any, where: str) -> None:
    count = len(left)
    index = np.arange(count)
    ok = (left > index) & (right > index) & (left < count) & (right < count)
    bad = np.flatnonzero(inner & ~ok)
    if bad.size:
        node = int(bad[0])
        raise _refuse(where, f"node {node} has children {int(left[node])}, {int(right[node])} of {count} nodes")


def _check_features(np: Any, feature: Any, inner: Any, n_features: int, where: str) -> None:
    bad = np.flatnonzero(inner & ((feature < 0) | (feature >= n_features)))
    if bad.size:
        raise _refuse(where, f"node {int(bad[0])} splits on feature {int(feature[bad[0]])} of {n_features}")


def _check_tree(np: Any, tree: Any, n_features: int | None, where: str) -> None:
    count, capacity = int(tree.node_count), int(tree.capacity)
    if not 1 <= count <= capacity:
        raise _refuse(where, f"node_count {count} with room for {capacity} nodes")
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    leaf = left == -1
    if np.any(leaf & (right != -1)):
        raise _refuse(where, f"leaf {int(np.flatnonzero(leaf & (right != -1))[0])} has a right child")
    _check_children(np, left, right, ~leaf, where)
    limit = int(tree.n_features) if n_features is None else min(int(tree.n_features), n_features)
    _check_features(np, np.asarray(tree.feature, dtype=np.int64), ~leaf, limit, where)
    # decision_path allocates (1 + max_depth) entries per sample and writes one per node on the path; with the
    # children checked, compute_node_depths (root = 1) terminates and its maximum is the longest path.
    deepest = int(np.max(tree.compute_node_depths())) - 1
    if deepest > int(tree.max_depth):
        raise _refuse(where, f"a path {deepest} deep in a tree that says max_depth {int(tree.max_depth)}")


def _check_predictor(np: Any, predictor: Any, n_features: int | None, owner: object, where: str) -> None:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = getattr(predictor, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or not nodes.size:
        raise _refuse(where, "its nodes are not a non-empty array of scikit-learn's predictor records")
    if n_features is None:
        raise _refuse(where, "it is not inside a fitted HistGradientBoosting model that says how many features it has")
    inner = nodes["is_leaf"] == 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    _check_children(np, left, right, inner, where)
    _check_features(np, nodes["feature_idx"].astype(np.int64), inner, n_features, where)
    categorical = inner & (nodes["is_categorical"] != 0)
    if not np.any(categorical):
        return
    rows = []
    for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
        bitsets = getattr(predictor, name, None)
        if not isinstance(bitsets, np.ndarray) or bitsets.ndim != 2 or bitsets.shape[1] < 8:
            raise _refuse(where, f"{name} is not a 2-D array of 8-word bitsets")
        rows.append(bitsets.shape[0])
    bad = np.flatnonzero(categorical & (nodes["bitset_idx"].astype(np.int64) >= min(rows)))
    if bad.size:
        raise _refuse(where, f"node {int(bad[0])} names bitset {int(nodes['bitset_idx'][bad[0]])} of {min(rows)}")
    marks = getattr(getattr(owner, "_bin_mapper", None), "is_categorical_", None)
    features = nodes["feature_idx"][categorical].astype(np.int64)
    if not isinstance(marks, np.ndarray) or marks.ndim != 1 or len(marks) < n_features or not np.all(marks[features]):
        raise _refuse(where, "a categorical split is on a feature the model's bin mapper does not mark categorical")
