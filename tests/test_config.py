"""Tests for the lossless config encoding (modelver.capture.config)."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import pathlib
import subprocess
import sys
import textwrap
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings

from modelver.capture.config import TAG, EncodedConfig, encode_config
from modelver.capture.config_decode import decode_config
from modelver.serde import canonical_json
from strategies import Color, Layer, Optimizer, Permission, assert_config_equal, config_zoo, numpy_values


def json_round_trip(value: Any) -> Any:
    """What a manifest gives back: the canonical JSON of ``value``, read again."""
    return json.loads(canonical_json(value))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_zoo())
def test_round_trip(config: Any) -> None:
    """Every supported value decodes equal, through canonical JSON, and encodes again to the same JSON."""
    encoded = encode_config(config)

    stored = json_round_trip(encoded.value)
    decoded = decode_config(stored)

    assert ((), ()) == (encoded.errors, encoded.redacted)
    assert encoded.value == stored
    assert_config_equal(config, decoded)
    assert canonical_json(encoded.value) == canonical_json(encode_config(decoded).value)


@settings(max_examples=100, deadline=None)
@given(numpy_values())
# Found by CI: numpy converts a timedelta back through microseconds and overflows near the int64 ends.
@example(np.array(-9223372036854, dtype="timedelta64[s]"))
@example(np.datetime64("NaT", "ns"))
def test_numpy_round_trip(value: Any) -> None:
    """numpy scalars and arrays decode with the same dtype, shape and values (NaN, NaT and -0.0 included)."""
    encoded = encode_config(value)

    assert () == encoded.errors
    assert_config_equal(value, decode_config(json_round_trip(encoded.value)))


def test_plain_json_stays_plain() -> None:
    """JSON-native values are not tagged."""
    config = {"lr": 0.001, "layers": [64, 64], "name": "mlp", "dropout": None, "big": 2**100, "ok": True}

    assert EncodedConfig(value=config) == encode_config(config)


_PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((1, "a"), {TAG: "tuple", "items": [1, "a"]}),
        ({"b", "a", "c"}, {TAG: "set", "items": ["a", "b", "c"]}),
        (frozenset({2, 1}), {TAG: "frozenset", "items": [1, 2]}),
        ({2: "x", 1: "y"}, {TAG: "dict", "items": [[1, "y"], [2, "x"]]}),
        ({TAG: "tuple"}, {TAG: "dict", "items": [[TAG, "tuple"]]}),
        (math.nan, {TAG: "float", "value": "nan"}),
        (-math.inf, {TAG: "float", "value": "-inf"}),
        (complex(1, math.inf), {TAG: "complex", "real": 1.0, "imag": {TAG: "float", "value": "inf"}}),
        (b"\x00\xff", {TAG: "bytes", "base64": "AP8="}),
        (decimal.Decimal("1.10"), {TAG: "decimal", "value": "1.10"}),
        (uuid.UUID(int=1), {TAG: "uuid", "value": "00000000-0000-0000-0000-000000000001"}),
        (pathlib.PureWindowsPath("C:/data"), {TAG: "path", "class": "PureWindowsPath", "value": "C:\\data"}),
        (pathlib.PurePosixPath("/data"), {TAG: "path", "class": "PurePosixPath", "value": "/data"}),
        (dt.datetime(2024, 5, 1, 12, 30), {TAG: "datetime", "value": "2024-05-01T12:30:00"}),
        (
            dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=_PARIS),
            {TAG: "datetime", "value": "2024-10-27T02:30:00+01:00", "zone": "Europe/Paris", "fold": 1},
        ),
        (
            dt.time(8, 0, tzinfo=dt.timezone(-dt.timedelta(microseconds=1))),
            {TAG: "time", "value": "08:00:00-00:00:00.000001"},
        ),
        (dt.date(2024, 5, 1), {TAG: "date", "value": "2024-05-01"}),
        (dt.time(8, 0, tzinfo=dt.timezone.utc), {TAG: "time", "value": "08:00:00+00:00"}),
        (dt.timedelta(days=1, hours=2, microseconds=5), {TAG: "timedelta", "value": "P1DT7200.000005S"}),
        (-dt.timedelta(seconds=90), {TAG: "timedelta", "value": "-P0DT90S"}),
        (
            Color.BLUE,
            {TAG: "enum", "class": "strategies:Color", "name": "BLUE", "value": {TAG: "tuple", "items": [0, 0, 255]}},
        ),
        (np.float32(0.5), {TAG: "numpy.generic", "dtype": "<f4", "value": 0.5}),
        (
            np.array([[1, 2]], dtype=np.int8),
            {TAG: "numpy.ndarray", "dtype": "|i1", "shape": [1, 2], "values": [[1, 2]]},
        ),
        (argparse.Namespace(lr=0.1), {TAG: "namespace", "fields": {"lr": 0.1}}),
        (Layer(8, "gelu"), {TAG: "attrs", "class": "strategies:Layer", "fields": {"width": 8, "_activation": "gelu"}}),
        (2**20_000, {TAG: "int", "hex": hex(2**20_000)}),
    ],
    ids=lambda param: param[TAG] if isinstance(param, dict) and param is not None and TAG in param else "",
)
def test_tagged_forms(value: Any, expected: Any) -> None:
    """Each tag has the documented form, and decodes back to the value."""
    encoded = encode_config(value)

    assert expected == encoded.value
    assert_config_equal(value, decode_config(json_round_trip(encoded.value)))


def test_negative_zero_keeps_its_sign() -> None:
    """-0.0 stays plain JSON and decodes with its sign, alone and inside numpy values."""
    config = {"x": -0.0, "a": np.array([-0.0], dtype=np.float16), "s": np.float32(-0.0)}

    encoded = encode_config(config)
    decoded = decode_config(json_round_trip(encoded.value))

    assert b'"x":-0.0' in canonical_json(encoded.value)
    assert -1.0 == math.copysign(1.0, decoded["x"])
    assert_config_equal(config, decoded)


def test_subclasses_of_builtins_decode_as_equal_builtins() -> None:
    """An OrderedDict and a named tuple decode to an equal dict and tuple; an IntFlag member stays a member."""
    point = collections.namedtuple("point", "x y")
    config = {"od": collections.OrderedDict(b=1, a=2), "pt": point(1, 2), "perm": Permission.READ}

    decoded = decode_config(encode_config(config).value)

    assert (config, dict, tuple, Permission) == (
        decoded,
        type(decoded["od"]),
        type(decoded["pt"]),
        type(decoded["perm"]),
    )


def test_dict_encoding_does_not_depend_on_insertion_order() -> None:
    """Equal dicts and sets encode to the same JSON, so their digests agree."""
    first = {2: "b", 1: "a", "s": {"x", "y", "z"}}
    second = {"s": {"z", "y", "x"}, 1: "a", 2: "b"}

    assert canonical_json(encode_config(first).value) == canonical_json(encode_config(second).value)


class _BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class _SurrogateRepr:
    def __repr__(self) -> str:
        return "<\udc80>"


def _recursive_list() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


def _recursive_dict() -> dict[str, Any]:
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    return loop


def _object_array() -> Any:
    return np.array([1, "a", None], dtype=object)


def _generator() -> Any:
    return (i for i in range(3))


@pytest.mark.parametrize(
    ("make", "type_name", "error"),
    [
        (lambda: lambda x: x, "builtins.function", "TypeError"),
        (_object_array, "numpy.ndarray", "TypeError"),
        (lambda: np.longdouble(1), "numpy.longdouble", "TypeError"),
        (lambda: np.ma.masked_array([1, 2], mask=[False, True]), "numpy.ma.MaskedArray", "TypeError"),
        (_generator, "builtins.generator", "TypeError"),
        (object, "builtins.object", "TypeError"),
        (_BrokenRepr, "test_config._BrokenRepr", "TypeError"),
        (_SurrogateRepr, "test_config._SurrogateRepr", "TypeError"),
        (lambda: int, "builtins.type", "TypeError"),
        (lambda: bytearray(b"x"), "builtins.bytearray", "TypeError"),
        (lambda: "lone \ud800 surrogate", "builtins.str", "UnicodeEncodeError"),
        (lambda: pathlib.PureWindowsPath("//server/"), "pathlib.PureWindowsPath", "ValueError"),
    ],
    ids=lambda param: param if isinstance(param, str) else "",
)
def test_unencodable_values_are_errors_not_exceptions(make: Callable[[], Any], type_name: str, error: str) -> None:
    """A value with no lossless encoding becomes an unencodable marker and an error at its path."""
    value = make()

    encoded = encode_config({"model": {"hooks": [1, value]}})

    marker = encoded.value["model"]["hooks"][1]
    assert ("model.hooks[1]", error) == encoded.errors[0][:2]
    assert 1 == len(encoded.errors)
    assert {TAG: "unencodable", "type": type_name} == {k: marker[k] for k in (TAG, "type")}
    assert marker["repr"] in encoded.errors[0][2]
    canonical_json([encoded.value, encoded.errors])
    assert marker == decode_config(json_round_trip(encoded.value))["model"]["hooks"][1]


def test_open_file_is_an_error(tmp_path: pathlib.Path) -> None:
    """An open file is recorded with its repr, which names the file."""
    with (tmp_path / "f.txt").open("w") as handle:
        encoded = encode_config({"log": handle})

    assert [("log", "TypeError")] == [error[:2] for error in encoded.errors]
    assert "f.txt" in encoded.value["log"]["repr"]


def test_broken_repr_is_replaced() -> None:
    """A repr() that raises gives a stand-in repr naming the exception."""
    encoded = encode_config([_BrokenRepr()])

    assert "<test_config._BrokenRepr object; repr() raised RuntimeError>" == encoded.value[0]["repr"]


def test_long_repr_is_truncated() -> None:
    """The repr kept for an unencodable value is at most 200 characters."""
    encoded = encode_config({"blob": bytearray(1000)})

    assert 200 == len(encoded.value["blob"]["repr"])
    assert encoded.value["blob"]["repr"].endswith("…")


@pytest.mark.parametrize(("make", "path"), [(_recursive_list, "cfg[1]"), (_recursive_dict, "cfg.self")])
def test_cycle_is_an_error(make: Callable[[], Any], path: str) -> None:
    """A container that contains itself is cut where it reappears."""
    encoded = encode_config({"cfg": make()})

    assert [(path, "ValueError")] == [error[:2] for error in encoded.errors]
    canonical_json(encoded.value)


def test_deep_nesting_is_an_error() -> None:
    """Nesting deeper than 100 levels is cut there, without a RecursionError now or when writing JSON."""
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]

    encoded = encode_config(deep)

    assert [("[0]" * 100, "ValueError")] == [error[:2] for error in encoded.errors]
    canonical_json(encoded.value)


def test_lone_surrogate_in_a_key_is_escaped_in_paths() -> None:
    """Error paths escape lone surrogates, so the errors themselves can go into a manifest."""
    encoded = encode_config({1: "x", "k\udc80": object()})

    assert [("k\\udc80", "UnicodeEncodeError"), ("k\\udc80", "TypeError")] == [e[:2] for e in encoded.errors]
    canonical_json([encoded.value, encoded.errors])


def test_huge_int_round_trips() -> None:
    """An int longer than Python's 4,300-digit string limit is stored as hex and comes back exactly."""
    value = -(10**5000) - 7

    assert value == decode_config(json_round_trip(encode_config(value).value))


