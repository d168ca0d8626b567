"""Safe loading: opt-in for code-running formats, hostile manifests, the environment check, user formats."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import modelver
from helpers import run_python
from modelver import (
    EnvironmentMismatchError,
    EnvironmentMismatchWarning,
    Format,
    FormatError,
    InvalidReferenceError,
    LoadContext,
    Prompt,
    UnsafeFormatError,
)
from modelver.capture.envcheck import environment_differences, requirements_text
from modelver.formats import deserialize, get_format, serialize
from modelver.formats.prompt import placeholders
from modelver.manifest import EnvironmentFacet
from modelver.provenance import created_by
from modelver.registry.resolution import VersionTag
from modelver.serde import canonical_json

CLI = [str(Path(sys.executable).parent / "modelver")]

OPAQUE = '''
class Opaque:
    """No safe format fits it."""

    def __init__(self, value):
        self.value = value
'''


def tamper(ref: str, change: Callable[[dict[str, Any]], None], version: str = "9.0.0") -> str:
    """Publish a hand-edited copy of ``ref``'s manifest as ``name@version``, as someone with write access could."""
    original = modelver.get(ref)
    body = json.loads(original.store.read_manifest(original.digest))
    change(body)
    digest = original.store.put_manifest(canonical_json(body))
    # Written straight to the store, as an attacker would: create_version_tag itself refuses a manifest it cannot read.
    tag = VersionTag(original.name, version, digest, "2026-01-01T00:00:00.000Z", created_by())
    original.store.create_tag(original.name, version, tag.to_bytes())
    return f"{original.name}@{version}"


def test_pickle_only_object_is_refused_without_opt_in_and_loads_with_it_in_a_fresh_process(tmp_path: Path) -> None:
    """The refusal names the opt-in and the safe alternative; allow_pickle=True loads the object."""
    (tmp_path / "opaque.py").write_text(OPAQUE)
    script = tmp_path / "publish_and_load.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, modelver
            from opaque import Opaque
            with modelver.track("opaque") as run:
                try:
                    run.save_model(Opaque(7))
                except modelver.UnsafeFormatError as exc:
                    print("save refused:", exc)
                run.save_model(Opaque(7), allow_pickle=True)
            """
        )
    )
    saved = run_python(script, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}).stdout
    assert "save refused:" in saved
    assert "allow_pickle=True" in saved
    loader = tmp_path / "load_it.py"
    loader.write_text(
        textwrap.dedent(
            """
            import modelver
            try:
                modelver.load("opaque@0.1.0")
            except modelver.UnsafeFormatError as exc:
                print("load refused:", exc)
            print("value:", modelver.load("opaque@0.1.0", allow_pickle=True).value)
            """
        )
    )
    out = run_python(loader, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}).stdout.splitlines()
    assert "value: 7" == out[-1]
    assert "allow_pickle=True" in out[0]
    assert "safe alternative" in out[0]


@pytest.mark.parametrize("bad", ["../evil.txt", "/etc/evil", "C:\\evil", "a\\..\\..\\evil", "e\u0301vil", "a\x00b"])
def test_a_hand_made_manifest_with_a_bad_path_is_refused_before_any_byte_is_written(bad: str, tmp_path: Path) -> None:
    """Reading the manifest refuses it, so download() writes nothing, whatever the platform's path rules."""
    source = tmp_path / "good.txt"
    source.write_text("fine")
    with modelver.track("m") as run:
        run.log_artifact(source)
    ref = tamper("m@0.1.0", lambda body: body["artifacts"].update({bad: body["artifacts"]["good.txt"]}))
    target = tmp_path / "out"
    with pytest.raises(InvalidReferenceError, match="refused"):
        modelver.get(ref).download(target)
    assert not target.exists()


