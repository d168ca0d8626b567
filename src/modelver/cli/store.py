"""``modelver gc`` and ``modelver push``: store maintenance commands (wired into :mod:`modelver.cli.app`)."""

from __future__ import annotations

import sys

import click

from modelver.cli.common import console
from modelver.maintenance.gc import DEFAULT_GRACE_S, collect_garbage
from modelver.store.leases import MIN_GRACE_S
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.tracking.spool import pending, push, spool_dir
from modelver.units import human_bytes


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=DEFAULT_GRACE_S,
    show_default=True,
    help=f"Keep unreferenced objects younger than this many SECONDS (runs still training); at least {MIN_GRACE_S:g} "
    "unless --dry-run or --force.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Accept a --grace below the minimum (removes the files of runs still training; publishes stay safe).",
)
@click.pass_obj
def gc(store: str | None, dry_run: bool, grace: float, force: bool) -> None:
    """Remove blobs and manifests no version references, and stale temp files, older than --grace."""
    report = collect_garbage(store, grace_s=grace, dry_run=dry_run, force=force)
    verb = "would remove" if dry_run else "removed"
    for path in report.removed:
        click.echo(f"{verb} {path}")
    for upload in report.aborted_uploads:
        click.echo(f"{'would abort' if dry_run else 'aborted'} multipart upload {upload}")
    console.print(
        f"{verb} {len(report.removed)} object(s), {human_bytes(report.removed_bytes)}; kept {report.referenced} "
        f"referenced and {len(report.kept_young)} younger than {grace:g} s"
    )


@click.command(name="push")
@click.pass_obj
def push_(store: str | None) -> None:
    """Publish the runs spooled while their store could not be reached (all of them, or --store's only)."""
    target: Store | None = open_store(store) if store is not None else None
    waiting = pending(target.url if target is not None else None)
    if not waiting:
        console.print(f"nothing to push (spool: {spool_dir()})", markup=False)
        return
    failed = 0
    for result in push(target):
        if result.tag is not None:
            console.print(f"pushed {result.entry.name}@{result.tag.version} to {result.entry.store}", markup=False)
        else:
            failed += 1
            click.echo(f"modelver: error: run {result.entry.run_id} not pushed: {result.error}", err=True)
    if failed:
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add ``gc`` and ``push`` to the ``modelver`` command group."""
    group.add_command(gc)
    group.add_command(push_)