def test_secret_keys_are_redacted() -> None:
    """Values under secret-looking keys and fields are replaced, and their paths listed; they are not errors."""
    config = {
        "db": {"host": "h", "password": "hunter2"},
        "api_key": 12345,
        "runs": [{"hf-token": "hf_x"}],
        "ns": argparse.Namespace(aws_secret_access_key="k", region="eu"),
        1: {"auth_header": b"Bearer x"},
    }

    encoded = encode_config(config)

    assert () == encoded.errors
    assert ("db.password", "api_key", "runs[0].hf-token", "ns.aws_secret_access_key", "[1].auth_header") == (
        encoded.redacted
    )
    assert {TAG: "redacted"} == dict(encoded.value["items"])[1]["auth_header"]
    assert {TAG: "redacted"} == decode_config(encoded.value)["db"]["password"]
    assert "hunter2" not in canonical_json(encoded.value).decode()


def test_secret_keys_with_none_or_bool_are_kept() -> None:
    """None and booleans cannot hold a secret, so a flag like use_auth_token stays visible."""
    config = {"use_auth_token": True, "token": None}

    assert EncodedConfig(value=config) == encode_config(config)


@pytest.fixture
def ghost_module(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module on sys.path that is not imported; removed from sys.modules afterwards."""
    name = "modelver_config_ghost"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import dataclasses, enum
            import attrs

            IMPORTED = True

            class Mode(enum.Enum):
                FAST = "fast"

            @dataclasses.dataclass
            class Spec:
                mode: Mode

            @attrs.define
            class Box:
                spec: Spec
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def _encode_from_ghost(name: str) -> Any:
    module = __import__(name)
    encoded = encode_config({"box": module.Box(module.Spec(module.Mode.FAST))})
    del sys.modules[name]
    return json_round_trip(encoded.value)


def test_decode_does_not_import_by_default(ghost_module: str) -> None:
    """Without allow_import, a class whose module is not imported leaves the tagged dict as it is."""
    stored = _encode_from_ghost(ghost_module)

    decoded = decode_config(stored)

    assert stored == decoded
    assert ghost_module not in sys.modules


def test_decode_imports_when_allowed(ghost_module: str) -> None:
    """With allow_import, the module is imported and the instance rebuilt."""
    stored = _encode_from_ghost(ghost_module)

    decoded = decode_config(stored, allow_import=True)

    module = sys.modules[ghost_module]
    assert {"box": module.Box(module.Spec(module.Mode.FAST))} == decoded


@pytest.mark.parametrize("tag", ["enum", "dataclass", "attrs"])
@pytest.mark.parametrize("class_path", ["no_such_module_xyz:Thing", "strategies:NoSuchThing", "strategies:<locals>.X"])
def test_unknown_class_decodes_to_tagged_dict(tag: str, class_path: str) -> None:
    """A class that cannot be found, even with imports allowed, leaves the tagged dict unchanged."""
    stored = {TAG: tag, "class": class_path, "name": "A", "value": 1, "fields": {"x": [1, {TAG: "tuple", "items": []}]}}

    assert stored == decode_config(stored, allow_import=True)


def test_class_of_the_wrong_kind_decodes_to_tagged_dict() -> None:
    """A class path that names a class of another kind (an enum recorded as a dataclass) is not trusted."""
    stored = {TAG: "dataclass", "class": "strategies:Color", "fields": {}}

    assert stored == decode_config(stored)


def test_changed_class_decodes_to_tagged_dict() -> None:
    """Recorded fields that the class no longer has leave the tagged dict unchanged."""
    stored = encode_config(Optimizer(name="adam", lr=0.1)).value
    stored["fields"]["momentum"] = 0.9

    assert stored == decode_config(stored)


def test_non_init_field_is_restored() -> None:
    """A dataclass field that __init__ does not take is set after construction."""
    optimizer = Optimizer(name="sgd", lr=0.1)
    optimizer.steps = 7

    assert 7 == decode_config(encode_config(optimizer).value).steps


def test_enum_member_missing_decodes_to_tagged_dict() -> None:
    """An enum member that is gone from its class leaves the tagged dict unchanged."""
    stored = {TAG: "enum", "class": "strategies:Color", "name": "PURPLE", "value": "purple"}

    assert stored == decode_config(stored)


def test_unhashable_key_decodes_to_tagged_dict() -> None:
    """A dict whose key could not be encoded cannot be rebuilt, and stays tagged instead of raising."""
    encoded = encode_config({len: "builtin as key", "lr": 0.1})

    decoded = decode_config(json_round_trip(encoded.value))

    assert (1, encoded.value) == (len(encoded.errors), decoded)


def test_unknown_tag_is_returned_unchanged() -> None:
    """A tag from a newer modelver is kept as it is."""
    stored = {"a": {TAG: "quaternion", "w": 1}}

    assert stored == decode_config(stored)


@pytest.mark.parametrize(
    "stored",
    [
        {TAG: "tuple"},
        {TAG: "float", "value": "1.5"},
        {TAG: "bytes", "base64": "***"},
        {TAG: "timedelta", "value": "PT1H"},
        {TAG: "numpy.generic", "dtype": "<nope", "value": 1},
        {TAG: "dict", "items": [[1, 2, 3]]},
    ],
    ids=lambda stored: stored[TAG],
)
def test_malformed_tag_raises_value_error(stored: dict[str, Any]) -> None:
    """A tagged object that encode_config could not have made is a ValueError."""
    with pytest.raises(ValueError, match="malformed encoded config"):
        decode_config(stored)


def test_numpy_is_not_imported_for_plain_configs() -> None:
    """Encoding and decoding a config without numpy values does not import numpy."""
    code = textwrap.dedent(
        """
        import sys, pathlib, datetime
        from modelver.capture.config import encode_config
        from modelver.capture.config_decode import decode_config
        value = encode_config({"a": (1, 2.5, float("nan")), "p": pathlib.Path("x"), "t": datetime.date.today()}).value
        decode_config(value)
        print("numpy" in sys.modules)
        """
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert "False" == result.stdout.strip()


@dataclasses.dataclass(frozen=True)
class _Frozen:
    when: dt.datetime
    tags: frozenset[str]


@attrs.define
class _Validated:
    n: int = attrs.field(validator=attrs.validators.instance_of(int))


def test_frozen_dataclass_round_trips() -> None:
    """A frozen dataclass with tagged fields decodes to an equal instance."""
    value = _Frozen(dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, seconds=1))), frozenset("ab"))

    assert value == decode_config(json_round_trip(encode_config(value).value))


def test_validator_refusing_a_redacted_value_keeps_the_tagged_dict() -> None:
    """A class whose validator refuses the redacted marker stays a tagged dict rather than raising."""
    stored = {TAG: "attrs", "class": f"{__name__}:_Validated", "fields": {"n": {TAG: "redacted"}}}

    assert stored == decode_config(stored)


class _Shade(enum.Enum):
    DARK = dt.timedelta(hours=1)


def test_enum_with_tagged_value_round_trips() -> None:
    """An enum member whose value needs a tag itself decodes to the member."""
    assert _Shade.DARK is decode_config(json_round_trip(encode_config(_Shade.DARK).value))
