"""Retention commands of the ``modelver`` CLI: ``prune`` and ``retention set|show``.

:func:`register` adds them to the main group (``modelver.cli.app``).
"""

from __future__ import annotations

import click

from modelver.cli.common import print_json
from modelver.maintenance.prune import prune, retention_rules, set_retention
from modelver.serde import to_json_dict
from modelver.store.location import open_store
from modelver.units import human_bytes

__all__ = ["register"]


@click.command(name="prune")
@click.option("--keep-last", type=int, default=None, help="Keep this many of each name's highest versions.")
@click.option("--older-than", default=None, help="Prune only versions older than this, e.g. 30d, 12h.")
@click.option("--name", default=None, help="Only this name (default: every name).")
@click.option("--dry-run", is_flag=True, help="Print what would be pruned and freed; write nothing.")
@click.option("--by", default=None, help="Who prunes (default: the OS user).")
@click.option("--reason", default="", help="Why; shown when a pruned version is resolved.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def prune_command(
    store: str | None,
    keep_last: int | None,
    older_than: str | None,
    name: str | None,
    dry_run: bool,
    by: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Remove whole versions (leaving tombstones); never one an alias, a deployment or a lineage needs. Without
    rules, each name's stored rules apply (`modelver retention set`). Then `modelver gc` frees the bytes."""
    report = prune(
        keep_last=keep_last, older_than=older_than, name=name, dry_run=dry_run, by=by, reason=reason, store=store
    )
    if as_json:
        print_json(to_json_dict(report))
        return
    verb = "would prune" if dry_run else "pruned"
    for ref in report.pruned:
        click.echo(f"{verb} {ref}")
    for ref, why in report.kept.items():
        click.echo(f"kept {ref}: {why}")
    click.echo(
        f"{verb} {len(report.pruned)} version(s); `modelver gc` {'would free' if dry_run else 'frees'} "
        f"{human_bytes(report.bytes_freed)} ({report.bytes_freed} bytes)"
    )


@click.group(name="retention")
def retention_group() -> None:
    """Per-name retention rules, applied by a plain `modelver prune`."""


@retention_group.command(name="set")
@click.argument("name")
@click.option("--keep-last", type=int, default=None, help="Keep this many of the highest versions.")
@click.option("--older-than", default=None, help="Prune only versions older than this, e.g. 30d.")
@click.option("--by", required=True, help="Who sets the rules (recorded).")
@click.pass_obj
def retention_set_command(store: str | None, name: str, keep_last: int | None, older_than: str | None, by: str) -> None:
    """Store the retention rules of NAME."""
    set_retention(name, keep_last=keep_last, older_than=older_than, by=by, store=store)
    click.echo(f"{name}: keep last {keep_last if keep_last is not None else '-'}, prune older than {older_than or '-'}")


@retention_group.command(name="show")
@click.argument("name")
@click.pass_obj
def retention_show_command(store: str | None, name: str) -> None:
    """The retention rules stored for NAME."""
    rules = retention_rules(open_store(store), name)
    if rules is None:
        click.echo(f"{name} has no retention rules")
        return
    click.echo(f"{name}: keep last {rules[0] if rules[0] is not None else '-'}, prune older than {rules[1] or '-'}")


def register(group: click.Group) -> None:
    """Add ``prune`` and ``retention`` to ``group`` (the ``modelver`` CLI)."""
    group.add_command(prune_command)
    group.add_command(retention_group)
