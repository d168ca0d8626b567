"""``modelver gc``: unreferenced objects go once older than the grace period; referenced and young ones stay."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import modelver
from modelver import Store, StoreError
from modelver.cli import main
from modelver.maintenance.gc import collect_garbage, referenced_paths
from modelver.registry.verify import verify_all


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _objects(store: Store) -> set[str]:
    return {p for p in store.fs.find(store.root + "/blobs") if "/.staging/" not in p} | set(
        store.fs.find(store.root + "/manifests")
    )


def _publish_and_fail(store: Store) -> str:
    with modelver.track("m", store=store) as run:
        run.save_model({"kept": True})

    def failing_run() -> None:
        with modelver.track("m", store=store) as run:
            run.save_model({"failed": "run"})
            raise RuntimeError("training diverged")

    with pytest.raises(RuntimeError):
        failing_run()
    return store.blob_path(store.put_bytes(b'{"failed":"run"}'))


def test_unreferenced_objects_go_only_after_the_grace_period(store_dir: Path) -> None:
    """A failed run's blobs stay while young, go once old; every referenced object stays and verifies."""
    store = Store(store_dir)
    _publish_and_fail(store)
    referenced = referenced_paths(store)
    orphans = _objects(store) - referenced
    assert orphans  # the failed run's model (its run record does not keep it alive) and its manifest-less blobs
    assert () == collect_garbage(store, grace_s=3600).removed
    for path in orphans:
        _age(Path(path), 7200)
    dry = collect_garbage(store, grace_s=3600, dry_run=True)
    assert (sorted(orphans), True) == (sorted(dry.removed), dry.dry_run)
    assert orphans <= _objects(store)
    report = collect_garbage(store, grace_s=3600)
    assert sorted(orphans) == sorted(report.removed)
    assert referenced == _objects(store)
    assert verify_all(store=store).ok
    assert {"kept": True} == modelver.load("m", store=store)
    assert 1 == len(store.list_runs())  # the record of the failed run stays for `modelver runs`


def test_stale_temp_files_and_staging_uploads_are_cleaned(store_dir: Path) -> None:
    """Leftovers of killed writers (.tmp-* next to tags, blobs/.staging/*) go once old; fresh ones stay."""
    store = Store(store_dir)
    store.initialize()
    stale = [store_dir / "names" / "m" / "versions" / ".tmp-dead", store_dir / "blobs" / ".staging" / "dead"]
    fresh = store_dir / "blobs" / ".staging" / "in-flight"
    for path in [*stale, fresh]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    for path in stale:
        _age(path, 7200)
    assert sorted(str(p) for p in stale) == sorted(collect_garbage(store, grace_s=3600).removed)
    assert [False, False, True] == [p.exists() for p in [*stale, fresh]]


def test_reusing_an_old_orphan_blob_freshens_it_so_gc_spares_it(store_dir: Path) -> None:
    """A publish that deduplicates against an old unreferenced blob refreshes its mtime: gc keeps it."""
    store = Store(store_dir)
    orphan = Path(_publish_and_fail(store))
    _age(orphan, 7200)
    store.put_bytes(b'{"failed":"run"}')  # an in-flight run saves the same bytes again
    assert str(orphan) not in collect_garbage(store, grace_s=3600).removed
    assert orphan.exists()


def test_gc_refuses_to_guess_when_a_manifest_is_unreadable(store_dir: Path) -> None:
    """A missing manifest means unknown references: gc removes nothing and says to verify."""
    store = Store(store_dir)
    with modelver.track("m", store=store) as run:
        run.save_model([1])
    assert run.version is not None
    os.unlink(store.manifest_path(run.version.digest))
    with pytest.raises(StoreError, match="verify --all"):
        collect_garbage(store, grace_s=0, force=True)


