"""Which store: argument > MODELVER_STORE > pyproject.toml > per-user default."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelver import StoreError, choose_store


def test_explicit_argument_beats_the_environment(tmp_path: Path) -> None:
    """store= wins over MODELVER_STORE."""
    choice = choose_store("memory://x")
    assert ("memory://x", "the store= argument") == (choice.url, choice.source)


def test_environment_beats_pyproject(tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MODELVER_STORE wins over [tool.modelver] store."""
    (tmp_path / "pyproject.toml").write_text('[tool.modelver]\nstore = "elsewhere"\n')
    monkeypatch.chdir(tmp_path)
    assert str(store_dir) == choose_store().url


def test_nearest_pyproject_store_is_relative_to_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From a subdirectory, the nearest pyproject.toml's relative store path resolves against that file."""
    monkeypatch.delenv("MODELVER_STORE")
    (tmp_path / "pyproject.toml").write_text('[tool.modelver]\nstore = "artifacts/store"\n')
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "src" / "pkg")
    choice = choose_store()
    assert str((tmp_path / "artifacts" / "store").resolve()) == choice.url
    assert "pyproject.toml" in choice.source


def test_default_is_the_per_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing configured, the store is in the user data dir (XDG_DATA_HOME on Linux)."""
    monkeypatch.delenv("MODELVER_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert str(tmp_path / "xdg" / "modelver" / "store") == choose_store().url


def test_broken_pyproject_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unparsable pyproject.toml on the way is reported, not ignored."""
    monkeypatch.delenv("MODELVER_STORE")
    (tmp_path / "pyproject.toml").write_text("[tool.modelver\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"pyproject\.toml"):
        choose_store()
