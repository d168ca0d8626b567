"""Configs people pass: pydantic, OmegaConf and TrainingArguments-like dataclasses encoded field by field; the flat
view of dotted keys used by diff, the UI and search; ModelVersion.config(plain=...) and the missing-class fallback."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import math
import textwrap
import warnings
from pathlib import Path
from typing import Any

import attrs
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from omegaconf import DictConfig, ListConfig, OmegaConf

import modelver
from helpers import run_python
from modelver.capture.config import encode_config
from modelver.capture.config_decode import decode_config
from modelver.capture.flatten import REDACTED, flatten_config, plain_config, unresolved_classes
from modelver.errors import ConfigClassWarning
from modelver.serde import canonical_json
from modelver.store.location import open_store
from modelver.ui.views import version_page
from strategies import config_zoo


class Optim(pydantic.BaseModel):
    """A pydantic section with an aliased field and a secret."""

    name: str = "adam"
    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = pydantic.Field(0.0, alias="wd")
    api_key: str | None = None


class Train(pydantic.BaseModel):
    """A pydantic model holding another one."""

    optim: Optim = Optim(wd=0.0)
    epochs: int = 3


class Strategy(enum.Enum):
    """Like transformers.IntervalStrategy (a str enum in TrainingArguments)."""

    NO = "no"
    STEPS = "steps"
    EPOCH = "epoch"


@dataclasses.dataclass
class TrainingArgumentsLike:
    """The shape of transformers.TrainingArguments: a dataclass with enums, a token, a nested dataclass config and
    a field __init__ does not take (transformers is not installed for the tests: it is matched as a dataclass)."""

    output_dir: str
    learning_rate: float = 5e-5
    eval_strategy: Strategy = Strategy.NO
    hub_token: str | None = None
    accelerator_config: Any = None
    _n_gpu: int = dataclasses.field(default=-1, init=False, repr=False)


@dataclasses.dataclass
class Accel:
    """A nested dataclass section (TrainingArguments.accelerator_config)."""

    split_batches: bool = False


@attrs.frozen
class Data:
    """An attrs section."""

    path: str
    batch: int = 32


def test_pydantic_models_are_encoded_field_by_field_and_rebuilt() -> None:
    """A pydantic model (nested, aliased, with a secret) encodes as fields, is redacted by field name, and decodes to
    an equal model through the class's validation."""
    config = Train(optim=Optim(lr=0.02, wd=0.1, api_key="sk-live-123"))
    encoded = encode_config(config)
    assert "pydantic" == encoded.value["$type"]
    assert f"{__name__}:Train" == encoded.value["class"]
    assert ("optim.api_key",) == encoded.redacted
    assert {"optim.name": "adam", "optim.lr": 0.02, "optim.betas": [0.9, 0.999], "optim.weight_decay": 0.1,
            "optim.api_key": REDACTED, "epochs": 3} == flatten_config(encoded.value)  # fmt: skip
    public = Train(optim=Optim(lr=0.02, wd=0.1))
    assert public == decode_config(encode_config(public).value)


def test_omegaconf_dictconfig_is_encoded_resolved_and_rebuilt() -> None:
    """A Hydra-style DictConfig encodes with its interpolations resolved, flattens to dotted keys, and decodes to a
    DictConfig (a ListConfig to a ListConfig)."""
    cfg = OmegaConf.create({"model": {"width": 64, "depth": 2}, "opt": {"lr": 0.1, "warmup_lr": "${opt.lr}"},
                            "tags": ["a", "b"], "password": "hunter2"})  # fmt: skip
    encoded = encode_config(cfg)
    assert ("omegaconf", "DictConfig") == (encoded.value["$type"], encoded.value["class"])
    assert ("password",) == encoded.redacted
    flat = flatten_config(encoded.value)
    assert {"model.width": 64, "model.depth": 2, "opt.lr": 0.1, "opt.warmup_lr": 0.1, "tags": ["a", "b"],
            "password": REDACTED} == flat  # fmt: skip
    public = OmegaConf.create({"opt": {"lr": 0.1}, "layers": [1, 2]})
    decoded = decode_config(encode_config(public).value)
    assert isinstance(decoded, DictConfig)
    assert OmegaConf.to_container(public) == OmegaConf.to_container(decoded)
    as_list = decode_config(encode_config(OmegaConf.create([1, {"a": 2}])).value)
    assert isinstance(as_list, ListConfig)
    assert [1, {"a": 2}] == OmegaConf.to_container(as_list)


