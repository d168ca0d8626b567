"""Publishing on Azure Blob Storage through adlfs, against a real Azurite server on 127.0.0.1 (tests/azurite.py).

What adlfs sends, read in its source (adlfs 2026.8.0, azure-storage-blob 12.31): ``pipe_file(path, data,
mode="create")`` calls ``upload_blob(overwrite=False)``, which for an object under 64 MiB (every tag) is one Put Blob
request with ``If-None-Match: *``; a taken name answers 409 BlobAlreadyExists, raised as ``FileExistsError``.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

import modelver
from azurite import Azurite, azure_options
from modelver import IntegrityError, Store, VersionExistsError
from modelver.registry.verify import verify_all

RACERS = 4  # real processes cost ~2 s each to start here; 4 already race


def azure_store(endpoint: str, container: str) -> Store:
    """A Store at ``az://<container>/store`` on the Azurite at ``endpoint``."""
    return Store(f"az://{container}/store", **azure_options(endpoint))


def test_second_create_of_a_tag_on_azure_fails_and_the_first_content_stays(
    azurite: Azurite, azure_container: str
) -> None:
    """The conditional Put Blob refuses a taken name: VersionExistsError, the first bytes stay, one version listed."""
    store = azure_store(azurite.endpoint, azure_container)
    store.initialize()
    assert store.exists()
    store.create_tag("m", "1.0.0", b'{"first": true}')
    with pytest.raises(VersionExistsError, match="never overwritten"):
        azure_store(azurite.endpoint, azure_container).create_tag("m", "1.0.0", b'{"second": true}')
    assert b'{"first": true}' == store.read_tag("m", "1.0.0")
    assert ["1.0.0"] == store.list_versions("m")


# aiohttp (under adlfs) warns that a multi-MiB bytes body "might lock the event loop"; the warning is about
# adlfs's use of aiohttp, not about modelver, and Python ignores ResourceWarning by default.
LARGE_BODY_WARNING = "ignore:Sending a large body directly with raw bytes:ResourceWarning"


@pytest.mark.filterwarnings(LARGE_BODY_WARNING)
def test_publish_load_verify_round_trip_on_azure(azurite: Azurite, azure_container: str, tmp_path: Path) -> None:
    """track() publishes a model and a 3 MiB file to Azurite; a fresh handle loads, downloads and verifies them."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3 << 20))  # several upload chunks: the staging upload and move are exercised
    store = azure_store(azurite.endpoint, azure_container)
    with modelver.track("clf", store=store, config={"lr": 0.1}) as run:
        run.log_metrics({"loss": 0.25}, step=1)
        run.save_model({"coef": [1.5, 2.5]})
        run.log_artifact(weights)
    assert run.version is not None
    fresh = azure_store(azurite.endpoint, azure_container)
    assert ["0.1.0"] == [t.version for t in modelver.list_versions("clf", store=fresh)]
    assert {"coef": [1.5, 2.5]} == modelver.load("clf@0.1.0", store=fresh)
    out = tmp_path / "out"
    modelver.get("clf@0.1.0", store=fresh).download(out)
    assert weights.read_bytes() == (out / "weights.bin").read_bytes()
    assert verify_all(store=fresh).ok
    with modelver.track("clf", store=fresh) as again:
        again.save_model({"coef": [3.5]})
    assert again.version is not None
    assert "0.1.1" == again.version.version


def test_a_flipped_byte_on_azure_is_caught(azurite: Azurite, azure_container: str) -> None:
    """A model blob altered in the container: load raises IntegrityError and verify reports it corrupt."""
    store = azure_store(azurite.endpoint, azure_container)
    with modelver.track("flip", store=store) as run:
        run.save_model({"coef": [1, 2, 3]})
    assert run.version is not None
    path = store.blob_path(run.version.manifest.artifacts["model.json"].digest)
    original = bytes(store.fs.cat_file(path))
    store.fs.pipe_file(path, original.replace(b"2", b"7"))
    fresh = azure_store(azurite.endpoint, azure_container)
    with pytest.raises(IntegrityError, match="corrupt"):
        modelver.load("flip", store=fresh)
    assert ["corrupt"] == [o.status for o in modelver.verify("flip@0.1.0", store=fresh).objects if o.status != "ok"]


def _race_for_tag(endpoint: str, container: str, index: int, barrier: Any) -> None:
    store = azure_store(endpoint, container)
    barrier.wait(60)
    try:
        store.create_tag("m", "1.0.0", f'{{"writer": {index}}}'.encode())
    except VersionExistsError:
        raise SystemExit(3) from None


@pytest.mark.usefixtures("no_helper_processes_left")
def test_processes_racing_for_one_tag_on_azure_leave_exactly_one_winner(azurite: Azurite, azure_container: str) -> None:
    """Real processes released at once against Azurite: one creates the tag, the rest get VersionExistsError."""
    azure_store(azurite.endpoint, azure_container).initialize()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACERS)
    procs = [
        ctx.Process(target=_race_for_tag, args=(azurite.endpoint, azure_container, i, barrier)) for i in range(RACERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [0] + [3] * (RACERS - 1) == sorted(p.exitcode for p in procs)
    winner = next(i for i, p in enumerate(procs) if p.exitcode == 0)
    assert f'{{"writer": {winner}}}'.encode() == azure_store(azurite.endpoint, azure_container).read_tag("m", "1.0.0")
