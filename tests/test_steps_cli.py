"""``modelver lineage``, ``modelver steps`` and ``modelver used-by``, run as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelver

CLI = [str(Path(sys.executable).parent / "modelver")]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``modelver ARGS`` as a pipe would (no ``COLUMNS`` from the shell) and return the finished process."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


@modelver.versioned(name="load-rows")
def load_rows(path: Path) -> np.ndarray:
    """Read a CSV of numbers."""
    return np.loadtxt(path, delimiter=",", ndmin=2)


@modelver.versioned(name="center")
def center(rows: np.ndarray) -> np.ndarray:
    """Subtract the column means."""
    return rows - rows.mean(axis=0)


@modelver.versioned(name="fit")
def fit(rows: np.ndarray, centered: np.ndarray, lr: float = 0.1) -> dict[str, list[float]]:
    """A toy model from both the raw and the centered rows."""
    return {"w": (centered.std(axis=0) * lr + rows.min(axis=0)).tolist()}


@pytest.fixture
def pipeline(tmp_path: Path) -> modelver.ModelVersion:
    """A version built by three steps (load-rows → center → fit, and load-rows → fit) from one data file."""
    data = tmp_path / "rows.csv"
    data.write_text("1,2\n3,5\n")
    with modelver.track("piped", data={"rows": data}) as run:
        rows = load_rows(data)
        run.save_model(fit(rows, center(rows)))
    assert run.version is not None
    return run.version


def test_lineage_json_wires_steps_by_digest(pipeline: modelver.ModelVersion) -> None:
    """--json lists the steps with the contract's keys and the edges derived from digests."""
    out = cli("lineage", "piped", "--json")
    assert 0 == out.returncode, out.stderr
    shown = json.loads(out.stdout)
    assert ["load-rows", "center", "fit"] == [s["name"] for s in shown["steps"]]
    keys = {"name", "step_version", "code", "inputs", "output", "outputs", "cached", "started_at", "duration_s"}
    keys.add("values")  # the small scalar arguments, shown on the lineage graph's value nodes
    assert [keys] * 3 == [set(s) for s in shown["steps"]]
    lr = shown["steps"][2]["inputs"]["lr"]
    assert [
        {"from": "data:rows", "to": "step:0", "input": "path", "part": None},
        {"from": "step:0", "to": "step:1", "input": "rows", "part": None},
        {"from": "step:1", "to": "step:2", "input": "centered", "part": None},
        {"from": f"external:{lr}", "to": "step:2", "input": "lr", "part": None},
        {"from": "step:0", "to": "step:2", "input": "rows", "part": None},
    ] == shown["edges"]
    assert pipeline.digest == shown["digest"]


def test_lineage_prints_a_tree_from_the_version_down_to_the_data(pipeline: modelver.ModelVersion) -> None:
    """The tree starts at the version, goes through fit and its inputs, and ends at the data file."""
    out = cli("lineage", "piped")
    assert 0 == out.returncode, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("piped@0.1.0")
    assert "fit (ran" in lines[1]
    assert any("center (ran" in line for line in lines)
    assert any("path ← data 'rows'" in line for line in lines)
    assert any("(shown above)" in line for line in lines)


