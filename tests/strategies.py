"""Hypothesis strategies shared by the tests, and the equality that lossless round trips are checked with."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import decimal
import enum
import math
import pathlib
from typing import Any

import attrs
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelver.capture.redact import is_secret_key

__all__ = [
    "Color",
    "Layer",
    "Optimizer",
    "Permission",
    "assert_config_equal",
    "config_keys",
    "config_zoo",
    "hashable_config_values",
    "numpy_values",
]


class Color(enum.Enum):
    """A plain enum whose values are of mixed types."""

    RED = "red"
    GREEN = 2
    BLUE = (0, 0, 255)


class Permission(enum.IntFlag):
    """An int-valued flag: its members are ints too, and combinations have no single name."""

    READ = 1
    WRITE = 2
    EXECUTE = 4


@dataclasses.dataclass
class Optimizer:
    """A dataclass config section, with a field that ``__init__`` does not take."""

    name: str
    lr: Any
    schedule: Any = None
    steps: int = dataclasses.field(default=0, init=False)


@attrs.frozen
class Layer:
    """An attrs config section, with a private attribute (``__init__`` takes it as ``activation``)."""

    width: Any
    _activation: Any = "relu"


# Keys that name a secret would be redacted, which is tested on its own.
config_keys = st.text(max_size=8).filter(lambda key: not is_secret_key(key))
# Not "__dict__" and the like, which an argparse.Namespace cannot take as attributes.
_attribute_names = st.from_regex(r"[a-z][a-z0-9_-]{0,7}", fullmatch=True).filter(lambda key: not is_secret_key(key))

_NUMPY_DTYPES = [
    "bool",
    "int8",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "datetime64[ns]",
    "datetime64[D]",
    "timedelta64[s]",
    "U5",
    "S4",
    ">i4",
    ">f8",
]
# Offsets strictly inside a day, down to the microsecond, as datetime.timezone requires.
_fixed_offsets = st.builds(
    dt.timezone,
    st.timedeltas(min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)),
)
_timezones = st.timezones() | _fixed_offsets | st.just(dt.timezone.utc)
_paths = st.text(alphabet="ab/.:\\ ", max_size=8)


def _path(cls: type[pathlib.PurePath]) -> st.SearchStrategy[pathlib.PurePath]:
    # pathlib cannot read some malformed Windows paths back from str(); encode_config reports those as errors.
    return st.builds(cls, _paths).filter(lambda path: cls(str(path)) == path)


def _optimizer(name: str, lr: Any, schedule: Any, steps: int) -> Optimizer:
    optimizer = Optimizer(name=name, lr=lr, schedule=schedule)
    optimizer.steps = steps
    return optimizer


def numpy_values() -> st.SearchStrategy[Any]:
    """numpy scalars and small arrays (up to 3 dimensions) of the dtypes ``encode_config`` supports."""
    dtypes = st.sampled_from(_NUMPY_DTYPES).map(np.dtype)
    scalars = dtypes.flatmap(_numpy_elements)
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
    arrays = dtypes.flatmap(lambda dtype: hnp.arrays(dtype=dtype, shape=shapes, elements=_numpy_elements(dtype)))
    return scalars | arrays


def _numpy_elements(dtype: np.dtype[Any]) -> st.SearchStrategy[Any]:
    # Lone surrogates cannot be written as UTF-8 JSON: by design they are "unencodable" (tested on their own).
    if dtype.kind == "U":
        return hnp.from_dtype(dtype, alphabet=st.characters(exclude_categories=("Cs",)))
    return hnp.from_dtype(dtype)


def hashable_config_values() -> st.SearchStrategy[Any]:
    """Values that can be set items and dict keys: no NaN (it is unequal to itself) and no signalling NaN."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=6),
        st.binary(max_size=6),
        st.decimals(allow_nan=False),
        st.uuids(),
        st.dates(),
        st.sampled_from(Color),
        _path(pathlib.PurePosixPath),
    )
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=3).map(tuple) | st.frozensets(children, max_size=3),
        max_leaves=5,
    )


