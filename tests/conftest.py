"""Shared fixtures: every test gets its own store; git commits made by tests need no global git config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import azurite as azurite_server
import gcsserver
import s3server
from helpers import GIT_ENV, git

# The S3 server fixtures (tests/s3server.py), visible to every test module.
s3_server = s3server.s3_server
s3_endpoint = s3server.s3_endpoint
s3_bucket = s3server.s3_bucket
s3_store = s3server.s3_store
s3_proxy = s3server.s3_proxy
s3_answering_proxy = s3server.s3_answering_proxy
no_helper_processes_left = s3server.no_helper_processes_left
backend = s3server.backend
# Azurite (tests/azurite.py) and the fake GCS server (tests/gcsserver.py).
azurite = azurite_server.azurite
azure_container = azurite_server.azure_container
gcs_server = gcsserver.gcs_server
gcs_bucket = gcsserver.gcs_bucket


@pytest.fixture(autouse=True)
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MODELVER_STORE and MODELVER_CACHE at fresh directories so no test touches the machine's."""
    store = tmp_path / "store"
    monkeypatch.setenv("MODELVER_STORE", str(store))
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "cache"))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    return store


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """Create a real git repository with the given files committed on branch main."""

    def make(files: dict[str, str], name: str = "repo") -> Path:
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        for rel, text in files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        return repo

    return make
