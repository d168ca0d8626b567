"""Pipeline steps (``@modelver.versioned``): recording, caching, lineage, explain and reverse queries."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelver
from helpers import run_python
from modelver.steps.cache import step_cache_blobs
from modelver.steps.calls import read_calls
from modelver.steps.fingerprints import fingerprint_value, output_fingerprints
from modelver.steps.layout import step_names
from modelver.steps.outputs import _load_output, _store_output
from modelver.steps.step_versions import read_step_version, step_version_blobs
from modelver.store.location import open_store
from modelver.store.objects import Store

HELPERS = '''\
"""Helpers of the demo project."""
import numpy as np

OFFSET = 1.0


def scale(x: np.ndarray) -> np.ndarray:
    # multiply by two
    return x * 2.0 + OFFSET
'''

PIPELINE = """\
import sys
from pathlib import Path

import numpy as np

import modelver
from helpers import scale

LOG = Path(sys.argv[1])


def note(what: str) -> None:
    with LOG.open("a") as handle:
        handle.write(what + "\\n")


@modelver.versioned(name="featurize")
def featurize(path: Path) -> np.ndarray:
    note("featurize")
    return scale(np.loadtxt(path, delimiter=","))


@modelver.versioned(name="train")
def train(features: np.ndarray, epochs: int = 3) -> dict:
    note("train")
    return {"weights": (features.mean(axis=0) * epochs).tolist()}


if __name__ == "__main__":
    raw = Path("data.csv")
    with modelver.track("demo", data={"raw": raw}) as run:
        model = train(featurize(raw))
        run.save_model(model)
    print(run.version.version)
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "helpers.py").write_text(HELPERS)
    (project / "pipeline.py").write_text(PIPELINE)
    (project / "data.csv").write_text("1,2\n3,4\n5,6\n")
    return project


def _run(project: Path, log: Path) -> tuple[list[str], str]:
    """Run the pipeline as a real process; return the step bodies it executed and the version it published."""
    before = log.read_text().splitlines() if log.exists() else []
    version = run_python("pipeline.py", str(log), cwd=project).stdout.strip()
    after = log.read_text().splitlines() if log.exists() else []
    return after[len(before) :], version


def test_a_two_step_pipeline_reruns_exactly_what_changed(tmp_path: Path) -> None:
    """featurize → train with a helper in another module: unchanged → both skipped; helper edited → both re-run;
    a comment edited → nothing re-runs; one data row changed → both re-run. Counted by the bodies' side effects."""
    project = _project(tmp_path)
    log = tmp_path / "calls.log"
    assert (["featurize", "train"], "0.1.0") == _run(project, log)
    assert ([], "0.1.1") == _run(project, log)

    (project / "helpers.py").write_text(HELPERS.replace("x * 2.0", "x * 3.0"))
    assert (["featurize", "train"], "0.1.2") == _run(project, log)

    edited = HELPERS.replace("# multiply by two", "# multiply by three, see the notes").replace(
        "def scale", "\n\n# moved down\ndef scale"
    )
    (project / "helpers.py").write_text(edited.replace("x * 2.0", "x * 3.0"))
    assert ([], "0.1.3") == _run(project, log)

    (project / "data.csv").write_text("1,2\n3,40\n5,6\n")
    assert (["featurize", "train"], "0.1.4") == _run(project, log)

    reused = modelver.get("demo@0.1.3").manifest
    featurize, train = reused.lineage.steps
    assert ("featurize", True) == (featurize.name, featurize.cached)
    assert ("train", True) == (train.name, train.cached)
    assert reused.data["raw"].digest == featurize.inputs["path"]
    assert featurize.output == train.inputs["features"]
    ran = modelver.get("demo@0.1.2").manifest.lineage.steps
    assert featurize.step_version == ran[0].step_version
    assert [False, False] == [step.cached for step in ran]