@modelver.versioned(name="split-rows")
def split_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first row and the rest: a step that returns a tuple."""
    return rows[:1], rows[1:]


def test_lineage_wires_a_part_of_a_returned_tuple(tmp_path: Path) -> None:
    """``train, test = split_rows(rows)`` then ``fit(train, ...)``: the edge into fit comes from split-rows, part
    "0" (--json), and the tree prints it as ``rows ← step split-rows[0]``."""
    data = tmp_path / "rows.csv"
    data.write_text("1,2\n3,5\n4,4\n")
    with modelver.track("parts", data={"rows": data}) as run:
        train, test = split_rows(load_rows(data))
        run.save_model(fit(train, test))
    out = cli("lineage", "parts", "--json")
    assert 0 == out.returncode, out.stderr
    shown = json.loads(out.stdout)
    assert ["load-rows", "split-rows", "fit"] == [s["name"] for s in shown["steps"]]
    assert [
        {"from": "data:rows", "to": "step:0", "input": "path", "part": None},
        {"from": "step:0", "to": "step:1", "input": "rows", "part": None},
        {"from": "step:1", "to": "step:2", "input": "centered", "part": "1"},
        {"from": f"external:{shown['steps'][2]['inputs']['lr']}", "to": "step:2", "input": "lr", "part": None},
        {"from": "step:1", "to": "step:2", "input": "rows", "part": "0"},
    ] == shown["edges"]
    tree = cli("lineage", "parts")
    assert 0 == tree.returncode, tree.stderr
    assert any("rows ← step split-rows[0] (ran" in line for line in tree.stdout.splitlines())
    assert any("centered ← step split-rows[1] (ran" in line for line in tree.stdout.splitlines())
    assert 1 == tree.stdout.count("not logged as data")  # lr: every other input is a step's or the data's


def test_steps_explain_and_list(pipeline: modelver.ModelVersion) -> None:
    """After a second call with another learning rate, explain names the changed input; list counts the calls."""
    rows = np.array([[1.0, 2.0], [3.0, 5.0]])
    fit(rows, center(rows), lr=0.2)
    out = cli("steps", "explain", "fit")
    assert 0 == out.returncode, out.stderr
    assert "input changed: lr" in out.stdout
    assert "ran: no stored step version" in out.stdout
    explained = json.loads(cli("steps", "explain", "center", "--json").stdout)
    assert (True, []) == (explained["call"]["cached"], explained["changed_inputs"])
    listed = json.loads(cli("steps", "list", "--json").stdout)
    assert {"center": 2, "fit": 2, "load-rows": 1} == {row["name"]: row["calls"] for row in listed}


def test_explain_of_an_unknown_step_is_one_error_line() -> None:
    """An unknown step name prints one error line and exits 1."""
    out = cli("steps", "explain", "nope")
    assert (1, "") == (out.returncode, out.stdout)
    assert out.stderr.startswith("modelver: error: no call of step 'nope'")
    outside = cli("steps", "explain", "../../names")
    assert (1, "") == (outside.returncode, outside.stdout)
    assert outside.stderr.startswith("modelver: error: '../../names' is not a step name")


def test_used_by_a_data_digest_and_a_reference(pipeline: modelver.ModelVersion, tmp_path: Path) -> None:
    """used-by lists the version and the step that read the data, then (from the index, transitively) the steps
    that consumed load-rows' and center's outputs; used-by REF lists a run that loaded it."""
    digest = pipeline.manifest.data["rows"].digest
    out = json.loads(cli("used-by", digest, "--json").stdout)
    assert [
        {"kind": "version", "ref": "piped@0.1.0", "digest": pipeline.digest, "role": role}
        for role in (
            "data 'rows'",
            "step load-rows input 'path'",
            "step center input 'rows' ← step load-rows in piped@0.1.0",
            "step fit input 'rows' ← step load-rows in piped@0.1.0",
            "step fit input 'centered' ← step center in piped@0.1.0",
        )
    ] == [u for u in out if u["kind"] == "version"]
    assert [
        ("center", "input 'rows' ← step load-rows in piped@0.1.0"),
        ("fit", "input 'centered' ← step center in piped@0.1.0"),
        ("fit", "input 'rows' ← step load-rows in piped@0.1.0"),
        ("load-rows", "input 'path'"),
    ] == sorted((u["ref"], u["role"]) for u in out if u["kind"] == "step")
    with modelver.track("consumer") as run:
        modelver.load("piped")
        run.save_model({"from": "piped"})
    text = cli("used-by", "piped@0.1.0")
    assert 0 == text.returncode, text.stderr
    assert f"version consumer@0.1.0 ({run.version.digest[:19]}): loaded version piped@{pipeline.digest}" in text.stdout  # type: ignore[union-attr]
    assert "nothing in the store used" in cli("used-by", "blake3:00000000").stdout


def test_lineage_does_not_call_logged_step_outputs_unread(tmp_path: Path) -> None:
    """A step output also logged as data is drawn as the step's output and marked so; data nothing read says so."""
    data = tmp_path / "rows.csv"
    data.write_text("1,2\n3,5\n4,4\n")
    with modelver.track("logged-parts", data={"rows": data}) as run:
        train, test = split_rows(load_rows(data))
        run.log_data("train_rows", train)
        run.log_data("unused", np.zeros(3))
        run.save_model(fit(train, test))
    tree = cli("lineage", "logged-parts")
    assert 0 == tree.returncode, tree.stderr
    # One line each, although longer than 80 columns: piped output is not cropped to a terminal width.
    lines = tree.stdout.splitlines()
    assert any(
        re.search(r"data 'train_rows' \S+ blake3:\w+ \(the same bytes as a step output above\)$", x) for x in lines
    )
    assert any(re.search(r"data 'unused' \S+ blake3:\w+ \(no step read it\)$", x) for x in lines)