def test_gc_command_dry_run_and_grace(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`modelver gc --dry-run --grace 0` lists the orphans and keeps them; `gc --grace 0` removes them."""
    store = Store(store_dir)
    _publish_and_fail(store)
    orphans = _objects(store) - referenced_paths(store)
    main(["gc", "--dry-run", "--grace", "0", "--force"])
    out = capsys.readouterr().out
    assert sorted(f"would remove {p}" for p in orphans) == sorted(
        line for line in out.splitlines() if line.startswith("would remove /")
    )
    assert orphans <= _objects(store)
    main(["gc", "--grace", "0", "--force"])
    assert f"removed {len(orphans)} object(s)" in capsys.readouterr().out
    assert set() == _objects(store) - referenced_paths(store)


def test_verify_all_reports_every_corrupt_or_missing_object(
    store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`modelver verify --all` checks every version; a flipped and a missing blob make it exit 1 naming both."""
    store = Store(store_dir)
    for value in ([1], [2]):
        with modelver.track("m", store=store) as run:
            run.save_model(value)
    main(["verify", "--all"])
    assert "all 2 version(s) verified" in capsys.readouterr().out
    first, second = (modelver.get(f"m@0.1.{i}", store=store) for i in (0, 1))
    flipped = Path(store.blob_path(first.manifest.artifacts["model.json"].digest))
    flipped.chmod(0o644)
    flipped.write_bytes(b"[7]")
    os.unlink(store.blob_path(second.manifest.artifacts["model.json"].digest))
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--all"])
    out = capsys.readouterr()
    assert 1 == exited.value.code
    assert ["m@0.1.0: artifact model.json corrupt", "m@0.1.1: artifact model.json missing"] == [
        " ".join(line.split()[:3] + line.split()[4:5]) for line in out.out.splitlines() if line.startswith("m@")
    ]
    assert "2 of 2 version(s) failed verification" in out.err
    with pytest.raises(SystemExit):
        main(["verify"])  # neither REF nor --all


def _multipart_uploads(endpoint: str, bucket: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return sorted(u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def test_gc_aborts_stale_multipart_uploads_under_the_store_only(
    s3_store: Store,
    s3_endpoint: str,
    s3_bucket: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real multipart uploads left unfinished on the S3 server: gc aborts those under the store started before the
    grace period and keeps one outside the store's prefix; --dry-run and a longer grace period abort nothing.

    moto reports every upload as initiated on 2010-11-10 (a constant in its responses), so "young" is shown with a
    grace period reaching back before that date.
    """
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for key in ("store/blobs/.staging/killed", "store/blobs/.staging/killed-too", "elsewhere/not-ours"):
        upload = client.create_multipart_upload(Bucket=s3_bucket, Key=key)  # a publisher killed after one part
        client.upload_part(
            Bucket=s3_bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=os.urandom(5 << 20)
        )
    since_2010 = time.time() - datetime(2010, 11, 10, tzinfo=timezone.utc).timestamp()
    assert () == collect_garbage(s3_store, grace_s=since_2010 + 86400).aborted_uploads
    dry = collect_garbage(s3_store, grace_s=3600, dry_run=True)
    ours = [f"{s3_bucket}/store/blobs/.staging/killed", f"{s3_bucket}/store/blobs/.staging/killed-too"]
    assert ours == [u.split(" (upload ")[0] for u in dry.aborted_uploads]
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # botocore's own setting: how the CLI finds the server
    main(["--store", s3_store.url, "gc", "--dry-run"])
    assert [f"would abort multipart upload {u}" for u in dry.aborted_uploads] == [
        line for line in capsys.readouterr().out.splitlines() if "multipart" in line
    ]
    assert 3 == len(_multipart_uploads(s3_endpoint, s3_bucket))
    report = collect_garbage(s3_store, grace_s=3600)
    assert dry.aborted_uploads == report.aborted_uploads
    assert ["elsewhere/not-ours"] == _multipart_uploads(s3_endpoint, s3_bucket)
    assert () == collect_garbage(s3_store, grace_s=3600).aborted_uploads


def test_gc_keeps_step_records_and_the_step_cache(store_dir: Path) -> None:
    """gc with no grace period removes an orphan but keeps the step versions a version's lineage names and what the
    step cache points at: the next call is still a cache hit, and explain still reads the records."""
    import numpy as np

    ran: list[int] = []

    @modelver.versioned(name="gc-split")
    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        ran.append(n)
        return np.arange(n), np.ones(n)

    with modelver.track("m") as run:
        split(5)
    split(6)  # outside a run: only the step cache refers to it
    orphan = Store(store_dir).put_bytes(b"nobody refers to me")
    old = time.time() - 3600
    for path in (store_dir / "blobs").rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))

    report = collect_garbage(grace_s=60, force=True)
    split(5)
    split(6)

    assert Store(store_dir).blob_path(orphan) in report.removed
    assert [5, 6] == ran  # both calls were cache hits after gc
    assert run.version is not None
    assert all(o.status == "ok" for o in modelver.verify(run.version.ref).objects)
    assert "gc-split" == modelver.explain_step("gc-split").name