def test_an_unresolvable_interpolation_is_kept_as_written() -> None:
    """A DictConfig whose interpolation cannot be resolved here still encodes, with the ${...} text."""
    cfg = OmegaConf.create({"out": "${oc.env:MODELVER_TEST_SURELY_UNSET_VARIABLE}/run", "lr": 1})
    encoded = encode_config(cfg)
    assert () == encoded.errors
    assert {"out": "${oc.env:MODELVER_TEST_SURELY_UNSET_VARIABLE}/run", "lr": 1} == flatten_config(encoded.value)


def test_training_arguments_are_a_dataclass_flattened_field_by_field() -> None:
    """TrainingArguments is matched as a dataclass: its token is redacted, its enum shows by name, nested sections
    get dotted keys, and it rebuilds with the non-init field restored."""
    args = TrainingArgumentsLike("out", learning_rate=2e-5, eval_strategy=Strategy.EPOCH, hub_token="hf_abc",
                                 accelerator_config=Accel(split_batches=True))  # fmt: skip
    args._n_gpu = 2
    encoded = encode_config({"args": args, "seed": 1})
    assert {"args.output_dir": "out", "args.learning_rate": 2e-5, "args.eval_strategy": "EPOCH",
            "args.hub_token": REDACTED, "args.accelerator_config.split_batches": True, "args._n_gpu": 2,
            "seed": 1} == flatten_config(encoded.value)  # fmt: skip
    public = TrainingArgumentsLike("out", accelerator_config=Accel())
    public._n_gpu = 4
    assert {"args": public} == decode_config(encode_config({"args": public}).value)


def test_flat_view_of_the_standard_config_classes() -> None:
    """Dataclasses, attrs classes and namespaces lose their envelopes; tuples, sets, odd keys, non-finite floats,
    paths and dates get documented plain forms."""
    import datetime as dt
    import pathlib

    config = argparse.Namespace(
        data=Data("train.csv"),
        shape=(3, 4),
        ids={2, 1},
        by_id={1: "a", (2, 3): "b"},
        loss=math.inf,
        out=pathlib.PurePosixPath("runs/a"),
        day=dt.date(2026, 1, 2),
        opt={"a.b": 1, "": 2, "empty": {}},
    )
    assert {"data.path": "train.csv", "data.batch": 32, "shape": [3, 4], "ids": [1, 2], "by_id.1": "a",
            'by_id["[2,3]"]': "b", "loss": "inf", "out": "runs/a", "day": "2026-01-02", 'opt["a.b"]': 1,
            'opt[""]': 2, "opt.empty": {}} == flatten_config(encode_config(config).value)  # fmt: skip
    assert {"": [1, 2]} == flatten_config([1, 2])
    assert {} == flatten_config({})


_simple_keys = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(lambda k: k not in ("token", "key"))
_json_leaves = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
)
_json_configs = st.recursive(
    _json_leaves | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_simple_keys, children, min_size=1, max_size=3),
    max_leaves=15,
)


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


@given(st.dictionaries(_simple_keys, _json_configs, max_size=4))
def test_flattening_plain_json_loses_nothing(config: dict[str, Any]) -> None:
    """For JSON-native configs, the plain form is the config itself and the flat view unflattens back to it."""
    encoded = encode_config(config).value
    assert json.loads(canonical_json(config)) == plain_config(encoded)
    assert json.loads(canonical_json(config)) == _unflatten(flatten_config(encoded))


@given(config_zoo())
def test_every_recorded_config_has_a_plain_json_flat_view(config: Any) -> None:
    """Whatever was recorded, the plain form and the flat view are canonical JSON (no NaN, no bytes, str keys) and
    hold no class or numpy envelope."""
    encoded = encode_config(config).value
    for view in (plain_config(encoded), flatten_config(encoded)):
        assert view == json.loads(canonical_json(view))
        assert () == unresolved_classes(view)


_TAGS = [
    "dataclass",
    "attrs",
    "pydantic",
    "namespace",
    "omegaconf",
    "tuple",
    "set",
    "dict",
    "enum",
    "int",
    "float",
    "complex",
    "bytes",
    "date",
    "numpy.generic",
    "numpy.ndarray",
    "redacted",
    "unencodable",
    "blob",
    "other",
]
_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["$type", "fields", "items", "value", "values", "name", "real", "hex", "a"]),
            children | st.sampled_from(_TAGS),
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(_any_json)
def test_a_hand_made_config_never_breaks_the_flat_view(recorded: Any) -> None:
    """A manifest written by hand (any JSON, tags with missing or odd parts) still gets a plain form and a flat view:
    diff and the UI never fail on a config."""
    flat = flatten_config(recorded)
    assert all(isinstance(key, str) for key in flat)
    assert isinstance(plain_config(recorded), (dict, list, str, int, float, bool, type(None)))