def test_an_edited_helper_is_named_by_explain(tmp_path: Path) -> None:
    """After editing the helper, explain says featurize ran because helpers:scale changed, and train because its
    input changed."""
    project = _project(tmp_path)
    log = tmp_path / "calls.log"
    _run(project, log)
    (project / "helpers.py").write_text(HELPERS.replace("x * 2.0", "x * 5.0"))
    _run(project, log)
    featurize = modelver.explain_step("featurize")
    train = modelver.explain_step("train")
    assert (False, ("helpers:scale",), ()) == (featurize.call.cached, featurize.changed_code, featurize.changed_inputs)
    assert ((), ("features",)) == (train.changed_code, train.changed_inputs)
    assert "no stored step version" in featurize.call.reason


CONCURRENT = """\
import json
import sys
import time
from pathlib import Path

import numpy as np

import modelver

here = Path(sys.argv[1])


@modelver.versioned(name="slow")
def slow(n: int) -> np.ndarray:
    with (here / "bodies.log").open("a") as handle:
        handle.write("ran\\n")
    time.sleep(0.5)
    return np.arange(n, dtype=np.float64) ** 2


(here / f"ready-{sys.argv[2]}").touch()
while not (here / "go").exists():
    time.sleep(0.005)
print(json.dumps(slow(1000).tolist()))
"""


