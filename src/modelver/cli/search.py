"""``modelver search``: versions across names by a filter (docs/search.md), and the filter-error printer that
``modelver list --filter`` shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click
from rich.table import Table

from modelver.catalog.api import field_values, search_hits
from modelver.catalog.labels import describe, label, unlabel
from modelver.cli.common import add_plain_row, console, print_json
from modelver.errors import InvalidLabelError, InvalidQueryError
from modelver.store.location import open_store
from modelver.units import format_metric

T = TypeVar("T")


def explain_query_errors(call: Callable[[], T]) -> T:
    """Run ``call``; a bad filter is printed as the message, the filter, and a caret under the mistake (exit 1)."""
    try:
        return call()
    except InvalidQueryError as exc:
        caret = "\n".join("  " + line for line in exc.caret().splitlines())
        click.echo(f"modelver: error: {exc}\n{caret}", err=True)
        raise SystemExit(1) from exc


@click.command(name="search")
@click.argument("filter_text", metavar="[FILTER]", required=False, default="")
@click.option("--name", "names", multiple=True, help="Only this model name (repeatable).")
@click.option("--order-by", "order_by", multiple=True, help="e.g. 'metrics.accuracy DESC' (repeatable).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many versions.")
@click.option("--include-yanked", is_flag=True, help="Also show yanked versions.")
@click.option("--column", "columns", multiple=True, help="A field to show, e.g. metrics.accuracy (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def search_command(
    store: str | None,
    filter_text: str,
    names: tuple[str, ...],
    order_by: tuple[str, ...],
    limit: int | None,
    include_yanked: bool,
    columns: tuple[str, ...],
    as_json: bool,
) -> None:
    """Find versions across names, e.g. `modelver search "metrics.accuracy > 0.9 AND config.lr < 0.01"`.

    The filter language follows MLflow's search syntax: metrics.K, config.a.b, labels.K, data.LABEL, packages.P,
    git.commit, created, alias, name, version, with =, !=, <, <=, >, >=, LIKE, ILIKE, IN, AND, OR and parentheses.
    """
    hits = explain_query_errors(
        lambda: search_hits(
            filter_text,
            names=list(names),
            order_by=list(order_by),
            limit=limit,
            include_yanked=include_yanked,
            store=open_store(store),
        )
    )
    keys = list(columns) or [term.split()[0] for term in order_by if term.split()]
    extra = field_values(hits, keys, store=open_store(store))
    if as_json:
        print_json(
            [
                {"name": h.name, "version": h.version, "digest": h.digest, "created": h.created}
                | ({"fields": dict(zip(keys, extra[(h.name, h.version)], strict=True))} if keys else {})
                for h in hits
            ]
        )
        return
    if not hits:
        console.print("no version matches")
        return
    table = Table()
    for column in ("name", "version", *keys, "created", "digest"):
        table.add_column(column)
    for hit in hits:
        cells = [v if isinstance(v, str) else format_metric(v) for v in extra.get((hit.name, hit.version), [])]
        add_plain_row(table, hit.name, hit.version, *cells, hit.created, hit.digest[:19])
    console.print(table)


@click.command(name="label")
@click.argument("ref")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option("--by", default=None, help="Who (default: the OS user).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def label_command(store: str | None, ref: str, pairs: tuple[str, ...], by: str | None, reason: str) -> None:
    """Set labels on a version, e.g. `modelver label churn@1.2.0 team=risk stage=pilot`."""
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidLabelError(f"{pair!r} is not KEY=VALUE; write e.g. team=risk", key=key)
        labels[key] = value
    event = label(ref, labels, by=by, reason=reason, store=open_store(store))
    console.print(
        f"labelled {event.name}@{event.version}: {', '.join(f'{k}={v}' for k, v in labels.items())}", markup=False
    )


@click.command(name="unlabel")
@click.argument("ref")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@click.option("--by", default=None, help="Who (default: the OS user).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def unlabel_command(store: str | None, ref: str, keys: tuple[str, ...], by: str | None, reason: str) -> None:
    """Remove labels from a version."""
    event = unlabel(ref, *keys, by=by, reason=reason, store=open_store(store))
    console.print(f"removed {', '.join(keys)} from {event.name}@{event.version}", markup=False)


@click.command(name="describe")
@click.argument("ref")
@click.argument("text")
@click.option("--by", default=None, help="Who (default: the OS user).")
@click.pass_obj
def describe_command(store: str | None, ref: str, text: str, by: str | None) -> None:
    """Set the description of a version (an empty TEXT clears it)."""
    event = describe(ref, text, by=by, store=open_store(store))
    console.print(f"described {event.name}@{event.version}", markup=False)


def register(group: click.Group) -> None:
    """Add ``search``, ``label``, ``unlabel`` and ``describe`` to ``group`` (the ``modelver`` CLI)."""
    for command in (search_command, label_command, unlabel_command, describe_command):
        group.add_command(command)
