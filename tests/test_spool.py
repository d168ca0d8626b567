"""The offline spool: a run that ends while its S3 store is down is kept locally and pushed later."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelver
from modelver import Store
from modelver.cli import main
from modelver.tracking.spool import pending
from modelver.tracking.spool import push as modelver_push
from s3server import S3Server, make_bucket, s3_options


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private spool directory."""
    monkeypatch.setenv("MODELVER_SPOOL", str(tmp_path / "spool"))
    return tmp_path / "spool"


def _train(store: Store, server: S3Server, scheme: str = "semver") -> modelver.Run:
    with modelver.track("m", store=store, config={"lr": 0.1}, scheme=scheme) as run:
        run.save_model({"weights": [1, 2, 3]})  # uploaded while the store is up
        run.log_metrics({"loss": 0.25})  # its history blob is written at exit: into the spool
        assert run._static_thread is not None
        run._static_thread.join()  # the code capture's uploads are done before the store goes away
        server.stop()
    return run


def _train_while_the_server_dies(store: Store, server: S3Server, scheme: str = "semver") -> modelver.Run:
    with pytest.warns(UserWarning, match="modelver push"):
        return _train(store, server, scheme)


def test_run_ending_while_the_store_is_down_is_spooled_then_pushed(
    s3_server: S3Server,
    s3_endpoint: str,
    spool: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Store unreachable at exit: no error, the bundle is spooled, the user is told; `modelver push` publishes it."""
    url = f"s3://{make_bucket(s3_endpoint)}/store"
    store = Store(url, **s3_options(s3_endpoint, fail_fast=True))
    run = _train_while_the_server_dies(store, s3_server)
    assert (None, "spooled") == (run.version, run.status)
    assert "modelver push" in capfd.readouterr().err
    assert [("m", url)] == [(e.name, e.store) for e in pending()]
    s3_server.start()
    assert [] == modelver.list_versions("m", store=store)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # `modelver push` opens the store by its URL alone
    main(["push"])
    assert "pushed m@0.1.0" in capfd.readouterr().out
    assert [] == pending()
    assert {"weights": [1, 2, 3]} == modelver.load("m@0.1.0", store=store)
    assert modelver.verify("m@0.1.0", store=store).ok
    assert {"loss": 0.25} == modelver.get("m", store=store).manifest.metrics
    assert [{"loss": 0.25}] == [t.metrics for t in modelver.list_versions("m", store=store)]  # tag like a run's


def test_next_run_to_the_store_pushes_what_was_spooled(s3_server: S3Server, s3_endpoint: str, spool: Path) -> None:
    """A later track() to the same store publishes itself, then the spooled bundle."""
    store = Store(f"s3://{make_bucket(s3_endpoint)}/store", **s3_options(s3_endpoint, fail_fast=True))
    _train_while_the_server_dies(store, s3_server)
    s3_server.start()
    with modelver.track("m", store=store) as run:
        run.save_model({"weights": [4]})
    assert run.version is not None
    assert [] == pending()
    assert ["0.1.0", "0.1.1"] == [t.version for t in modelver.list_versions("m", store=store)]
    loaded = sorted(str(modelver.load(f"m@{v}", store=store)) for v in ("0.1.0", "0.1.1"))
    assert sorted([str({"weights": [4]}), str({"weights": [1, 2, 3]})]) == loaded


def test_a_spooled_run_keeps_its_version_scheme(s3_server: S3Server, s3_endpoint: str, spool: Path) -> None:
    """A hybrid run spooled during an outage is pushed as an experiment, not as a release."""
    store = Store(f"s3://{make_bucket(s3_endpoint)}/store", **s3_options(s3_endpoint, fail_fast=True))
    _train_while_the_server_dies(store, s3_server, scheme="hybrid")
    s3_server.start()
    [result] = modelver_push(store)
    assert "" == result.error
    [tag] = modelver.list_versions("m", store=store)
    assert tag.version.startswith("0.1.0-exp.")


def test_pending_skips_broken_and_claimed_entries(spool: Path) -> None:
    """A half-written entry and one another process is pushing are not offered for pushing."""
    (spool / "broken").mkdir(parents=True)
    (spool / "broken" / "entry.json").write_text('{"schema": "modelver.spool/1"}')
    claimed = spool / "run.pushing-1234abcd"
    claimed.mkdir()
    (claimed / "entry.json").write_text("{}")
    assert [] == pending()