def test_two_processes_running_the_same_step_get_one_stored_output(tmp_path: Path) -> None:
    """Two real processes released at the same moment both return the right array, and the store keeps one step
    version and one cache key for it."""
    script = tmp_path / "race.py"
    script.write_text(CONCURRENT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{i}").exists() for i in range(2)):
        exited = [proc for proc in procs if proc.poll() is not None]
        assert not exited, exited[0].communicate()
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [0, 0] == [proc.returncode for proc in procs], outputs
    expected = (np.arange(1000, dtype=np.float64) ** 2).tolist()
    assert [expected, expected] == [json.loads(out) for out, _ in outputs]
    calls = read_calls("slow")
    assert 2 == len(calls)
    assert 1 == len({call.step_version for call in calls})
    store = Store(os.environ["MODELVER_STORE"])
    assert 1 == len(store.fs.find(f"{store.root}/steps/slow/keys"))
    ran = (tmp_path / "bodies.log").read_text().splitlines()
    assert len(ran) == sum(not call.cached for call in calls)


# --- in-process behaviour --------------------------------------------------------------------------------------


def test_bare_and_configured_decorators_cache_by_inputs() -> None:
    """A second call with equal inputs returns the stored output without running; other inputs run."""
    ran: list[int] = []

    @modelver.versioned
    def square(x: int) -> int:
        ran.append(x)
        return x * x

    @modelver.versioned(name="cube-step", version="2")
    def cube(x: int) -> int:
        ran.append(-x)
        return x**3

    assert [4, 4, 9, 8, 8] == [square(2), square(2), square(3), cube(2), cube(2)]
    assert [2, 3, -2] == ran
    assert (
        "test_steps.test_bare_and_configured_decorators_cache_by_inputs.square" == square.__modelver_step__.options.name
    )
    assert [False, True, False] == [c.cached for c in read_calls(square.__modelver_step__.options.name)]
    assert [False, True] == [c.cached for c in read_calls("cube-step")]


def test_cache_false_records_every_call_and_always_runs() -> None:
    """cache=False runs the body every time and still records a step version per call (outside track())."""
    ran: list[int] = []

    @modelver.versioned(name="nocache", cache=False)
    def add(a: int, b: int) -> int:
        ran.append(a)
        return a + b

    assert [3, 3] == [add(1, 2), add(1, 2)]
    assert [1, 1] == ran
    calls = read_calls("nocache")
    assert [False, False] == [c.cached for c in calls]
    assert "cache=False" in calls[0].reason
    assert calls[0].step_version == calls[1].step_version


@dataclasses.dataclass(frozen=True)
class Scaler:
    """A dataclass whose fields fingerprint ``self``."""

    factor: float

    @modelver.versioned(name="scaler-apply")
    def apply(self, x: float) -> float:
        RAN.append(x)
        return x * self.factor

    @modelver.versioned(name="scaler-static")
    @staticmethod
    def static(x: float) -> float:
        RAN.append(-x)
        return x + 1

    @staticmethod
    @modelver.versioned(name="scaler-static2")
    def static2(x: float) -> float:
        RAN.append(-2 * x)
        return x + 2

    @modelver.versioned(name="scaler-cls")
    @classmethod
    def make(cls, factor: float) -> float:
        RAN.append(factor * 100)
        return factor


RAN: list[float] = []


def test_methods_staticmethods_and_classmethods() -> None:
    """Methods fingerprint their dataclass ``self``; staticmethods and classmethods work in either decorator order."""
    RAN.clear()
    assert [2.0, 2.0, 3.0] == [Scaler(2).apply(1.0), Scaler(2).apply(1.0), Scaler(3).apply(1.0)]
    assert [2.0, 2.0, 3.0, 3.0] == [Scaler.static(1.0), Scaler(1).static(1.0), Scaler.static2(1.0), Scaler.static2(1.0)]
    assert [0.5, 0.5] == [Scaler.make(0.5), Scaler.make(0.5)]
    assert [1.0, 1.0, -1.0, -2.0, 50.0] == RAN


def test_async_functions_are_steps() -> None:
    """An ``async def`` step is awaited on a miss and not run on a hit."""
    ran: list[int] = []

    @modelver.versioned(name="async-step")
    async def fetch(x: int) -> list[int]:
        ran.append(x)
        await asyncio.sleep(0)
        return [x, x]

    assert [[1, 1], [1, 1]] == [asyncio.run(fetch(1)), asyncio.run(fetch(1))]
    assert [1] == ran


def test_generators_and_bad_options_are_refused_at_decoration() -> None:
    """Generators, async generators, unknown ignore= names and bad step names raise InvalidStepError (a TypeError)."""

    def gen() -> Any:
        yield 1

    async def agen() -> Any:
        yield 1

    def f(x: int) -> int:
        return x

    for bad in (lambda: modelver.versioned(gen), lambda: modelver.versioned(agen)):
        with pytest.raises(modelver.InvalidStepError, match="generator"):
            bad()
    with pytest.raises(TypeError, match=r"'y'.*parameters are x"):
        modelver.versioned(ignore=("y",))(f)
    with pytest.raises(modelver.InvalidStepError, match="step name 'a/b'"):
        modelver.versioned(name="a/b")(f)
    with pytest.raises(modelver.InvalidStepError, match="not a int"):
        modelver.versioned(3)


class Opaque:
    """An object with no stable fingerprint: it holds a lock, which cannot be pickled."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


def test_an_unfingerprintable_argument_is_a_warning_and_ignore_fixes_it() -> None:
    """The argument is named in a CaptureWarning, the call runs uncached; with ignore=(...) it is cached."""
    ran: list[int] = []

    @modelver.versioned(name="opaque")
    def use(x: int, helper: Opaque) -> int:
        ran.append(x)
        return x

    @modelver.versioned(name="opaque-ignored", ignore=("helper",))
    def use_ignored(x: int, helper: Opaque) -> int:
        ran.append(-x)
        return x

    for _ in range(2):
        with pytest.warns(modelver.CaptureWarning, match=r"argument 'helper' not fingerprinted.*ignore=\('helper',\)"):
            assert 1 == use(1, Opaque())
    assert [1, 1] == [use_ignored(1, Opaque()), use_ignored(1, Opaque())]
    assert [1, 1, -1] == ran
    assert "could not be fingerprinted" in read_calls("opaque")[1].reason


def test_inside_track_failures_are_capture_errors_and_steps_are_lineage(tmp_path: Path) -> None:
    """Inside a run, step calls land in lineage.steps and an unfingerprintable argument in capture_errors."""

    @modelver.versioned(name="inner")
    def inner(x: int, thing: object = None) -> list[int]:
        return [x]

    with modelver.track("steps-run") as run:
        inner(1)
        inner(1)
        with pytest.warns(modelver.CaptureWarning, match="'thing' not fingerprinted"):
            inner(2, Opaque())
        run.save_model({"ok": True})
    assert run.version is not None
    manifest = run.version.manifest
    assert ["inner"] * 3 == [s.name for s in manifest.lineage.steps]
    assert [False, True, False] == [s.cached for s in manifest.lineage.steps]
    assert {"x"} == set(manifest.lineage.steps[2].inputs)
    assert ["lineage"] == [e.facet for e in manifest.capture_errors]


def test_tuple_and_dict_outputs_round_trip_through_the_cache() -> None:
    """A tuple of arrays and a dict with a scalar come back from the store equal and of the same types."""
    ran: list[int] = []

    @modelver.versioned(name="split")
    def split(n: int) -> tuple[np.ndarray, dict[str, Any]]:
        ran.append(n)
        return np.arange(n), {"n": n, "half": np.ones(2) / 2, "nan": float("nan")}

    first = split(4)
    second = split(4)
    assert [4] == ran
    assert (tuple, dict) == (type(second), type(second[1]))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1]["half"], second[1]["half"])
    assert (4, True) == (second[1]["n"], np.isnan(second[1]["nan"]))


def test_an_output_without_a_safe_format_needs_allow_pickle() -> None:
    """An output only pickle can store is not cached (with a warning) unless allow_pickle=True."""
    ran: list[str] = []

    @modelver.versioned(name="unsafe-out")
    def make() -> set[int]:
        ran.append("no-pickle")
        return {1, 2}

    @modelver.versioned(name="pickled-out", allow_pickle=True)
    def make_pickled() -> set[int]:
        ran.append("pickle")
        return {1, 2}

    for _ in range(2):
        with pytest.warns(modelver.CaptureWarning, match="output not cached"):
            assert {1, 2} == make()
    assert [{1, 2}, {1, 2}] == [make_pickled(), make_pickled()]
    assert ["no-pickle", "no-pickle", "pickle"] == ran


def test_the_users_exception_propagates_and_nothing_is_recorded() -> None:
    """A step that raises records no call, and the exception is the user's own."""

    @modelver.versioned(name="boom")
    def boom(x: int) -> int:
        raise KeyError(x)

    with pytest.raises(KeyError):
        boom(1)
    assert [] == read_calls("boom")


def test_a_missing_stored_output_reruns_the_step(store_dir: Path) -> None:
    """When the stored output blob is gone (collected, damaged), the step runs again and says why."""
    ran: list[int] = []

    @modelver.versioned(name="fragile")
    def fragile(n: int) -> np.ndarray:
        ran.append(n)
        return np.full(3, n)

    fragile(7)
    store = Store(store_dir)
    record = json.loads(store.read_blob(read_calls("fragile")[0].step_version))
    path = Path(store.blob_path(record["stored"]["blob"]))
    path.chmod(0o644)
    path.write_bytes(b"damaged")
    np.testing.assert_array_equal(np.full(3, 7), fragile(7))
    assert [7, 7] == ran
    assert "could not be read (IntegrityError" in read_calls("fragile")[1].reason


def test_a_key_pointing_at_another_steps_record_is_not_trusted(store_dir: Path) -> None:
    """A cache key (a pointer file, not content-addressed) that names the record of another key is a miss: the
    step runs and returns its own result, never the other step's output."""
    ran: list[str] = []

    @modelver.versioned(name="ka")
    def ka(x: int) -> str:
        ran.append("ka")
        return f"a{x}"

    @modelver.versioned(name="kb")
    def kb(x: int) -> str:
        ran.append("kb")
        return f"b{x}"

    ka(1)
    kb(1)
    store = Store(store_dir)
    (a_key,) = store.fs.find(f"{store.root}/steps/ka/keys")
    (b_key,) = store.fs.find(f"{store.root}/steps/kb/keys")
    Path(b_key).chmod(0o644)
    Path(b_key).write_bytes(Path(a_key).read_bytes())
    assert "b1" == kb(1)
    assert ["ka", "kb", "kb"] == ran
    assert "is not a step version of this key" in read_calls("kb")[-1].reason


def test_the_cache_survives_removing_every_blob_but_what_step_cache_blobs_keeps(store_dir: Path) -> None:
    """step_cache_blobs names exactly what a cache hit reads (the record and each stored output, a tuple's arrays
    included): with every other blob deleted the call is still a hit; without one of them it runs again. This is
    what `modelver gc` must keep for the cache, since a key is never rewritten."""
    ran: list[int] = []

    @modelver.versioned(name="kept")
    def split(n: int) -> tuple[np.ndarray, np.ndarray, str]:
        ran.append(n)
        return np.arange(n), np.ones(n), "label"

    split(4)
    store = Store(store_dir)
    keep = step_cache_blobs(store)
    record = read_calls("kept")[0].step_version
    assert record in keep
    assert [record] == step_version_blobs(store, record)[:1]
    assert 3 == len(keep)  # the record and two arrays; the string is inline
    blobs = {
        f"{algo}:{Path(path).parent.name}{Path(path).name}": Path(path)
        for path in store.fs.find(f"{store.root}/blobs")
        for algo in [Path(path).parent.parent.name]
    }
    for digest, path in blobs.items():
        if digest not in keep:
            path.chmod(0o644)
            path.unlink()
    np.testing.assert_array_equal(np.arange(4), split(4)[0])
    assert [4] == ran
    output = sorted(keep - {record})[0]
    blobs[output].chmod(0o644)
    blobs[output].unlink()
    split(4)
    assert [4, 4] == ran


def test_used_by_finds_versions_and_steps_that_read_a_digest(tmp_path: Path) -> None:
    """used_by a data digest lists the versions and step versions that read it; by a step version, the versions."""
    data = tmp_path / "d.csv"
    data.write_text("1\n2\n")

    @modelver.versioned(name="reader")
    def reader(path: Path) -> int:
        return len(path.read_text())

    with modelver.track("user", data={"d": data}) as run:
        reader(data)
        run.save_model({"a": 1})
    assert run.version is not None
    step = run.version.manifest.lineage.steps[0]
    digest = run.version.manifest.data["d"].digest
    found = {(u.kind, u.ref, u.role) for u in modelver.used_by(digest[:20])}
    assert {
        ("version", "user@0.1.0", "data 'd'"),
        ("version", "user@0.1.0", "step reader input 'path'"),
        ("step", "reader", "input 'path'"),
    } == found
    assert [("user@0.1.0", "step reader")] == [(u.ref, u.role) for u in modelver.used_by(step.step_version)]


def test_the_parts_of_a_returned_tuple_link_the_next_step(store_dir: Path) -> None:
    """``train, test = split(...)`` then ``fit(train)``: split's record and StepRecord hold each part's digest (also
    when split is reused), fit's input is part "0", and used_by finds fit through the part or split's step version."""

    @modelver.versioned(name="split")
    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(float(n))
        return rows[: n // 2], rows[n // 2 :]

    @modelver.versioned(name="fit")
    def fit(train: np.ndarray, lr: float) -> float:
        return float(train.sum()) * lr

    for lr in (0.1, 0.2):  # the second run reuses split: its parts come from the stored record
        with modelver.track("tuple-pipe") as run:
            train, test = split(6)
            run.save_model({"w": fit(train, lr)})
        assert run.version is not None
        split_step, fit_step = run.version.manifest.lineage.steps
        assert {"0": fingerprint_value(train), "1": fingerprint_value(test)} == split_step.outputs
        assert (lr == 0.2, {}) == (split_step.cached, fit_step.outputs)
        assert split_step.outputs["0"] == fit_step.inputs["train"]
    record = read_step_version(Store(store_dir), split_step.step_version)
    assert split_step.outputs == record["outputs"]
    part = split_step.outputs["0"]
    found = {(u.kind, u.ref, u.role) for u in modelver.used_by(part)}
    assert {
        ("version", "tuple-pipe@0.1.0", "step fit input 'train'"),
        ("version", "tuple-pipe@0.1.1", "step fit input 'train'"),
        ("step", "fit", "input 'train'"),
    } == found
    assert 2 == len({u.digest for u in modelver.used_by(part) if u.kind == "step"})  # fit ran once per lr
    by_step = {(u.kind, u.ref, u.role) for u in modelver.used_by(split_step.step_version)}
    assert {
        ("version", "tuple-pipe@0.1.0", "step split"),
        ("version", "tuple-pipe@0.1.0", "step fit input 'train' ← step split in tuple-pipe@0.1.0"),
        ("version", "tuple-pipe@0.1.1", "step split"),
        ("version", "tuple-pipe@0.1.1", "step fit input 'train' ← step split in tuple-pipe@0.1.0"),
        ("step", "fit", "input 'train' ← split[0]"),
    } == by_step


def test_output_parts_of_dicts_and_values_that_are_not_containers() -> None:
    """A str-keyed dict's parts are keyed by its keys; a scalar, an array and a dict with other keys have none; a
    part that cannot be fingerprinted is left out and makes the whole output unfingerprinted."""
    frame = {"X": np.ones(3), "n": 3}
    assert (
        fingerprint_value(frame),
        {"X": fingerprint_value(np.ones(3)), "n": fingerprint_value(3)},
        None,
    ) == output_fingerprints(frame)
    assert (fingerprint_value(3), {}, None) == output_fingerprints(3)
    assert (fingerprint_value(np.ones(2)), {}, None) == output_fingerprints(np.ones(2))
    assert (fingerprint_value({1: "a"}), {}, None) == output_fingerprints({1: "a"})
    lock = threading.Lock()
    output, parts, error = output_fingerprints((1, lock))
    assert (None, {"0": fingerprint_value(1)}) == (output, parts)
    assert "lock" in str(error)


# --- fingerprints and stored outputs: properties ----------------------------------------------------------------

_leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5) | st.binary(max_size=5)
)
_values = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(_values)
def test_fingerprints_depend_on_content_not_identity_or_dict_order(value: Any) -> None:
    """A deep copy, and a dict with its keys reinserted in reverse, fingerprint alike."""

    def reverse(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: reverse(v[k]) for k in reversed(list(v))}
        if isinstance(v, (list, tuple)):
            return type(v)(reverse(item) for item in v)
        return v

    assert fingerprint_value(value) == fingerprint_value(copy.deepcopy(value)) == fingerprint_value(reverse(value))