def test_diff_compares_a_dataclass_config_key_by_key(tmp_path: Path) -> None:
    """Two runs whose dataclass configs differ in one field differ in exactly that dotted key, and the CLI shows it."""
    import subprocess
    import sys

    from modelver.registry.diff import diff

    for lr in (0.01, 0.02):
        with modelver.track("cfg", config={"train": TrainingArgumentsLike("out", learning_rate=lr), "seed": 1}):
            pass
    result = diff("cfg@0.1.0", "cfg@0.1.1")
    assert [("train.learning_rate", "changed", 0.01, 0.02)] == [(c.key, c.status, c.a, c.b) for c in result.config]
    cli = Path(sys.executable).parent / "modelver"
    shown = subprocess.run([str(cli), "diff", "cfg@0.1.0", "cfg@0.1.1"], capture_output=True, text=True, check=True)
    assert "train.learning_rate" in shown.stdout
    assert "$type" not in shown.stdout


def test_config_rebuilds_or_returns_plain_data() -> None:
    """config() rebuilds an importable class; config(plain=True) never does."""
    config = {"train": Train(optim=Optim(lr=0.5, wd=0.0)), "data": Data("d.csv")}
    with modelver.track("cfg", config=config) as run:
        pass
    assert run.version is not None
    version = modelver.get("cfg@0.1.0")
    assert config == version.config()
    plain = version.config(plain=True)
    assert {"path": "d.csv", "batch": 32} == plain["data"]
    assert 0.5 == plain["train"]["optim"]["lr"]


def test_the_version_page_shows_the_config_without_envelopes(store_dir: Path) -> None:
    """The UI's version data carries the plain config and the flat view; no class envelope reaches the page."""
    with modelver.track("cfg", config={"data": Data("d.csv", batch=8)}):
        pass
    page = version_page(open_store(str(store_dir)), "cfg@0.1.0")
    assert {"data": {"path": "d.csv", "batch": 8}} == page["config_plain"]
    assert {"data.path": "d.csv", "data.batch": 8} == page["config_flat"]


CLASSES = """
import dataclasses

@dataclasses.dataclass
class Opt:
    name: str
    lr: float
"""


def test_a_class_that_cannot_be_found_gives_plain_data_and_one_warning(tmp_path: Path) -> None:
    """In a process where the config's class is not importable, config() returns plain data (not the $type
    envelope) with exactly one ConfigClassWarning; where it is importable and allowed, the class is rebuilt."""
    (tmp_path / "trainconf.py").write_text(CLASSES)
    publish = tmp_path / "publish.py"
    publish.write_text(
        "import modelver, trainconf\n"
        "with modelver.track('cfg', config={'opt': trainconf.Opt('adam', 0.1), 'other': trainconf.Opt('sgd', 1.0)}):\n"
        "    pass\n"
    )
    run_python(publish, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    (tmp_path / "trainconf.py").unlink()
    reader = tmp_path / "read.py"
    reader.write_text(
        textwrap.dedent(
            """
            import json, warnings, modelver
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                config = modelver.get("cfg@0.1.0").config(allow_import=True)
            print(json.dumps({"config": config, "warnings": [(w.category.__name__, str(w.message)) for w in caught]}))
            """
        )
    )
    out = json.loads(run_python(reader, cwd=tmp_path).stdout.splitlines()[-1])
    assert {"opt": {"name": "adam", "lr": 0.1}, "other": {"name": "sgd", "lr": 1.0}} == out["config"]
    assert ["ConfigClassWarning"] == [category for category, _ in out["warnings"]]
    assert "trainconf:Opt" in out["warnings"][0][1]
    (tmp_path / "trainconf.py").write_text(CLASSES)
    rebuilt = tmp_path / "rebuilt.py"
    rebuilt.write_text("import modelver\nprint(type(modelver.get('cfg@0.1.0').config(allow_import=True)['opt']))\n")
    shown = run_python(rebuilt, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}).stdout.strip()
    assert "<class 'trainconf.Opt'>" == shown


def test_the_fallback_warning_is_raised_in_process_too() -> None:
    """Without allow_import, a class whose module is not imported is not found: plain data and a warning that says
    how to rebuild it; plain=True gives the same data without a warning."""
    with modelver.track("cfg", config={"x": 1}):
        pass
    version = modelver.get("cfg@0.1.0")
    ghost = {"$type": "dataclass", "class": "surely_not_imported_module:Opt", "fields": {"lr": 0.1}}
    edited = attrs.evolve(version, manifest=attrs.evolve(version.manifest, config={"opt": ghost}))
    with pytest.warns(ConfigClassWarning, match="allow_import=True"):
        assert {"opt": {"lr": 0.1}} == edited.config()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert {"opt": {"lr": 0.1}} == edited.config(plain=True)
