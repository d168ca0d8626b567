"""A dict or list that is not JSON-able: the refusal names the first offending key path and value, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modelver
from modelver.errors import UnsafeFormatError
from modelver.formats.core import choose_format
from modelver.formats.json_check import json_problem
from modelver.formats.text import json_roundtrips

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({1: "a"}, "key 1 is an int: JSON keys are strings"),
        ({"t": (1, 2)}, "t is a tuple: it would load back as a list"),
        (
            {"w": np.zeros(3), "b": 1},
            "w is a numpy.ndarray: save it apart with save_model(array, name=...) or use .tolist()",
        ),
        ({"a": {"b": [1, {"c"}]}}, "a.b[1] is a set: JSON has no sets"),
        ([1, float("nan")], "[1] is nan: JSON has no NaN or infinity"),
    ],
)
def test_the_refusal_names_the_first_part_that_is_not_json(obj: Any, expected: str) -> None:
    """choose_format's UnsafeFormatError says which key or item is wrong and why, and still offers allow_pickle."""
    with pytest.raises(UnsafeFormatError) as raised:
        choose_format(obj)
    message = str(raised.value)
    assert (True, True) == (expected in message, "allow_pickle=True" in message)


def test_save_model_of_a_dict_with_an_int_key_names_the_key(store_dir: Path) -> None:
    """`run.save_model({1: "a"})` raises the message naming key 1 and stores nothing."""
    with modelver.track("jsonish") as run, pytest.raises(UnsafeFormatError, match="key 1 is an int: JSON keys"):
        run.save_model({1: "a"})
    assert {} == dict(modelver.get("jsonish", store=store_dir).manifest.artifacts)  # the run went on, saving nothing


@given(json_values)
def test_json_values_have_no_problem(value: Any) -> None:
    """Every dict or list that round-trips through JSON gets no complaint (the finder never blames a good part)."""
    wrapped = {"v": value}
    assert (True, None) == (json_roundtrips(wrapped), json_problem(wrapped))


@given(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), json_values, max_size=4), st.integers(0, 4))
def test_a_tuple_anywhere_is_named_by_its_path(value: dict[str, Any], at: int) -> None:
    """A tuple put under a new key ``bad`` after any JSON-able entries is what the finder names."""
    value = {**value, "zz_bad": (at,)}
    assert "zz_bad is a tuple: it would load back as a list; use a list" == json_problem(value)


def test_a_cycle_is_named_not_recursed_forever() -> None:
    """A list that contains itself is reported as a cycle."""
    loop: list[Any] = [1]
    loop.append(loop)
    assert "[1] refers back to itself: JSON cannot hold a cycle" == json_problem(loop)
