"""A damaged or hostile store: every reader answers with a modelver error naming the record, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelver
from modelver import FormatError, IntegrityError, ModelverError, Store, StoreError
from modelver.cli.app import main
from modelver.manifest import CreatedBy
from modelver.registry.resolution import VersionTag
from modelver.serde import canonical_json, parse_record

CLI = [str(Path(sys.executable).parent / "modelver")]

#: Manifests whose digest is right but whose bytes no JSON reader copes with (issue #16).
BROKEN = {
    "invalid-utf8": b'{"name": "\xff\xfe"}',
    "empty": b"",
    "not-json": b"name: churn\n",
    "deep": b"[" * 100_000 + b"]" * 100_000,
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``modelver ARGS`` in a real subprocess."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=dict(os.environ))


def publish_raw(store: Store, name: str, version: str, body: bytes, metrics: dict[str, Any] | None = None) -> str:
    """Put ``body`` as a manifest (under its true digest) and make ``name@version`` point at it; return the digest."""
    digest = store.put_manifest(body)
    tag = VersionTag(
        name=name,
        version=version,
        manifest=digest,
        created_at="2026-01-01T00:00:00Z",
        created_by=CreatedBy(user="mallory", host="h"),
        metrics=metrics or {},
    )
    store.create_tag(name, version, tag.to_bytes())
    return digest


@pytest.fixture
def good(store_dir: Path) -> modelver.ModelVersion:
    """One good version, ``churn@0.1.0``, with a metric and a JSON model."""
    with modelver.track("churn") as run:
        run.log_metrics({"accuracy": 0.93})
        run.save_model({"weights": [1, 2, 3]})
    assert run.version is not None
    return run.version


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_manifest_is_an_integrity_error_for_every_api_reader(
    case: str, good: modelver.ModelVersion, store_dir: Path, tmp_path: Path
) -> None:
    """get(), load() and download() of a version whose manifest is broken raise IntegrityError naming it."""
    digest = publish_raw(Store(str(store_dir)), "churn", "0.2.0", BROKEN[case])
    for read in (
        lambda: modelver.get("churn@0.2.0"),
        lambda: modelver.load("churn@0.2.0"),
        lambda: modelver.get("churn@0.2.0").download(tmp_path / "out"),
    ):
        with pytest.raises(IntegrityError) as caught:
            read()
        assert digest in str(caught.value)
        assert "modelver verify" in str(caught.value)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_cli_names_the_broken_manifest_and_lists_the_other_versions(
    case: str, good: modelver.ModelVersion, store_dir: Path, tmp_path: Path
) -> None:
    """show, verify and reproduce exit 1 with one line; list still lists 0.1.0 and marks 0.2.0 unreadable."""
    digest = publish_raw(Store(str(store_dir)), "churn", "0.2.0", BROKEN[case])
    commands = (("show", "churn@0.2.0"), ("verify", "churn@0.2.0"), ("reproduce", "churn@0.2.0", str(tmp_path / "r")))
    for args in commands:
        done = cli(*args)
        assert (1, "") == (done.returncode, done.stdout.strip()), args
        assert "Traceback" not in done.stderr
        assert digest in done.stderr
    listed = cli("list", "churn", "--json")
    assert 0 == listed.returncode, listed.stderr
    rows = {row["version"]: row for row in json.loads(listed.stdout)}
    assert ["0.1.0", "0.2.0"] == sorted(rows)
    assert "ok" == rows["0.1.0"]["status"]
    assert rows["0.2.0"]["status"].startswith("unreadable: manifest")
    table = cli("list", "churn")
    assert 0 == table.returncode, table.stderr
    assert "0.93" in table.stdout
    assert "1 version(s) unreadable" in table.stdout


def test_a_manifest_of_a_future_schema_is_refused_naming_the_schema(
    good: modelver.ModelVersion, store_dir: Path
) -> None:
    """modelver.manifest/999 is not read as if it were /1: the error names it and says to upgrade modelver."""
    body = json.loads(Store(str(store_dir)).read_manifest(good.digest))
    publish_raw(Store(str(store_dir)), "churn", "0.2.0", canonical_json({**body, "schema": "modelver.manifest/999"}))
    with pytest.raises(StoreError) as caught:
        modelver.get("churn@0.2.0")
    message = str(caught.value)
    assert "modelver.manifest/999" in message
    assert f"modelver {modelver.__version__} cannot read" in message
    assert "pip install -U modelver" in message
    assert "0.1.0" == modelver.get("churn@0.1.0").version


def test_a_metric_outside_the_float_range_is_a_capture_error_and_not_stored() -> None:
    """log_metrics({"big": 10**400}) warns, records a capture error, and keeps the other metrics."""
    with pytest.warns(modelver.CaptureWarning, match="outside the float range"), modelver.track("m") as run:
        run.log_metrics({"big": 10**400, "small": 10**300, "loss": 0.5})
    assert run.version is not None
    assert {"loss": 0.5, "small": 10**300} == run.version.manifest.metrics
    assert ["metrics"] == [e.facet for e in run.version.manifest.capture_errors]
    assert [{"loss": 0.5, "small": 10**300}] == [line["metrics"] for line in run.version.metrics_history()]


def test_list_tolerates_huge_metrics_written_before(good: modelver.ModelVersion, store_dir: Path) -> None:
    """A record written before the range check, holding 10**400, lists instead of dying with OverflowError."""
    body = json.loads(Store(str(store_dir)).read_manifest(good.digest))
    huge = {"accuracy": 10**400}
    publish_raw(Store(str(store_dir)), "churn", "0.2.0", canonical_json({**body, "metrics": huge}), metrics=huge)
    done = cli("list", "churn")
    assert (0, "") == (done.returncode, done.stderr)
    assert "1e+400" in done.stdout
    assert {"accuracy": 10**400} == modelver.get("churn@0.2.0").manifest.metrics


def test_pickle_bytes_labelled_skops_are_a_format_error(good: modelver.ModelVersion, store_dir: Path) -> None:
    """A skops artifact whose bytes are a pickle raises FormatError naming the artifact, not BadZipFile."""
    pytest.importorskip("skops")
    store = Store(str(store_dir))
    payload = pickle.dumps({"not": "a zip"})
    body = json.loads(store.read_manifest(good.digest))
    body["artifacts"] = {
        "model.skops": {
            "digest": store.put_bytes(payload),
            "size_bytes": len(payload),
            "media_type": "application/zip",
            "format": "skops",
            "tree": None,
        }
    }
    body["environment"]["packages"] = {}
    publish_raw(store, "churn", "0.2.0", canonical_json(body))
    with pytest.raises(FormatError) as caught:
        modelver.load("churn@0.2.0")
    assert "churn@0.2.0:model.skops is labelled 'skops'" in str(caught.value)


def test_parse_record_refuses_every_broken_shape_with_an_integrity_error() -> None:
    """Each broken input of the issue gives IntegrityError naming the record and the reason."""
    reasons = {}
    for case, data in BROKEN.items():
        with pytest.raises(IntegrityError) as caught:
            parse_record(data, "manifest X")
        reasons[case] = str(caught.value).split(": ", 1)[1].split(".")[0]
    assert {
        "invalid-utf8": "it is not UTF-8 (byte 10)",
        "empty": "it is not JSON (it is empty)",
        "not-json": "it is not JSON (Expecting value: line 1 column 1 (char 0))",
        "deep": "it nests too deeply to parse",
    } == reasons
    with pytest.raises(IntegrityError, match="nests more than 200 levels"):
        parse_record(b"[" * 201 + b"]" * 201, "manifest X")
    assert [[1]] == parse_record(b"[[1]]", "manifest X")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
manifest_like = st.fixed_dictionaries(
    {"name": st.just("m"), "schema": st.sampled_from(["modelver.manifest/1", "modelver.manifest/2", "x"])},
    optional={
        "created_at": json_values,
        "created_by": json_values,
        "run_id": json_values,
        "artifacts": json_values,
        "metrics": json_values,
        "config": json_values,
        "code": json_values,
    },
)
records = (
    st.binary(max_size=64)
    | json_values.map(canonical_json)
    | manifest_like.map(canonical_json)
    | st.text(max_size=32).map(lambda t: t.encode("utf-8", "surrogatepass"))
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=records, tag=st.one_of(st.none(), records))
def test_fuzzed_manifests_and_tags_raise_only_modelver_errors(manifest: bytes, tag: bytes | None) -> None:
    """Random bytes and JSON as a manifest (and as a tag): get, load, download, verify, list and show only raise
    ModelverError (the CLI: exit 0 or 1, never a traceback)."""
    with tempfile.TemporaryDirectory() as root:
        store = Store(os.path.join(root, "store"))
        store.initialize()
        if tag is None:
            publish_raw(store, "m", "1.0.0", manifest)
        else:
            store.create_tag("m", "1.0.0", tag)
        readers = (
            lambda: modelver.get("m@1.0.0", store=store),
            lambda: modelver.load("m@1.0.0", store=store),
            lambda: modelver.get("m@1.0.0", store=store).download(os.path.join(root, "out")),
            lambda: modelver.get("m@1.0.0", store=store).config(),
            lambda: modelver.verify("m@1.0.0", store=store),
        )
        for read in readers:
            with contextlib.suppress(ModelverError):
                read()
        codes = []
        for args in (["list", "m"], ["list", "m", "--json"], ["show", "m@1.0.0", "--json"], ["verify", "m"]):
            try:
                main(["--store", store.url, *args])
            except SystemExit as exit_:
                codes.append(exit_.code)
        assert set(codes) <= {0, 1, None}


@pytest.mark.parametrize(
    ("fmt", "data"),
    [("skops", pickle.dumps([1, 2])), ("json", b"\xff{"), ("prompt", b"[1, 2]"), ("safetensors", b"\x08" * 16)],
)
def test_every_format_turns_undecodable_bytes_into_a_format_error(fmt: str, data: bytes) -> None:
    """modelver.formats.deserialize (what steps use for stored outputs) raises FormatError, the cause kept."""
    from modelver.formats import deserialize, formats

    if fmt not in formats():
        pytest.skip(f"format {fmt} is not installed here")
    with pytest.raises(FormatError) as caught:
        deserialize(data, fmt)
    assert fmt in str(caught.value)
