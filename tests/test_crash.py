"""Crash safety: processes publishing in a loop are killed with SIGKILL at random moments.

After every kill no partial version is visible (every listed version loads and verifies, ``latest`` too); at the
end ``verify --all`` passes and ``gc`` leaves exactly the referenced objects. The default run kills
``MODELVER_CRASH_KILLS`` (default 10) publishers per backend; ``MODELVER_CRASH_KILLS=50`` gives the issue's 100 runs
(local + S3) in about three minutes.
"""

from __future__ import annotations

import multiprocessing
import os
import posixpath
import random
import signal
import sys
import time
from pathlib import Path

import pytest

import modelver
from modelver import Store
from modelver.cli import main
from modelver.maintenance.gc import collect_garbage, referenced_paths
from modelver.maintenance.roots import gather_roots
from modelver.registry.verify import verify_all
from s3server import DUMMY_ENV, s3_options

KILLS = int(os.environ.get("MODELVER_CRASH_KILLS", "10"))

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def _open(url: str, endpoint: str | None) -> Store:
    return Store(url, **s3_options(endpoint)) if endpoint else Store(url)


def _publish_forever(url: str, endpoint: str | None, workdir: str) -> None:
    # The forkserver may have started before the S3 fixture set the dummy credentials: set them here.
    os.environ.update(DUMMY_ENV)
    store = _open(url, endpoint)
    n = 0
    while True:
        n += 1
        artifact = Path(workdir) / f"weights-{os.getpid()}-{n}.bin"
        artifact.write_bytes(os.urandom(1 << 20))  # new bytes every time: every publish uploads blobs
        with modelver.track("crash", store=store) as run:
            run.log_metrics({"n": n})
            run.save_model({"pid": os.getpid(), "n": n})
            run.log_artifact(artifact, name="weights.bin")


def _check_visible(store: Store, checked: set[str]) -> None:
    for tag in modelver.list_versions("crash", store=store):
        if tag.version in checked:
            continue
        value = modelver.load(f"crash@{tag.version}", store=store)
        assert {"pid", "n"} == set(value)
        assert modelver.verify(f"crash@{tag.version}", store=store).ok
        checked.add(tag.version)
    if checked:
        assert modelver.get("crash", store=store).version in checked


@pytest.mark.usefixtures("no_helper_processes_left")
def test_publishers_killed_at_random_moments_leave_no_partial_version(
    backend: tuple[str, str | None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL anywhere in a publish: only whole versions are ever visible; verify --all passes; gc leaves only
    referenced objects."""
    url, endpoint = backend
    store = _open(url, endpoint)
    store.initialize()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["modelver", "s3fs", "test_crash"])
    rng = random.Random(7)
    checked: set[str] = set()
    for _ in range(KILLS):
        proc = ctx.Process(target=_publish_forever, args=(url, endpoint, str(tmp_path)))
        proc.start()
        time.sleep(rng.uniform(0.2, 1.5))  # a random moment: before, during or between publishes
        assert proc.pid is not None
        assert proc.is_alive(), f"the publisher died by itself (exit code {proc.exitcode}); see its stderr"
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert -signal.SIGKILL == proc.exitcode
        _check_visible(store, checked)
    print(f"{KILLS} kills, {len(checked)} versions published", file=sys.stderr)
    assert verify_all(store=store).ok
    collect_garbage(store, grace_s=0, force=True)
    fs = store.fs
    fs.invalidate_cache()
    left = {
        p
        for p in fs.find(store.root)
        if posixpath.relpath(p, store.root).startswith(("blobs/", "manifests/")) or "/.tmp-" in p
    }
    # A killed publisher's lease stays live for PUBLISH_LEASE_MAX_S, and writes in progress are kept for
    # MIN_GRACE_S even by a forced gc: what is left is exactly the roots plus those temp and staging files.
    in_progress = {p for p in left if "/.tmp-" in p or "/.staging/" in p}
    assert (True, True) == (referenced_paths(store) <= left, left - in_progress <= set(gather_roots(store, 0.0).paths))
    assert verify_all(store=store).ok
    _check_visible(store, set())
    if endpoint is None:  # the CLI on the same store
        capsys.readouterr()
        main(["--store", url, "verify", "--all"])  # exits 1 on any failure
        assert f"all {len(checked)} version(s) verified" in capsys.readouterr().out
