"""GCS through gcsfs against a fake GCS server on 127.0.0.1 (tests/gcsserver.py): reads and writes, not atomicity.

gcsfs's create mode sends ``ifGenerationMatch=0`` (read in gcsfs ``core.py``: ``_pipe_file``/``_put_file`` with
``mode="create"``; a 412 becomes ``FileExistsError``). The fake server honours that precondition for simple uploads
only, and gcp-storage-emulator ignores it, so nothing here is taken as proof that publishing on GCS is atomic; what is
tested is that modelver's reads, writes, listings and verification work over gcsfs (docs/storage.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelver
from gcsserver import FakeGcs, gcs_options
from modelver import Store
from modelver.maintenance.gc import collect_garbage
from modelver.registry.verify import verify_all

# aiohttp (under gcsfs) warns that a multi-MiB bytes body "might lock the event loop"; the warning is about gcsfs's
# use of aiohttp, not about modelver, and Python ignores ResourceWarning by default.
LARGE_BODY_WARNING = "ignore:Sending a large body directly with raw bytes:ResourceWarning"


def gcs_store(endpoint: str, bucket: str) -> Store:
    """A Store at ``gs://<bucket>/store`` on the fake server at ``endpoint``."""
    return Store(f"gs://{bucket}/store", **gcs_options(endpoint))


@pytest.mark.filterwarnings(LARGE_BODY_WARNING)
def test_publish_load_verify_round_trip_on_gcs(gcs_server: FakeGcs, gcs_bucket: str, tmp_path: Path) -> None:
    """track() publishes a model, metrics and a 3 MiB file to the fake GCS; a fresh handle lists, loads, downloads
    and verifies them, and a second publish takes the next version."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3 << 20))  # several upload chunks: the staging upload and its move are exercised
    store = gcs_store(gcs_server.endpoint, gcs_bucket)
    with modelver.track("clf", store=store, config={"lr": 0.1}) as run:
        run.log_metrics({"loss": 0.25}, step=1)
        run.save_model({"coef": [1.5, 2.5]})
        run.log_artifact(weights)
    assert run.version is not None
    fresh = gcs_store(gcs_server.endpoint, gcs_bucket)
    assert ["0.1.0"] == [t.version for t in modelver.list_versions("clf", store=fresh)]
    assert {"coef": [1.5, 2.5]} == modelver.load("clf@0.1.0", store=fresh)
    out = tmp_path / "out"
    modelver.get("clf@0.1.0", store=fresh).download(out)
    assert weights.read_bytes() == (out / "weights.bin").read_bytes()
    assert verify_all(store=fresh).ok
    with modelver.track("clf", store=fresh) as again:
        again.save_model({"coef": [3.5]})
    assert again.version is not None
    assert ("0.1.1", ["clf"]) == (again.version.version, fresh.list_names())


def test_existing_tag_is_not_replaced_on_gcs(gcs_server: FakeGcs, gcs_bucket: str) -> None:
    """Sequentially, a second create of a tag is refused and the first bytes stay (a simple upload with
    ifGenerationMatch=0, which this server honours); says nothing about concurrent writers."""
    store = gcs_store(gcs_server.endpoint, gcs_bucket)
    store.create_tag("m", "1.0.0", b'{"first": true}')
    with pytest.raises(modelver.VersionExistsError):
        store.create_tag("m", "1.0.0", b'{"second": true}')
    assert b'{"first": true}' == store.read_tag("m", "1.0.0")


def test_a_flipped_byte_and_gc_on_gcs(gcs_server: FakeGcs, gcs_bucket: str) -> None:
    """A model blob altered on the server is caught on load; gc with no grace removes only unreferenced objects."""
    store = gcs_store(gcs_server.endpoint, gcs_bucket)
    with modelver.track("flip", store=store) as run:
        run.save_model({"coef": [1, 2, 3]})
    assert run.version is not None
    orphan = store.blob_path(store.put_bytes(b"nobody references this"))
    report = collect_garbage(store, grace_s=0, force=True)
    assert [orphan] == [p for p in report.removed if "/.staging/" not in p]
    assert verify_all(store=gcs_store(gcs_server.endpoint, gcs_bucket)).ok
    path = store.blob_path(run.version.manifest.artifacts["model.json"].digest)
    store.fs.pipe_file(path, bytes(store.fs.cat_file(path)).replace(b"2", b"7"))
    with pytest.raises(modelver.IntegrityError, match="corrupt"):
        modelver.load("flip", store=gcs_store(gcs_server.endpoint, gcs_bucket))
