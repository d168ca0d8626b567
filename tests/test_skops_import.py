"""skops.io is imported without torch and, after the first time, without rebuilding its trust lists (issue 20)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("skops")

# Prints, after importing skops.io the way modelver does (or plainly), its trust lists and a few imported modules.
PROBE = """
import json, sys
from modelver.formats.skops_import import import_skops_io, trust_lists
{how}
print(json.dumps({{
    "lists": trust_lists(sys.modules["skops.io._trusted_types"]),
    "torch": "torch" in sys.modules,
    "walked": "sklearn.ensemble" in sys.modules,
}}))
"""


def probe(cache: Path, how: str = "import_skops_io()") -> dict[str, object]:
    """Run :data:`PROBE` in a fresh interpreter with ``cache`` as modelver's cache directory."""
    env = dict(os.environ, MODELVER_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", PROBE.format(how=how)], env=env, capture_output=True, text=True)
    assert 0 == out.returncode, out.stderr
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """What a plain ``import skops.io`` trusts (the reference every modelver import must match)."""
    return probe(tmp_path_factory.mktemp("plain"), how="import skops.io")


def test_first_import_skips_torch_and_trusts_the_same(plain: dict[str, object], tmp_path: Path) -> None:
    """Without a cache, skops' own code runs, minus the torch shim: same trust lists, torch never imported."""
    first = probe(tmp_path)
    assert plain["lists"] == first["lists"]
    assert False is first["torch"]
    assert 1 == len(list(tmp_path.glob("skops-trust-*.json")))


def test_later_imports_use_the_recorded_lists(plain: dict[str, object], tmp_path: Path) -> None:
    """With the cache filled, skops.io comes up with the same trust lists and without walking scikit-learn."""
    probe(tmp_path)
    again = probe(tmp_path)
    assert plain["lists"] == again["lists"]
    assert (False, False) == (again["torch"], again["walked"])


@pytest.mark.parametrize(
    "content",
    ['{"SKLEARN_ESTIMATOR_TYPE_NAMES": ["os.system; rm"]}', "not json", "[]", '{"PRIMITIVE_TYPE_NAMES": []}'],
)
def test_a_damaged_cache_entry_is_ignored_and_rewritten(plain: dict[str, object], tmp_path: Path, content: str) -> None:
    """A cache entry that is not a mapping of constants to dotted names is not used; skops' own code runs instead."""
    probe(tmp_path)
    (entry,) = tmp_path.glob("skops-trust-*.json")
    entry.write_text(content, encoding="utf-8")
    damaged = probe(tmp_path)
    assert plain["lists"] == damaged["lists"]
    assert True is damaged["walked"]
    assert plain["lists"] == json.loads(entry.read_text(encoding="utf-8"))


def test_a_model_round_trips_through_the_recorded_lists(tmp_path: Path) -> None:
    """A scikit-learn model saved and loaded in a process that used the cache predicts what the original did."""
    probe(tmp_path)
    code = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from modelver.formats import deserialize, serialize
x, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=500).fit(x, y)
stored = serialize(model)
print(stored.format, (deserialize(stored.data, stored.format).predict(x) == model.predict(x)).all())
"""
    env = dict(os.environ, MODELVER_CACHE=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    assert "skops True" == out.stdout.strip()