@settings(max_examples=60, deadline=None)
@given(_values)
def test_output_fingerprints_agree_with_fingerprint_value(value: Any) -> None:
    """The whole output's digest is fingerprint_value's; a tuple's, list's or str-keyed dict's parts are each
    fingerprint_value of the part (so the next step's input matches), one level deep; any other value has none."""
    output, parts, error = output_fingerprints(value)
    if isinstance(value, (tuple, list)):
        expected = {str(i): fingerprint_value(item) for i, item in enumerate(value)}
    elif isinstance(value, dict):
        expected = {key: fingerprint_value(item) for key, item in value.items()}
    else:
        expected = {}
    assert (fingerprint_value(value), expected, None) == (output, parts, error)


@settings(max_examples=60, deadline=None)
@given(_values, _values)
def test_fingerprints_tell_types_apart(a: Any, b: Any) -> None:
    """Values that differ in content or type (1, 1.0, True, "1", a list and a tuple) fingerprint differently."""

    def typed(v: Any) -> Any:
        if isinstance(v, dict):
            return ("dict", sorted((k, typed(x)) for k, x in v.items()))
        if isinstance(v, (list, tuple)):
            return (type(v).__name__, [typed(x) for x in v])
        return (type(v).__name__, repr(v))

    assert (typed(a) == typed(b)) == (fingerprint_value(a) == fingerprint_value(b))


