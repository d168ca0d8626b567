"""A real Azure Blob Storage HTTP server for the Azure tests: Azurite (Microsoft's emulator, from npm) on 127.0.0.1.

Azurite is installed on first use with ``npm install`` into ``.azurite/`` at the repository root (git-ignored, never
global), so a fresh clone and CI get it without a manual step; later sessions reuse it. It runs with node, needs no
Docker and no network once installed, and honours conditional writes (``If-None-Match: *``: one winner under races,
``../shared/storage-facts.md``). Without node/npm, or when the install fails, the Azure tests are skipped with the
reason shown by ``pytest -ra``, never silently.

The server starts once per test session on a free port with its data in a temp dir; each test gets its own
container. Credentials are Azurite's fixed, public development account (``devstoreaccount1``), documented by
Microsoft for the emulator and useless anywhere else.
"""

from __future__ import annotations

import os
import shutil
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

#: The Azurite release the tests were written against (npm package ``azurite``).
AZURITE_VERSION = "3.37.0"
#: Where npm installs it: project-local and git-ignored.
INSTALL_DIR = Path(__file__).resolve().parent.parent / ".azurite"
BINARY = INSTALL_DIR / "node_modules" / ".bin" / "azurite-blob"

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, in Microsoft's Azurite README), not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(endpoint: str) -> str:
    """The connection string of the development account on the Azurite at ``endpoint`` (``http://host:port``)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint}/{ACCOUNT};"
    )


def azure_options(endpoint: str) -> dict[str, Any]:
    """Storage options of a Store on the Azurite at ``endpoint`` (adlfs keyword arguments)."""
    return {"connection_string": connection_string(endpoint), "skip_instance_cache": True}


def make_container(endpoint: str) -> str:
    """Create a fresh container (Azure's bucket) on the server; return its name."""
    from azure.storage.blob import BlobServiceClient

    name = f"modelver-{uuid.uuid4().hex[:16]}"
    BlobServiceClient.from_connection_string(connection_string(endpoint)).create_container(name)
    return name


def ensure_installed() -> Path:
    """Install Azurite into :data:`INSTALL_DIR` with npm unless it is there; return the ``azurite-blob`` path.

    Raises:
        pytest.skip.Exception: node or npm is missing, or npm could not install it (the reason says which).
    """
    needed = ("node",) if BINARY.exists() else ("node", "npm")
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Azure tests need Azurite, which needs {' and '.join(missing)} (not found on PATH)")
    if BINARY.exists():
        return BINARY
    INSTALL_DIR.mkdir(exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(INSTALL_DIR), f"azurite@{AZURITE_VERSION}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0 or not BINARY.exists():
        pytest.skip(f"npm could not install azurite@{AZURITE_VERSION} into {INSTALL_DIR}: {done.stderr[-800:]}")
    return BINARY


class Azurite:
    """An ``azurite-blob`` process on 127.0.0.1 serving from a temp dir."""

    def __init__(self, binary: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._data = tempfile.TemporaryDirectory(prefix="modelver-azurite-")
        self._log = open(os.path.join(self._data.name, "azurite.log"), "wb")  # noqa: SIM115  # closed in stop()
        self._process = subprocess.Popen(
            [
                str(binary),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--location",
                os.path.join(self._data.name, "data"),
                "--skipApiVersionCheck",  # the Python SDK may be newer than the emulator
                "--disableTelemetry",  # no network: the tests run offline
                "--silent",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_listening(timeout_s=60)

    def _wait_until_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = Path(self._log.name).read_text(errors="replace")
                raise RuntimeError(f"azurite-blob exited with {self._process.returncode}: {log[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"azurite-blob did not listen on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the process and delete its data."""
        stop_process(self._process)
        self._log.close()
        self._data.cleanup()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """The session's Azurite server (installed into ``.azurite/`` first if needed; skipped without node/npm)."""
    pytest.importorskip("adlfs", reason="the Azure tests need modelver[azure] (adlfs)")
    server = Azurite(ensure_installed())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def azure_container(azurite: Azurite) -> str:
    """A fresh, empty container on the session's Azurite."""
    return make_container(azurite.endpoint)
