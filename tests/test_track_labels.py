"""``track(labels=..., description=...)`` recorded in the manifest, label events over it (latest wins) in search,
``modelver show`` and ``modelver history``; and ``modelver.used_by`` answered from the index, by path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelver
from modelver.errors import InvalidLabelError
from modelver.manifest import Manifest
from modelver.serde import from_json_dict, to_json_dict

CLI = [str(Path(sys.executable).parent / "modelver")]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``modelver ARGS`` as a pipe would (no ``COLUMNS`` from the shell) and return the finished process."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_track_records_labels_and_description_and_events_override_per_key() -> None:
    """The manifest keeps what track() was given; a later label event wins on its key only, in search, in
    ``show --json`` (the current values) and in ``show`` (marked as coming from an event)."""
    with modelver.track("churn", labels={"team": "risk", "stage": "pilot"}, description="first cut") as run:
        run.log_metrics({"auc": 0.8})
    assert run.version is not None
    assert ({"team": "risk", "stage": "pilot"}, "first cut") == (
        run.version.manifest.labels,
        run.version.manifest.description,
    )
    assert ["churn@0.1.0"] == [v.ref for v in modelver.search("labels.team = 'risk' AND description LIKE 'first%'")]

    modelver.label("churn@0.1.0", {"stage": "production"}, by="alice")
    assert [] == modelver.search("labels.stage = 'pilot'")
    assert ["churn@0.1.0"] == [v.ref for v in modelver.search("labels.stage = 'production' AND labels.team = 'risk'")]

    shown = json.loads(cli("show", "churn@0.1.0", "--json").stdout)
    assert ({"team": "risk", "stage": "production"}, "first cut") == (shown["labels"], shown["description"])
    assert {"pilot"} == {modelver.get("churn@0.1.0").manifest.labels["stage"]}  # the manifest itself is unchanged
    text = cli("show", "churn@0.1.0").stdout
    assert "label      stage = production (label event)" in text
    assert "label      team = risk\n" in text
    assert "about      first cut" in text


def test_history_says_which_label_keys_an_event_changed() -> None:
    """``history --json`` gives a label event's labels, removed keys and description; the table names them."""
    with modelver.track("churn", labels={"team": "risk"}) as run:
        run.log_metrics({"auc": 0.8})
    modelver.label("churn@0.1.0", {"owner": "bob"}, by="alice")
    modelver.unlabel("churn@0.1.0", "team", by="alice")
    modelver.describe("churn@0.1.0", "retrained", by="alice")
    events = json.loads(cli("history", "churn", "--json").stdout)
    assert [({"owner": "bob"}, []), ({}, ["team"]), ({}, [])] == [
        (e["labels"], e["unset"]) for e in events if e["kind"] == "label"
    ]
    assert ["retrained"] == [e["description"] for e in events if "description" in e]
    table = cli("history", "churn").stdout
    assert [True, True, True] == [part in table for part in ("owner=bob", "-team", "description 'retrained'")]


def test_bad_labels_fail_before_the_run_and_publish_nothing(store_dir: Path) -> None:
    """A bad key, a non-text value or a too-long description is an InvalidLabelError (a ValueError) on the call to
    track(), before the block runs: nothing is published and no run is recorded."""
    bad: list[dict[str, object]] = [
        {"labels": {"bad key": "x"}},
        {"labels": {"team": 3}},
        {"description": "x" * 10_001},
    ]
    for kwargs in bad:
        with pytest.raises(InvalidLabelError) as caught:
            modelver.track("churn", **kwargs)  # type: ignore[arg-type]
        assert isinstance(caught.value, ValueError)
    assert [] == modelver.search(store=store_dir)
    assert not (store_dir / "runs").exists()


def test_manifests_without_labels_load_with_empty_labels() -> None:
    """A manifest written before labels existed (no ``labels``/``description`` keys) loads with ``{}`` and ``""``."""
    with modelver.track("old") as run:
        run.log_metrics({"x": 1})
    assert run.version is not None
    body = to_json_dict(run.version.manifest)
    del body["labels"], body["description"]
    loaded = from_json_dict(body, Manifest)
    assert ({}, "") == (loaded.labels, loaded.description)


@modelver.versioned(name="clean-rows")
def clean_rows(path: Path) -> np.ndarray:
    """Read a file of numbers."""
    return np.array([float(x) for x in path.read_text().split()])


@modelver.versioned(name="double-rows")
def double_rows(values: np.ndarray) -> np.ndarray:
    """Double them."""
    return values * 2


def test_used_by_takes_a_path_and_follows_steps_and_loaded_versions(tmp_path: Path) -> None:
    """``modelver.used_by(path)`` fingerprints the file, then finds from the index the run whose step read it, the run
    that consumed that step's output (only through a step), the run that loaded it, and the step versions; the CLI
    takes the path too."""
    data = tmp_path / "raw.txt"
    data.write_text("1 2 3\n")
    with modelver.track("prep") as run:
        clean_rows(data)
    cleaned = clean_rows(data)
    with modelver.track("train") as run:
        run.log_metrics({"sum": float(double_rows(cleaned).sum())})
    with modelver.track("serve") as run:
        modelver.get("train")
    train = modelver.get("train").digest
    found = [(u.kind, u.ref, u.role) for u in modelver.used_by(str(data))]
    assert [
        ("version", "prep@0.1.0", "step clean-rows input 'path'"),
        ("version", "serve@0.1.0", f"loaded version train@{train} ← train@0.1.0"),
        ("version", "train@0.1.0", "step double-rows input 'values' ← step clean-rows in prep@0.1.0"),
        ("step", "clean-rows", "input 'path'"),
        ("step", "double-rows", "input 'values' ← step clean-rows in prep@0.1.0"),
    ] == found
    out = cli("used-by", str(data), "--json")
    assert 0 == out.returncode, out.stderr
    assert [(k, r, role) for k, r, role in found] == [(u["kind"], u["ref"], u["role"]) for u in json.loads(out.stdout)]


def test_the_ui_version_page_shows_current_labels_and_description(store_dir: Path) -> None:
    """The web UI's version page (and its JSON) shows labels and the description as they are now."""
    from modelver.store.location import open_store
    from modelver.ui.views import version_page

    with modelver.track("churn", labels={"team": "risk"}, description="first cut") as run:
        run.log_metrics({"auc": 0.8})
    modelver.label("churn@0.1.0", {"team": "fraud"}, by="alice")

    data = version_page(open_store(None), "churn@0.1.0")

    assert ({"team": "fraud"}, "first cut") == (data["labels"], data["description"])