def _leaves() -> st.SearchStrategy[Any]:
    # Grouped so that each kind of value is drawn about as often as the others, numpy arrays included.
    plain = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    numbers = st.one_of(
        st.integers(min_value=-(2**200), max_value=2**200),
        st.sampled_from([2**63, 2**64 - 1, -(2**63) - 1]),
        st.floats(),
        st.sampled_from([math.nan, math.inf, -math.inf, -0.0]),
        st.complex_numbers(),
        st.decimals(),
        st.sampled_from([decimal.Decimal("1.10"), decimal.Decimal("-0"), decimal.Decimal("sNaN")]),
    )
    other_scalars = st.one_of(
        st.binary(max_size=10),
        st.uuids(),
        _path(pathlib.PurePosixPath),
        _path(pathlib.PureWindowsPath),
        _path(pathlib.Path),
        st.sampled_from(Color),
        st.sampled_from([*Permission, Permission.READ | Permission.WRITE, Permission(0)]),
    )
    times = st.one_of(
        st.datetimes(),
        st.datetimes(timezones=_timezones),
        st.dates(),
        st.times(),
        st.times(timezones=_timezones),
        st.timedeltas(),
    )
    return st.one_of(plain, numbers, other_scalars, times, numpy_values())


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    hashable = hashable_config_values()
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(config_keys, children, max_size=4),
        # A "$type" key must not be mistaken for a tag.
        st.builds(lambda d, v: {**d, "$type": v}, st.dictionaries(config_keys, children, max_size=2), children),
        st.dictionaries(hashable, children, max_size=3)
        | st.sets(hashable, max_size=3)
        | st.frozensets(hashable, max_size=3),
        st.builds(_optimizer, st.text(max_size=5), children, children, st.integers(0, 10)),
        st.builds(Layer, children, children),
        st.dictionaries(_attribute_names, children, max_size=3).map(lambda fields: argparse.Namespace(**fields)),
    )


def config_zoo(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Nested configs holding every kind of value that ``encode_config`` encodes losslessly."""
    return st.recursive(_leaves(), _containers, max_leaves=max_leaves)


def assert_config_equal(expected: Any, actual: Any, path: str = "") -> None:
    """Assert that ``actual`` is ``expected`` decoded back: same types, NaN equal to NaN, zeros of the same sign.

    numpy arrays and scalars compare by dtype, shape and value; datetimes and times also by their ISO form (offset
    included) and fold; ``Decimal`` by its string (exponent and NaN kind included).
    """
    assert type(expected) is type(actual), f"{path}: {type(expected)} != {type(actual)}"
    if isinstance(expected, (np.ndarray, np.generic)):
        _assert_arrays_equal(np.asarray(expected), np.asarray(actual), path)
    elif isinstance(expected, float):
        assert math.isnan(expected) == math.isnan(actual), path
        if not math.isnan(expected):
            assert (expected, math.copysign(1.0, expected)) == (actual, math.copysign(1.0, actual)), path
    elif isinstance(expected, complex):
        assert_config_equal(expected.real, actual.real, f"{path}.real")
        assert_config_equal(expected.imag, actual.imag, f"{path}.imag")
    elif isinstance(expected, decimal.Decimal):
        assert str(expected) == str(actual), path
    elif isinstance(expected, (dt.datetime, dt.time)):
        assert (expected.isoformat(), expected.tzinfo, expected.fold) == (
            actual.isoformat(),
            actual.tzinfo,
            actual.fold,
        ), path
    elif isinstance(expected, (list, tuple)):
        assert len(expected) == len(actual), path
        for i, (left, right) in enumerate(zip(expected, actual, strict=True)):
            assert_config_equal(left, right, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert expected.keys() == actual.keys(), path
        for key, value in expected.items():
            assert_config_equal(value, actual[key], f"{path}[{key!r}]")
    elif isinstance(expected, argparse.Namespace):
        assert_config_equal(vars(expected), vars(actual), path)
    elif dataclasses.is_dataclass(expected) or attrs.has(type(expected)):
        names = [f.name for f in dataclasses.fields(expected)] if dataclasses.is_dataclass(expected) else []
        names += [a.name for a in attrs.fields(type(expected))] if attrs.has(type(expected)) else []
        for name in names:
            assert_config_equal(getattr(expected, name), getattr(actual, name), f"{path}.{name}")
    else:
        assert expected == actual, path


def _assert_arrays_equal(expected: Any, actual: Any, path: str) -> None:
    assert (expected.dtype, expected.shape) == (actual.dtype, actual.shape), path
    if expected.dtype.kind == "c":
        _assert_arrays_equal(expected.real, actual.real, f"{path}.real")
        _assert_arrays_equal(expected.imag, actual.imag, f"{path}.imag")
    elif expected.dtype.kind == "f":
        nan = np.isnan(expected)
        assert np.array_equal(nan, np.isnan(actual)), path
        # The bytes, not ==, so that a zero that lost its sign is caught.
        assert expected[~nan].tobytes() == actual[~nan].tobytes(), path
    else:
        assert expected.tobytes() == actual.tobytes(), path