def test_download_checks_every_path_before_writing_the_first(tmp_path: Path) -> None:
    """Even a manifest that skipped the read check (built in memory) gets no file written when one path is bad."""
    import attrs

    source = tmp_path / "a.txt"
    source.write_text("first in sorted order")
    with modelver.track("m") as run:
        run.log_artifact(source)
    version = modelver.get("m@0.1.0")
    entry = version.manifest.artifacts["a.txt"]
    hostile = attrs.evolve(
        version, manifest=attrs.evolve(version.manifest, artifacts={"a.txt": entry, "z/../../x": entry})
    )
    with pytest.raises(InvalidReferenceError):
        hostile.download(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _publish_iris() -> None:
    x, y = load_iris(return_X_y=True)
    with modelver.track("iris") as run:
        run.save_model(LogisticRegression(max_iter=300).fit(x, y))
        run.save_model({"threshold": 0.5}, name="settings")


def _old_environment(body: dict[str, Any]) -> None:
    body["environment"]["python"] = "3.1.4"
    body["environment"]["packages"]["scikit-learn"] = "0.20.0"


def test_load_warns_once_listing_every_difference_the_format_cares_about() -> None:
    """Recorded scikit-learn and Python differ: one warning names both; a JSON artifact is not checked."""
    _publish_iris()
    ref = tamper("iris@0.1.0", _old_environment)
    with pytest.warns(EnvironmentMismatchWarning) as caught:
        model = modelver.load(ref, name="model")
    assert 1 == len(caught)
    message = str(caught[0].message)
    running = metadata.version("scikit-learn")
    assert f"python: recorded 3.1.4, running {platform.python_version()}" in message
    assert f"scikit-learn: recorded 0.20.0, running {running}" in message
    assert "--requirements" in message
    assert 3 == len(model.classes_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert {"threshold": 0.5} == modelver.load(ref, name="settings")
        modelver.load("iris@0.1.0", name="model")  # same environment: no warning


def test_strict_load_raises_on_an_environment_mismatch() -> None:
    """strict=True turns the warning into EnvironmentMismatchError with the differences attached."""
    _publish_iris()
    ref = tamper("iris@0.1.0", _old_environment)
    with pytest.raises(EnvironmentMismatchError) as raised:
        modelver.load(ref, name="model", strict=True)
    assert 2 == len(raised.value.differences)
    assert isinstance(raised.value, RuntimeError)


def test_environment_differences_compare_minor_python_and_each_required_package() -> None:
    """Patch releases of Python match; packages compare exactly; missing ones and unrecorded ones are handled."""
    numpy_version = metadata.version("numpy")
    recorded = EnvironmentFacet(
        python="3.11.0",
        packages={"numpy": numpy_version, "scikit-learn": "0.1", "not-installed-pkg": "1.0"},
    )
    requires = ["NumPy", "scikit_learn", "not-installed-pkg", "never-recorded"]
    lines = environment_differences(recorded, requires, check_python=True, python="3.11.9")
    running = metadata.version("scikit-learn")
    assert ["not-installed-pkg: recorded 1.0, not installed", f"scikit-learn: recorded 0.1, running {running}"] == lines
    assert ["python: recorded 3.11.0, running 3.12.1"] == environment_differences(
        recorded, [], check_python=True, python="3.12.1"
    )


def test_show_requirements_prints_a_pip_requirements_list() -> None:
    """`modelver show REF --requirements` prints name==version lines of the recorded environment."""
    _publish_iris()
    result = subprocess.run([*CLI, "show", "iris@0.1.0", "--requirements"], capture_output=True, text=True)
    assert 0 == result.returncode, result.stderr
    lines = result.stdout.splitlines()
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in lines
    assert lines[0].startswith("# recorded environment of iris@0.1.0")
    recorded = modelver.get("iris@0.1.0").manifest.environment
    assert requirements_text(recorded, ref="iris@0.1.0") == result.stdout


class Celsius:
    """A user type with its own storage."""

    def __init__(self, degrees: float) -> None:
        self.degrees = degrees


@modelver.register_format
class CelsiusFormat(Format):
    """A user format registered with the decorator."""

    name = "test-celsius"
    extension = ".celsius"
    media_type = "text/x-celsius"
    data = True

    def matches(self, obj: object) -> bool:
        return isinstance(obj, Celsius)

    def dump(self, obj: object) -> bytes:
        assert isinstance(obj, Celsius)
        return repr(obj.degrees).encode()

    def load(self, data: bytes, context: LoadContext) -> object:
        return Celsius(float(data))


def test_a_decorated_user_format_is_chosen_automatically_and_recorded() -> None:
    """The decorator registers the format; automatic choice picks it and the manifest names it."""
    with modelver.track("temp") as run:
        assert "reading.celsius" == run.save_model(Celsius(21.5), name="reading")
    entry = modelver.get("temp@0.1.0").manifest.artifacts["reading.celsius"]
    assert ("test-celsius", "text/x-celsius") == (entry.format, entry.media_type)
    assert 21.5 == modelver.load("temp@0.1.0").degrees


def test_a_second_format_with_a_taken_name_is_refused() -> None:
    """Two different classes cannot share a format name."""

    class Other(Format):
        name = "json"

    with pytest.raises(FormatError, match="already taken"):
        modelver.register_format(Other)


def test_an_entry_point_format_is_found_in_a_fresh_process(tmp_path: Path) -> None:
    """A distribution declaring a `modelver.formats` entry point is loaded on first use, and its format round-trips."""
    (tmp_path / "reversing.py").write_text(
        textwrap.dedent(
            """
            import modelver

            class Reversed(modelver.Format):
                name = "reversed-text"
                extension = ".rev"
                def dump(self, obj):
                    return obj[::-1].encode()
                def load(self, data, context):
                    return data.decode()[::-1]
            """
        )
    )
    info = tmp_path / "reversing-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: reversing\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[modelver.formats]\nreversed = reversing:Reversed\n")
    script = tmp_path / "use_plugin.py"
    script.write_text(
        textwrap.dedent(
            """
            import modelver
            with modelver.track("plug") as run:
                run.save_model("hello", name="greeting", format="reversed-text")
            print(modelver.get("plug@0.1.0").manifest.artifacts["greeting.rev"].format, modelver.load("plug@0.1.0"))
            """
        )
    )
    out = run_python(script, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}).stdout
    assert "reversed-text hello\n" == out


