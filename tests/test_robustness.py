"""What a careful reviewer found: tracking must survive hostile settings, concurrent logging and tampered stores."""

from __future__ import annotations

import json
import os
import shutil
import threading
import warnings
from pathlib import Path

import pytest

import modelver
from modelver import CaptureError, IntegrityError, InvalidReferenceError, Store
from modelver.capture.redact import redact_text


def test_capture_warnings_cannot_break_training_even_as_errors() -> None:
    """With warnings turned into errors, a bad metric and an unencodable config are still only recorded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with modelver.track("m", config={"fn": print}) as run:
            run.log_metrics({"loss": "not a number"})
    assert run.version is not None
    assert ["config", "metrics"] == sorted(e.facet for e in run.version.manifest.capture_errors)


def test_user_exception_survives_warnings_as_errors(store_dir: Path) -> None:
    """The user's exception, not a CaptureWarning, leaves the block; the failed run is still recorded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(KeyError, match="boom"), modelver.track("m", config={"fn": print}) as run:
            raise KeyError("boom")
    assert (store_dir / "runs" / f"{run.run_id}.json").is_file()


def test_logging_threads_do_not_stall_exit_and_are_refused_afterwards() -> None:
    """Two threads logging metrics as fast as they can: exit completes, and later calls raise CaptureError."""
    stop_reasons: list[str] = []

    def hammer(run: modelver.Run) -> None:
        step = 0
        while True:
            try:
                run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
            except CaptureError as exc:
                stop_reasons.append(str(exc))
                return
            step += 1

    with modelver.track("m") as run:
        threads = [threading.Thread(target=hammer, args=(run,)) for _ in range(2)]
        for t in threads:
            t.start()
    for t in threads:
        t.join(30)
    assert [False, False] == [t.is_alive() for t in threads]
    assert 2 == len(stop_reasons)
    assert "log inside" in stop_reasons[0]
    assert run.version is not None
    history = run.store.read_blob(run.version.manifest.metrics_history or "").splitlines()
    assert len(history) >= 1


def test_secrets_in_config_values_and_keys_are_redacted() -> None:
    """URL credentials and *_key values never reach the manifest."""
    config = {"db_url": "postgresql://admin:hunter2@db/x", "openai_key": "sk-abc123", "lr": 0.1}
    with modelver.track("m", config=config) as run:
        pass
    assert run.version is not None
    stored = json.dumps(run.version.manifest.config)
    assert "hunter2" not in stored
    assert "sk-abc123" not in stored
    assert "postgresql://db/x" == run.version.manifest.config["db_url"]


def test_credentials_in_urls_inside_messages_are_stripped() -> None:
    """Error text keeps the URL's host and path but loses its password and signature."""
    text = "cannot read s3://AKIA:secret@bucket/key?X-Amz-Signature=abc and https://u:p@h/x"
    assert "cannot read s3://bucket/key?X-Amz-Signature=*** and https://h/x" == redact_text(text)


def test_log_artifact_does_not_follow_symlinks_out_of_the_directory(tmp_path: Path) -> None:
    """A link inside an artifact directory pointing at a private file elsewhere is skipped, not uploaded."""
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "weights.bin").write_bytes(b"w")
    os.symlink(secret, outputs / "leak")
    with pytest.warns(modelver.CaptureWarning, match="leaves the directory"), modelver.track("m") as run:
        added = run.log_artifact(outputs)
    assert ["outputs/weights.bin"] == added


def test_remote_put_file_never_stores_bytes_under_another_digest(tmp_path: Path) -> None:
    """A file rewritten while it is uploaded to an object store: every blob still hashes to its name."""
    store = Store(f"memory://race-{os.getpid()}-{id(tmp_path)}")
    store.initialize()
    path = tmp_path / "checkpoint.bin"
    path.write_bytes(b"a" * 65536)
    done = threading.Event()

    def rewrite() -> None:
        flip = 0
        while not done.is_set():
            path.write_bytes((b"a" if flip else b"b") * 65536)
            flip ^= 1

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        digests = {store.put_file(path)[0] for _ in range(200)}
    finally:
        done.set()
        writer.join()
    for digest in digests:
        store.read_blob(digest)  # raises IntegrityError if bytes and name disagree


def test_a_copied_tag_is_refused(store_dir: Path) -> None:
    """A tag copied under another name and version is detected instead of serving the wrong model."""
    with modelver.track("b") as run:
        run.save_model({"model": "b"})
    forged = store_dir / "names" / "a" / "versions"
    forged.mkdir(parents=True)
    shutil.copy(store_dir / "names" / "b" / "versions" / "0.1.0.json", forged / "9.9.9.json")
    with pytest.raises(IntegrityError, match="copied or forged"):
        modelver.get("a")


def test_bad_metric_names_are_capture_errors() -> None:
    """A non-string metric name is recorded as a capture error and the run still publishes."""
    with pytest.warns(modelver.CaptureWarning, match="not a string"), modelver.track("m") as run:
        run.log_metrics({1: 0.5, "acc": 0.9})  # type: ignore[dict-item]
    assert run.version is not None
    assert {"acc": 0.9} == run.version.manifest.metrics


def test_artifact_that_would_be_file_and_directory_is_refused(tmp_path: Path) -> None:
    """model.json and model.json/x cannot both be in a bundle."""
    extra = tmp_path / "x"
    extra.write_text("x")
    with modelver.track("m") as run:
        run.save_model({"a": 1}, name="model")
        with pytest.raises(InvalidReferenceError, match="file and a directory"):
            run.log_artifact(extra, name="model.json/x")
    assert run.version is not None
    assert ["model.json"] == list(run.version.manifest.artifacts)


def test_list_versions_checks_the_name_before_touching_the_store() -> None:
    """A traversal name is refused, not listed."""
    with pytest.raises(InvalidReferenceError):
        modelver.list_versions("../../etc")
