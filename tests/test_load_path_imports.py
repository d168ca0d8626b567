"""The serving path stays lean: `modelver.load` imports nothing that loading a model does not use (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import modelver
from helpers import run_python

# Modules `modelver.load(ref)` has no use for: hooks and their HTTP delivery (only a `deployment=` load records an
# event), config decoding (only `ModelVersion.config()`), packaging's tag tables (envcheck needs one regex).
# (The stdlib's urllib.request is not listed: skops' first import in an environment, before its trust lists are
# recorded, imports all of scikit-learn, sklearn.datasets and urllib.request with it.)
OFF_THE_LOAD_PATH = [
    "modelver.capture.config_decode",
    "modelver.capture.flatten",
    "modelver.hooks.delivery",
    "modelver.registry.deployments",
    "modelver.registry.notify",
    "packaging.tags",
]


def _serve(tmp_path: Path, code: str) -> list[str]:
    """Run ``code`` after `import modelver` in a fresh interpreter; return its `sys.modules`, sorted."""
    script = tmp_path / "serve.py"
    script.write_text(f"import json, sys\nimport modelver\n{code}\nprint(json.dumps(sorted(sys.modules)))\n")
    return list(json.loads(run_python(script, cwd=tmp_path).stdout.splitlines()[-1]))


def _publish_model() -> None:
    x, y = load_iris(return_X_y=True)
    with modelver.track("lean") as run:
        run.save_model(LogisticRegression(max_iter=300).fit(x, y))


def test_plain_load_imports_no_hooks_config_or_http_module(tmp_path: Path) -> None:
    """A fresh process that runs `modelver.load("lean@0.1.0")` and predicts imports none of OFF_THE_LOAD_PATH."""
    _publish_model()
    modules = _serve(tmp_path, "model = modelver.load('lean@0.1.0')\nassert len(model.predict([[5, 3, 1, 0]])) == 1")
    assert [] == [name for name in OFF_THE_LOAD_PATH if name in modules]


def test_plain_load_with_a_cache_dir_set_imports_no_platformdirs(tmp_path: Path) -> None:
    """With $MODELVER_STORE and $MODELVER_CACHE set (the fixture sets both), no platformdirs is imported."""
    _publish_model()
    modules = _serve(tmp_path, "modelver.load('lean@0.1.0')")
    assert "platformdirs" not in modules


def test_deployment_load_still_records_the_served_event(tmp_path: Path) -> None:
    """`load(..., deployment=)` imports what it needs on demand and records the `served` event as before."""
    _publish_model()
    _serve(tmp_path, "modelver.load('lean@0.1.0', deployment='prod-eu')")
    assert [("prod-eu", "served", "0.1.0")] == [(d.target, d.source, d.version) for d in modelver.deployments("lean")]


def test_config_is_decoded_after_the_lazy_import() -> None:
    """`ModelVersion.config()` imports its decoders on first use and still gives the config back."""
    with modelver.track("configured", config={"lr": 0.01, "layers": [3, 4]}) as run:
        run.save_model({"k": 1})
    version = modelver.get("configured@0.1.0")
    assert {"lr": 0.01, "layers": [3, 4]} == version.config()
    assert {"lr": 0.01, "layers": [3, 4]} == version.config(plain=True)