def test_an_unknown_format_in_a_manifest_says_a_plugin_is_missing() -> None:
    """A manifest naming a format this installation lacks fails with FormatError, not a crash."""
    with modelver.track("m") as run:
        run.save_model({"a": 1})
    ref = tamper("m@0.1.0", lambda body: body["artifacts"]["model.json"].update(format="from-a-plugin"))
    with pytest.raises(FormatError, match=r"entry point group 'modelver\.formats'"):
        modelver.load(ref)


def test_serialize_and_deserialize_keep_their_signatures_for_other_callers() -> None:
    """The function pair other modules call still maps objects to bytes and back, refusing pickle by default."""
    stored = serialize({"k": [1, 2]})
    assert ("json", ".json") == (stored.format, stored.extension)
    assert {"k": [1, 2]} == deserialize(stored.data, stored.format)
    pickled = serialize(Celsius, format="pickle", allow_pickle=True)
    with pytest.raises(UnsafeFormatError):
        deserialize(pickled.data, "pickle")


def test_prompt_diff_is_a_text_diff(tmp_path: Path) -> None:
    """modelver.diff reports the changed prompt with both templates; the CLI prints a unified diff."""
    with modelver.track("bot") as run:
        run.save_prompt("system", "You are helpful.\nAnswer in {language}.\n")
    with modelver.track("bot") as run:
        run.save_prompt("system", "You are concise.\nAnswer in {language}.\n")
    result = modelver.diff("bot@0.1.0", "bot@0.1.1")
    assert ["system.prompt.json"] == [row.key for row in result.prompts]
    text = result.text_diff()["system.prompt.json"]
    assert "-You are helpful.\n+You are concise.\n Answer in {language}.\n" in text
    cli = subprocess.run([*CLI, "diff", "bot@0.1.0", "bot@0.1.1"], capture_output=True, text=True)
    assert 0 == cli.returncode, cli.stderr
    assert "-You are helpful." in cli.stdout
    assert "+You are concise." in cli.stdout


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
literals = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@given(st.lists(st.one_of(names.map(lambda n: ("var", n)), literals.map(lambda t: ("text", t))), max_size=8))
def test_render_substitutes_exactly_the_placeholders(parts: list[tuple[str, str]]) -> None:
    """A template built from literal text (braces escaped) and placeholders renders to the expected text, and its
    stored form loads back equal."""
    template = "".join("{" + p + "}" if kind == "var" else p.replace("{", "{{").replace("}", "}}") for kind, p in parts)
    values = {p: f"<{p.upper()}>" for kind, p in parts if kind == "var"}
    expected = "".join(values[p] if kind == "var" else p for kind, p in parts)
    assert tuple(dict.fromkeys(p for kind, p in parts if kind == "var")) == placeholders(template)
    prompt = modelver.Prompt(template, placeholders(template))
    assert expected == prompt.render(**values)
    fmt = get_format("prompt")
    assert prompt == fmt.load(fmt.dump(prompt), LoadContext())


