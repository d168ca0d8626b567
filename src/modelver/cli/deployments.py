"""Deployment and time-travel commands of the ``modelver`` CLI: ``deploy``, ``undeploy``, ``deployments`` and
``resolve`` (each with ``--at`` where it reads).

:func:`register` adds them to the main group (``modelver.cli.app``); errors are :class:`~modelver.errors.ModelverError`
and become one line through ``cli.main``.
"""

from __future__ import annotations

import click
from rich.table import Table

from modelver.cli.common import add_plain_row, console, print_json
from modelver.registry.deployments import deployments, record_deployment, record_undeployment
from modelver.registry.refs import parse_reference
from modelver.registry.resolution import resolve
from modelver.registry.timeline import SKEW_WARN_S, event_skew, parse_instant, resolve_at
from modelver.serde import to_json_dict
from modelver.store.location import open_store

__all__ = ["register"]

AT_HELP = "Answer as the registry stood at this instant, e.g. 2026-12-01T14:02Z (writers' clocks, UTC)."


@click.command(name="deploy")
@click.argument("ref")
@click.option("--target", required=True, help="Where it now serves, e.g. prod-eu (free-form).")
@click.option("--by", default=None, help="Who deployed it (default: the OS user).")
@click.option("--note", default="", help="Free text kept with the record (a ticket, a change id).")
@click.pass_obj
def deploy_command(store: str | None, ref: str, target: str, by: str | None, note: str) -> None:
    """Record that the version REF resolves to now serves at --target."""
    event = record_deployment(ref, target, by=by, note=note, store=store)
    via = f" via {event.name}@{event.via}" if event.via else ""
    click.echo(f"deployed {event.name}@{event.version} to {target}{via} by {event.by} at {event.at}")


@click.command(name="undeploy")
@click.argument("name")
@click.option("--target", required=True, help="The target that no longer serves NAME.")
@click.option("--by", default=None, help="Who (default: the OS user).")
@click.option("--note", default="", help="Free text kept with the record.")
@click.pass_obj
def undeploy_command(store: str | None, name: str, target: str, by: str | None, note: str) -> None:
    """Record that --target no longer serves NAME."""
    event = record_undeployment(name, target, by=by, note=note, store=store)
    click.echo(f"undeployed {event.name}@{event.version} from {target} by {event.by} at {event.at}")


@click.command(name="deployments")
@click.argument("name", required=False)
@click.option("--target", default=None, help="Only this target.")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with each target's event timeline).")
@click.pass_obj
def deployments_command(store: str | None, name: str | None, target: str | None, at: str | None, as_json: bool) -> None:
    """What is deployed where (now, or --at an instant): version, since when, by whom, through which alias."""
    found = deployments(name, target=target, at=at, store=store)
    opened = open_store(store)
    skews = {(d.name, d.target): event_skew(opened, d.history[-1]) if d.history else None for d in found}
    if as_json:
        print_json([{**to_json_dict(d), "clock_skew_s": skews[(d.name, d.target)]} for d in found])
        return
    when = f" at {parse_instant(at).isoformat().replace('+00:00', 'Z')}" if at is not None else ""
    if not found:
        click.echo(f"nothing of {name or 'this store'} was deployed{when}")
        return
    table = Table(title=f"deployments{when}")
    for column in ("name", "target", "version", "since (UTC)", "by", "via", "host", "last served", "note"):
        table.add_column(column)
    for d in found:
        add_plain_row(
            table,
            d.name,
            d.target,
            d.version,
            d.since,
            d.by if d.source == "deploy" else f"{d.by} (served)",
            d.via or "",
            d.host,
            d.last_served or "",
            d.note,
        )
    console.print(table)
    for (each, where), skew in skews.items():
        if skew is not None and abs(skew) > SKEW_WARN_S:
            console.print(
                f"clock skew: the last event of {each} at {where} is stamped {skew:+.0f} s from the store's own time "
                "of it; times shown are the writers' clocks",
                markup=False,
            )


@click.command(name="resolve")
@click.argument("ref")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the version tag as JSON.")
@click.pass_obj
def resolve_command(store: str | None, ref: str, at: str | None, as_json: bool) -> None:
    """Print the concrete version and manifest digest REF names (now, or --at an instant)."""
    opened = open_store(store)
    parsed = parse_reference(ref)
    tag = resolve(opened, parsed) if at is None else resolve_at(opened, parsed, at)
    if as_json:
        print_json(to_json_dict(tag))
        return
    click.echo(f"{tag.name}@{tag.version} {tag.manifest}")


def register(group: click.Group) -> None:
    """Add ``deploy``, ``undeploy``, ``deployments`` and ``resolve`` to ``group`` (the ``modelver`` CLI)."""
    for command in (deploy_command, undeploy_command, deployments_command, resolve_command):
        group.add_command(command)