@settings(max_examples=40, deadline=None)
@given(_values)
def test_stored_outputs_round_trip_with_their_types(value: Any) -> None:
    """What a step returns comes back from the store equal, with tuples still tuples (bytes need pickle)."""
    store = Store(os.environ["MODELVER_STORE"])
    store.initialize()
    descriptor = _store_output(value, store, allow_pickle=True)
    loaded = _load_output(json.loads(json.dumps(descriptor)), store, True, ())
    assert fingerprint_value(value) == fingerprint_value(loaded)


def test_data_arguments_fingerprint_like_modelver_fingerprint(tmp_path: Path) -> None:
    """Arrays, bytes and paths get modelver.fingerprint's digest, so step inputs link to data entries; a str is a
    value, not a path."""
    path = tmp_path / "f.txt"
    path.write_text("hello")
    array = np.arange(6).reshape(2, 3)
    assert modelver.fingerprint(path).digest == fingerprint_value(path)
    assert modelver.fingerprint(array).digest == fingerprint_value(array)
    assert modelver.fingerprint(b"hello").digest == fingerprint_value(b"hello")
    assert fingerprint_value(str(path)) != fingerprint_value(path)
    with pytest.raises(TypeError, match="Opaque has no stable fingerprint"):
        fingerprint_value([1, {"a": Opaque()}])
    with pytest.raises(TypeError, match="no such file"):
        fingerprint_value(tmp_path / "not-yet")