@given(st.text(max_size=20))
def test_any_template_either_parses_or_is_refused_with_format_error(template: str) -> None:
    """Malformed braces or attribute lookups are a FormatError, never another exception."""
    try:
        found = placeholders(template)
    except FormatError:
        return
    assert all(name.isidentifier() for name in found)
    Prompt(template, found).render(**dict.fromkeys(found, "x"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)


@given(st.one_of(st.lists(json_values, max_size=4), st.dictionaries(st.text(max_size=5), json_values, max_size=4)))
def test_json_able_values_choose_json_and_round_trip(value: Any) -> None:
    """Any dict or list of JSON values is stored as JSON and read back equal."""
    stored = serialize(value)
    assert "json" == stored.format
    assert value == deserialize(stored.data, "json")


@given(
    hnp.arrays(
        dtype=st.one_of(hnp.scalar_dtypes(), hnp.unicode_string_dtypes(max_len=4)),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    )
)
def test_plain_arrays_choose_npy_and_round_trip_bit_for_bit(array: Any) -> None:
    """Every non-object dtype and shape (0-d included) goes through .npy without pickle and comes back identical."""
    stored = serialize(array)
    assert "npy" == stored.format
    loaded = deserialize(stored.data, "npy")
    assert (array.dtype, array.shape, array.tobytes()) == (loaded.dtype, loaded.shape, loaded.tobytes())


def test_a_file_named_like_a_data_format_must_parse_before_it_is_stored(tmp_path: Path) -> None:
    """A .json that is not JSON or a .txt that is not UTF-8 is refused at save, so no version holds an unloadable
    artifact; the error points to log_artifact."""
    (tmp_path / "broken.json").write_bytes(b"{not json")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "good.json").write_text('{"k": [1, 2]}')
    with modelver.track("files") as run:
        with pytest.raises(FormatError, match=r"broken\.json is named like a json file but is not one.*log_artifact"):
            run.save_model(tmp_path / "broken.json", name="broken")
        with pytest.raises(FormatError, match=r"latin1\.txt is named like a text file"):
            run.save_model(tmp_path / "latin1.txt", name="latin1")
        assert "good.json" == run.save_model(tmp_path / "good.json", name="good")
    assert {"k": [1, 2]} == modelver.load("files@0.1.0")


def _safetensors_bytes(header: dict[str, Any], payload: bytes) -> bytes:
    """A safetensors file with a hand-written header (padded to 8 bytes, as the format does)."""
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return len(encoded).to_bytes(8, "little") + encoded + payload


