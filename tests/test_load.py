"""load()/get(): resolution, verification, safe formats, bad references, the default store."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import modelver
from helpers import run_python
from modelver import IntegrityError, InvalidReferenceError, UnsafeFormatError, VersionNotFoundError


class Opaque:
    """An object no safe format fits."""

    def __init__(self, value: int) -> None:
        self.value = value


def _publish(name: str, obj: object, *, version: str | None = None, allow_pickle: bool = False) -> str:
    with modelver.track(name, version=version) as run:
        run.save_model(obj, allow_pickle=allow_pickle)
    assert run.version is not None
    return run.version.version


def test_sklearn_model_round_trips_through_skops() -> None:
    """A fitted estimator loads back and predicts exactly as before."""
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(x, y)
    _publish("iris", model)
    loaded = modelver.load("iris@0.1.0")
    assert model.predict_proba(x).tolist() == loaded.predict_proba(x).tolist()


def test_numpy_and_json_artifacts_round_trip() -> None:
    """Arrays use .npy (no pickle), JSON-able dicts use JSON."""
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    with modelver.track("m") as run:
        run.save_model(array, name="weights")
        run.save_model({"threshold": 0.3, "labels": ["a", "b"]}, name="settings")
    loaded = modelver.load("m", name="weights")
    assert (array.dtype, array.tolist()) == (loaded.dtype, loaded.tolist())
    assert {"threshold": 0.3, "labels": ["a", "b"]} == modelver.load("m", name="settings")
    with pytest.raises(VersionNotFoundError, match=r"settings\.json \(json\)"):
        modelver.load("m")  # two loadable artifacts and no name: ambiguous, and the message lists them


def test_pickle_needs_opt_in_at_save_and_at_load() -> None:
    """No safe format: refused without allow_pickle (nothing stored); with it, load needs allow_pickle too."""
    with modelver.track("m") as run:
        with pytest.raises(UnsafeFormatError, match="allow_pickle=True"):
            run.save_model(Opaque(3))
        run.save_model(Opaque(3), allow_pickle=True)
    assert run.version is not None
    assert ["model.pkl"] == list(run.version.manifest.artifacts)
    with pytest.raises(UnsafeFormatError, match="unpickling runs arbitrary code"):
        modelver.load("m@0.1.0")
    assert 3 == modelver.load("m@0.1.0", allow_pickle=True).value


def _halve(x: Any) -> Any:
    """A user's function, which neither skops nor modelver's vetted list trusts."""
    return x / 2


def test_skops_types_outside_the_default_trust_need_the_callers_list() -> None:
    """A random forest's sklearn.tree._tree.Tree is on the vetted list and loads as is; a user's function inside a
    pipeline is refused until the caller lists it."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, y = load_iris(return_X_y=True)
    _publish("forest", RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y))
    assert 3 == len(modelver.load("forest").estimators_)
    model = make_pipeline(FunctionTransformer(_halve), RandomForestClassifier(n_estimators=3, random_state=0))
    _publish("halved", model.fit(x, y))
    with pytest.raises(UnsafeFormatError, match=r"test_load\._halve"):
        modelver.load("halved")
    loaded = modelver.load("halved", trusted=["test_load._halve"])
    assert model.predict(x).tolist() == loaded.predict(x).tolist()


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("Name@@1", InvalidReferenceError),
        ("../x@1.0.0", InvalidReferenceError),
        ("m@v1.0.0", InvalidReferenceError),
        ("", InvalidReferenceError),
        ("unknown-model", VersionNotFoundError),
    ],
)
def test_bad_references_raise_typed_errors(ref: str, error: type[Exception]) -> None:
    """Malformed references are InvalidReferenceError (a ValueError); unknown names VersionNotFoundError."""
    _publish("m", {"a": 1})
    with pytest.raises(error):
        modelver.load(ref)


def test_unknown_version_names_the_nearest_versions() -> None:
    """Asking for a missing version lists the versions around it."""
    for v in ("1.0.0", "1.1.0", "1.2.0", "3.0.0"):
        _publish("m", {"v": v}, version=v)
    with pytest.raises(VersionNotFoundError) as caught:
        modelver.get("m@2.0.0")
    assert ("1.0.0", "1.1.0", "1.2.0", "3.0.0") == caught.value.available
    assert isinstance(caught.value, LookupError)
    with pytest.raises(VersionNotFoundError, match="did you mean m"):
        modelver.get("mm")


def test_latest_ranges_and_digest_prefixes_resolve() -> None:
    """latest skips pre-releases; ranges pick the highest match; a digest prefix finds its version."""
    for v in ("1.0.0", "1.4.2", "2.0.0-rc.1", "1.10.0"):
        _publish("m", {"v": v}, version=v)
    assert "1.10.0" == modelver.get("m").version
    assert "1.4.2" == modelver.get("m@~1.4.0").version
    assert "1.10.0" == modelver.get("m@>=1.0,<2").version
    digest = modelver.get("m@1.4.2").digest
    assert "1.4.2" == modelver.get(f"m@{digest[:15]}").version


def test_a_flipped_byte_is_caught_on_load_and_by_verify(store_dir: Path) -> None:
    """Corrupting one byte of the model blob makes load raise IntegrityError and verify report it."""
    _publish("m", {"weights": list(range(100))})
    version = modelver.get("m")
    blob = Path(version.store.blob_path(version.manifest.artifacts["model.json"].digest))
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[10] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="corrupt"):
        modelver.load("m")
    report = modelver.verify("m")
    assert ["corrupt"] == [o.status for o in report.objects if o.role == "artifact model.json"]
    assert not report.ok


def test_train_and_serve_from_different_directories_share_the_default_store(tmp_path: Path) -> None:
    """With no configuration, a serving process started elsewhere finds what a training process published."""
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    train_dir, serve_dir = tmp_path / "train", tmp_path / "serve"
    train_dir.mkdir()
    serve_dir.mkdir()
    (train_dir / "train.py").write_text(
        "import modelver\nwith modelver.track('shared') as run:\n    run.save_model({'k': 42})\n"
    )
    (serve_dir / "serve.py").write_text(
        textwrap.dedent(
            """
            import modelver
            print(modelver.load('shared@latest')['k'], modelver.choose_store().source)
            """
        )
    )
    run_python("train.py", cwd=train_dir, env=env, drop_env=("MODELVER_STORE",))
    out = run_python("serve.py", cwd=serve_dir, env=env, drop_env=("MODELVER_STORE",))
    assert out.stdout.startswith("42 the per-user default")
    assert (tmp_path / "xdg" / "modelver" / "store" / "modelver.json").is_file()


def test_a_model_version_prints_short() -> None:
    """A list of versions (search results) prints one short line each, not every recorded package."""
    with modelver.track("short") as run:
        run.save_model({"w": 1})
    version = modelver.get("short")

    text = repr([version])

    assert text.startswith("[ModelVersion('short@0.1.0', blake3:")
    assert len(text) < 80