def test_a_path_that_does_not_exist_yet_is_an_unfingerprinted_argument(tmp_path: Path) -> None:
    """An output path passed before the step writes it: the call is recorded without it (not skipped whole), not
    cached, and the warning names the argument and points at the caller's line."""
    out = tmp_path / "out.txt"

    @modelver.versioned(name="writer")
    def write(x: int, target: Path) -> int:
        target.write_text(str(x))
        return x

    with pytest.warns(modelver.CaptureWarning, match="argument 'target' not fingerprinted") as caught:
        assert 1 == write(1, out)
    assert [__file__] == [w.filename for w in caught]
    assert [(False, "argument(s) target could not be fingerprinted")] == [
        (call.cached, call.reason.partition(",")[0]) for call in read_calls("writer")
    ]


def test_a_step_written_to_a_script_records_its_package_versions(tmp_path: Path) -> None:
    """The step version of a step whose module imports numpy records numpy's installed version."""
    script = tmp_path / "s.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            import modelver

            @modelver.versioned(name="np-step")
            def total(n: int) -> float:
                return float(np.arange(n).sum())

            print(total(4))
            """
        )
    )
    assert "6.0" == run_python(script, cwd=tmp_path).stdout.strip()
    store = Store(os.environ["MODELVER_STORE"])
    record = json.loads(store.read_blob(read_calls("np-step", store)[0].step_version))
    assert {"numpy": np.__version__} == record["packages"]
    assert ["s:total"] == list(record["parts"])


def test_a_memory_store_caches_through_the_store_api() -> None:
    """With store="memory://..." (no local files) outputs are stored and read back through the store's blob API."""
    ran: list[int] = []

    @modelver.versioned(name="in-memory", store="memory://steps-test")
    def arange(n: int) -> np.ndarray:
        ran.append(n)
        return np.arange(n, dtype=np.int32)

    np.testing.assert_array_equal(arange(5), arange(5))
    assert [5] == ran
    assert [False, True] == [c.cached for c in read_calls("in-memory", "memory://steps-test")]
    assert [] == read_calls("in-memory")


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)),
        np.array(3.5),
        np.zeros((0, 3)),
        np.array([b"ab", b"c"]),
        np.zeros(3, dtype=[("x", "<i4"), ("y", ">f8")]),
        np.arange(6, dtype=">u2")[::2],
    ],
    ids=["float32", "fortran", "0-d", "empty", "bytes", "structured", "big-endian-strided"],
)
def test_array_outputs_come_back_equal_and_writable(array: np.ndarray) -> None:
    """The cache hit's array reader keeps dtype, shape and values (any layout), and the array can be written."""
    store = Store(os.environ["MODELVER_STORE"])
    store.initialize()
    loaded = _load_output(_store_output(array, store, allow_pickle=False), store, False, ())
    assert (array.dtype, array.shape) == (loaded.dtype, loaded.shape)
    np.testing.assert_array_equal(array, loaded)
    assert loaded.flags.writeable