@pytest.mark.parametrize(
    "blob",
    [
        _safetensors_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1000]}}, bytes(16)),
        _safetensors_bytes({"w": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]}}, bytes(16)),
        _safetensors_bytes({"w": {"dtype": "F32", "shape": [1000000], "data_offsets": [0, 0]}}, b""),
        _safetensors_bytes({"w": {"dtype": "F32", "shape": [4]}}, bytes(16)),
        b"\xff" * 8 + b"{}",
    ],
    ids=["offsets-past-the-end", "shape-does-not-fit", "empty-data-large-shape", "no-offsets", "header-too-long"],
)
def test_a_safetensors_header_that_lies_is_a_format_error(blob: bytes, tmp_path: Path) -> None:
    """The zero-copy reader checks every tensor's offsets and shape against the bytes: a hand-made file whose header
    does not fit them fails with FormatError, never a view past the buffer or uninitialised memory."""
    path = tmp_path / "weights.safetensors"
    path.write_bytes(blob)
    with modelver.track("st") as run:
        run.save_model(path)
    with pytest.raises(FormatError):
        modelver.load("st@0.1.0")


def test_a_directory_artifact_with_a_stray_member_is_refused(tmp_path: Path) -> None:
    """A hand-made manifest listing a file of directory 'model' outside model/ is refused before anything is
    copied, instead of landing at a path the manifest did not name."""
    source = tmp_path / "ckpt"
    source.mkdir()
    (source / "config.json").write_text("{}")
    with modelver.track("dir") as run:
        run.save_model(source, name="model")

    def stray(body: dict[str, Any]) -> None:
        body["artifacts"]["other/config.json"] = {**body["artifacts"]["model/config.json"], "tree": "model"}

    ref = tamper("dir@0.1.0", stray)
    with pytest.raises(InvalidReferenceError, match=r"not below model/"):
        modelver.load(ref)
    assert (source / "config.json").read_bytes() == (modelver.load("dir@0.1.0") / "config.json").read_bytes()


def test_loading_without_the_formats_library_names_the_extra_to_install(tmp_path: Path) -> None:
    """In a process where PyYAML cannot be imported (blocked the way Python documents: ``sys.modules[name] = None``),
    loading a YAML artifact is a FormatError that is also an ImportError and names ``modelver[yaml]``."""
    with modelver.track("cfg") as run:
        run.save_config("pipeline", {"top_k": 3}, format="yaml")
    script = tmp_path / "no_yaml.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            sys.modules["yaml"] = None  # this interpreter has no PyYAML
            import modelver
            try:
                modelver.load("cfg@0.1.0")
            except modelver.FormatError as exc:
                print(isinstance(exc, ImportError), exc)
            """
        )
    )
    out = run_python(script, cwd=tmp_path).stdout
    assert out.startswith("True ")
    assert "pip install 'modelver[yaml]'" in out


def test_a_loader_s_library_is_part_of_the_environment_check(tmp_path: Path) -> None:
    """A directory read by a library's loader warns when that library's recorded version differs; no loader, no
    check (the directory format itself depends on nothing)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table_dir = tmp_path / "table"
    table_dir.mkdir()
    pq.write_table(pa.table({"x": [1, 2, 3]}), table_dir / "part-0.parquet")
    with modelver.track("tables") as run:
        run.save_model(table_dir, name="table")

    def old_pyarrow(body: dict[str, Any]) -> None:
        body["environment"]["packages"]["pyarrow"] = "0.1.0"

    ref = tamper("tables@0.1.0", old_pyarrow)
    with pytest.warns(EnvironmentMismatchWarning, match=f"pyarrow: recorded 0.1.0, running {pa.__version__}"):
        loaded = modelver.load(ref, loader=pq.read_table)
    assert [1, 2, 3] == loaded.column("x").to_pylist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (modelver.load(ref) / "part-0.parquet").is_file()
