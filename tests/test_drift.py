"""Drift check: is the data now what a version was trained on?"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelver
from modelver import check_data

CLI = [str(Path(sys.executable).parent / "modelver")]


def _publish(tmp_path: Path) -> Path:
    data = tmp_path / "train"
    (data / "images").mkdir(parents=True)
    (data / "labels.csv").write_text("id,y\n1,0\n")
    (data / "images" / "1.png").write_bytes(b"png1")
    with modelver.track("m", data={"train": data, "weights": np.arange(3)}):
        pass
    return data


def test_unchanged_data_is_identical(tmp_path: Path) -> None:
    """Right after training, the recorded directory checks identical; in-memory data cannot be checked."""
    _publish(tmp_path)
    results = {r.label: r.status for r in check_data("m")}
    assert {"train": "identical", "weights": "unavailable"} == results


def test_changes_are_reported_file_by_file(tmp_path: Path) -> None:
    """An added, a removed and a changed file are each named."""
    data = _publish(tmp_path)
    (data / "labels.csv").write_text("id,y\n1,1\n")
    (data / "images" / "1.png").unlink()
    (data / "images" / "2.png").write_bytes(b"png2")
    [result] = check_data("m", label="train")
    expected = ("changed", ("images/2.png",), ("images/1.png",), ("labels.csv",))
    assert expected == (result.status, result.added, result.removed, result.changed)


def test_another_location_and_a_missing_one(tmp_path: Path) -> None:
    """A copy elsewhere checks identical; a path with nothing is missing."""
    data = _publish(tmp_path)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(data), str(copy)], check=True)
    assert "identical" == check_data("m", label="train", location=copy)[0].status
    assert "missing" == check_data("m", label="train", location=tmp_path / "gone")[0].status


def test_cli_data_check_exits_1_on_drift_and_fingerprint_prints_json(tmp_path: Path) -> None:
    """`modelver data check` fails on changed data; `modelver fingerprint --json` lists per-file digests."""
    data = _publish(tmp_path)
    ok = subprocess.run([*CLI, "data", "check", "m", "--label", "train"], capture_output=True, text=True)
    assert 0 == ok.returncode, ok.stderr
    (data / "labels.csv").write_text("changed")
    drift = subprocess.run([*CLI, "data", "check", "m", "--label", "train", "--json"], capture_output=True, text=True)
    assert 1 == drift.returncode
    assert ["labels.csv"] == json.loads(drift.stdout)[0]["changed"]
    fp = json.loads(subprocess.run([*CLI, "fingerprint", str(data), "--json"], capture_output=True, text=True).stdout)
    assert {"images/1.png", "labels.csv"} == set(fp["entries"])
    assert modelver.fingerprint(data).digest == fp["digest"]
    assert os.path.isabs(fp["uri"])


def test_data_recorded_from_store_checksums_checks_against_a_local_copy(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data recorded from S3 (digests from ETags, not hashed) checks identical against an equal local copy, by
    hashing the copy with the recorded algorithm; one changed byte in the copy is named."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # fingerprint() opens URLs with default options
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True)
    files = {"labels.csv": b"id,y\n1,0\n", "images/1.png": b"png1"}
    copy = tmp_path / "copy"
    for rel, content in files.items():
        fs.pipe_file(f"s3://{s3_bucket}/train/{rel}", content)
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(content)
    with modelver.track("m", data={"train": f"s3://{s3_bucket}/train"}):
        pass
    [remote] = check_data("m")
    [local] = check_data("m", label="train", location=copy)
    (copy / "labels.csv").write_bytes(b"id,y\n1,1\n")
    [drifted] = check_data("m", label="train", location=copy)

    assert ("identical", "") == (remote.status, remote.detail)
    assert ("identical", True) == (local.status, "different methods" in local.detail)
    assert ("changed", (), (), ("labels.csv",)) == (drifted.status, drifted.added, drifted.removed, drifted.changed)
