"""A dry-run gc deletes nothing, so it takes any grace period without --force."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelver
from modelver import Store
from modelver.cli import main
from modelver.errors import GraceTooShortError
from modelver.maintenance.gc import collect_garbage


def _orphan(store: Store) -> Path:
    """Publish one version, then add a blob nothing references (written now: younger than any grace)."""
    with modelver.track("m", store=store) as run:
        run.save_model({"kept": True})
    return Path(store.blob_path(store.put_bytes(b"an orphan")))


def test_dry_run_accepts_a_zero_grace_and_removes_nothing(store_dir: Path) -> None:
    """`collect_garbage(grace_s=0, dry_run=True)` lists the fresh orphan and leaves it in place."""
    store = Store(store_dir)
    orphan = _orphan(store)
    report = collect_garbage(store, grace_s=0, dry_run=True)
    assert ([str(orphan)], True) == (list(report.removed), orphan.exists())
    with pytest.raises(GraceTooShortError, match="below the minimum"):  # a removing gc keeps the minimum
        collect_garbage(store, grace_s=0)
    with pytest.raises(GraceTooShortError, match="negative"):
        collect_garbage(store, grace_s=-1, dry_run=True)
    assert orphan.exists()


def test_gc_command_dry_run_with_grace_zero_needs_no_force(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`modelver gc --dry-run --grace 0` prints what it would remove and exits normally."""
    store = Store(store_dir)
    orphan = _orphan(store)
    main(["gc", "--dry-run", "--grace", "0"])
    assert f"would remove {orphan}" in capsys.readouterr().out.splitlines()
    assert orphan.exists()