def test_the_version_label_is_part_of_the_key() -> None:
    """Two decorations of one function that differ only in version= do not share stored outputs."""
    ran: list[str] = []

    def body(x: int) -> int:
        ran.append(f"{x}")
        return x

    first = modelver.versioned(name="labelled", version="1")(body)
    second = modelver.versioned(name="labelled", version="2")(body)
    assert [3, 3, 3, 3] == [first(3), first(3), second(3), second(3)]
    assert ["3", "3"] == ran


class Settings:
    """A plain class: fingerprinted by its pickle and its class's code identity."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def test_models_and_plain_objects_are_fingerprinted_by_pickle_and_link_steps() -> None:
    """A fitted scikit-learn model returned by one step and passed to the next links them in the lineage, and
    both are reused on the second run; a plain object is fingerprinted by its state."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    ran: list[str] = []

    @modelver.versioned(name="fit-iris")
    def fit(features: np.ndarray, labels: np.ndarray, settings: Settings) -> LogisticRegression:
        ran.append("fit")
        return LogisticRegression(max_iter=settings.depth).fit(features, labels)

    @modelver.versioned(name="score-iris")
    def score(model: LogisticRegression, features: np.ndarray, labels: np.ndarray) -> float:
        ran.append("score")
        return float(model.score(features, labels))

    scores = []
    for _ in range(2):
        with modelver.track("iris") as run:
            scores.append(score(fit(features, labels, Settings(300)), features, labels))
            run.log_metrics({"accuracy": scores[-1]})
    assert ["fit", "score"] == ran
    assert scores[0] == scores[1]
    assert run.version is not None
    fitted, scored = run.version.manifest.lineage.steps
    assert fitted.output == scored.inputs["model"]
    assert [True, True] == [fitted.cached, scored.cached]
    assert fingerprint_value(Settings(1)) != fingerprint_value(Settings(2))


def test_a_dataframe_output_is_cached_as_parquet() -> None:
    """A pandas DataFrame output is stored in the safe table format and comes back equal."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    ran: list[int] = []

    @modelver.versioned(name="table")
    def table(k: int) -> Any:
        ran.append(k)
        return pd.DataFrame({"a": [1, 2, k], "b": ["x", "y", "z"]})

    first, second = table(3), table(3)
    assert [3] == ran
    pd.testing.assert_frame_equal(first, second)
    store = Store(os.environ["MODELVER_STORE"])
    record = json.loads(store.read_blob(read_calls("table")[0].step_version))
    assert "parquet" == record["stored"]["format"]


@modelver.versioned
def _doubled(values: list[int]) -> list[int]:
    return [2 * v for v in values]


def test_explain_accepts_the_plain_function_name_of_a_module_qualified_step() -> None:
    """Steps are recorded as `module.qualname`; `explain_step("_doubled")` finds the one step of that name."""
    _doubled([1, 2])
    [recorded] = [s for s in step_names(open_store(None)) if s.endswith("._doubled")]

    explained = modelver.explain_step("_doubled")

    assert "." in recorded
    assert recorded == explained.name
