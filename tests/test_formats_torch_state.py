"""Checkpoint-like training state (nested state dicts, optimizer state with integer keys, the step) is saved without
``allow_pickle`` as ``torch-state`` and loaded with PyTorch's restricted unpickler; bytes naming any other object are
refused and run nothing."""

from __future__ import annotations

import io
import os
import pickle
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import modelver
from helpers import run_python
from modelver.errors import FormatError, UnsafeFormatError
from modelver.formats.core import LoadContext, choose_format, get_format


def training_state() -> dict[str, object]:
    """A model, an SGD optimizer with momentum after one step (integer keys), and plain values."""
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 3)).pow(2).mean().backward()
    optimizer.step()
    return {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": 7, "note": None}


def same(expected: object, actual: object) -> bool:
    """Deep equality where tensors compare by value, dtype and shape."""
    if isinstance(expected, torch.Tensor):
        return isinstance(actual, torch.Tensor) and expected.dtype == actual.dtype and torch.equal(expected, actual)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and list(expected) == list(actual)
            and all(same(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, (list, tuple)):
        return type(expected) is type(actual) and len(expected) == len(actual) and all(map(same, expected, actual))
    return type(expected) is type(actual) and expected == actual


def test_a_checkpoint_dict_is_torch_state_and_round_trips_in_a_fresh_process(store_dir: Path, tmp_path: Path) -> None:
    """The docs' checkpoint recipe saves with no opt-in; a fresh process loads every tensor and value back."""
    state = training_state()
    assert "torch-state" == choose_format(state).name
    with modelver.track("ckpt") as run:
        run.save_model(state)
    artifact = modelver.get("ckpt@0.1.0").manifest.artifacts["model.pt"]
    assert "torch-state" == artifact.format
    script = tmp_path / "load_it.py"
    script.write_text(
        textwrap.dedent(
            """
            import io, torch, modelver
            buffer = io.BytesIO()
            torch.save(modelver.load("ckpt@0.1.0"), buffer)
            print(buffer.getvalue().hex())
            """
        )
    )
    out = run_python(script, cwd=tmp_path, env={"MODELVER_STORE": str(store_dir)}).stdout
    loaded = torch.load(io.BytesIO(bytes.fromhex(out.strip())), weights_only=True)
    assert same(state, loaded)


def test_save_checkpoint_takes_the_documented_recipe(store_dir: Path) -> None:
    """``run.save_checkpoint({"step": ..., "model": ..., "optimizer": ...})`` works without allow_pickle, and
    latest_checkpoint() hands the same state back."""
    state = training_state()
    with modelver.track("ckpt-run") as run:
        run.save_checkpoint(state, step=7)
        again = run.latest_checkpoint()
    assert same(state, again)


def test_bytes_naming_other_objects_are_refused_and_run_nothing(tmp_path: Path) -> None:
    """A crafted file labelled torch-state whose pickle calls os.system is refused by the restricted unpickler;
    the command never runs."""
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return os.system, (f"touch {marker}",)

    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(1), "x": Exploit()}, buffer)
    with pytest.raises(UnsafeFormatError, match="refuses"):
        get_format("torch-state").load(buffer.getvalue(), LoadContext())
    assert not marker.exists()
    plain = pickle.dumps({"x": Exploit()})
    with pytest.raises(FormatError, match=r"not a torch\.save archive"):
        get_format("torch-state").load(plain, LoadContext())
    assert not marker.exists()


def test_other_objects_in_the_tree_still_need_allow_pickle() -> None:
    """A checkpoint holding an object that is not a tensor or plain value is not torch-state: only pickle fits."""
    with pytest.raises(UnsafeFormatError, match="allow_pickle"):
        choose_format({"model": {"w": torch.zeros(1)}, "fn": print})
    assert "json" == choose_format({"step": 1, "lr": 0.1}).name  # no tensor: JSON, as before
    assert "torch" == choose_format({"w": torch.zeros(2)}).name  # a flat state dict: safetensors, as before


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=0, max_size=4).map(torch.tensor),
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers(0, 9)), children, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(trees)
def test_any_tree_of_tensors_and_plain_values_round_trips(tree: object) -> None:
    """Whatever the nesting, a tree the format accepts dumps and loads back equal (property test)."""
    fmt = get_format("torch-state")
    tree = {"root": tree, "anchor": torch.ones(1)}  # at least one tensor, as a checkpoint has
    assert fmt.matches(tree)
    assert same(tree, fmt.load(fmt.dump(tree), LoadContext()))
