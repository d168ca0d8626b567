"""Registry commands of the ``modelver`` CLI: promote, rollback, yank, unyank, alias list, history, protect,
release, diff, and a ``list`` that shows aliases, status and metrics.

:func:`register` adds them to the main group (``modelver.cli.app``); errors are :class:`~modelver.errors.ModelverError`
and become one line through ``cli.main``. :data:`list_command` is a drop-in replacement for the plain ``list``.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from modelver.catalog.api import search_hits
from modelver.catalog.labels import LABEL_KIND, LabelChange, describe_change, label_event_changes
from modelver.cli.common import add_plain_row, console, esc, print_json
from modelver.cli.search import explain_query_errors
from modelver.errors import ModelverError, VersionNotFoundError
from modelver.manifest import CreatedBy
from modelver.registry.compare import VersionTable, compare_versions
from modelver.registry.diff import diff as diff_versions
from modelver.registry.events import Event, utc_now_micro
from modelver.registry.lifecycle import aliases, history, promote, protect, release, rollback, unprotect, unyank, yank
from modelver.registry.model_version import read_manifest
from modelver.registry.names import validate_name
from modelver.registry.resolution import (
    VersionTag,
    missing_store_hint,
    read_state,
    read_tag,
    sorted_versions,
    unknown_name,
)
from modelver.registry.schemes import BUMPS, describe
from modelver.serde import to_json_dict
from modelver.store.location import open_store
from modelver.units import format_metric

__all__ = ["list_command", "register"]


def _event_line(event: Event) -> str:
    target = f"{event.name}@{event.alias}" if event.alias else f"{event.name}@{event.version}"
    moved = f" -> {event.version}" if event.alias and event.version else ""
    was = f" (was {event.previous})" if event.previous else ""
    return f"{event.kind} {target}{moved}{was} by {event.by}"


@click.command(name="promote")
@click.argument("ref")
@click.argument("alias")
@click.option("--by", default=None, help="Who approves (default: the OS user; required for a protected alias).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def promote_command(store: str | None, ref: str, alias: str, by: str | None, reason: str) -> None:
    """Point ALIAS at the version REF resolves to (e.g. `promote churn@1.4.0 production --by alice`)."""
    started = utc_now_micro()
    event = promote(ref, alias, by=by, reason=reason, store=store)
    if event.at < started:  # the alias already pointed there: promote returned that event and wrote nothing
        click.echo(
            f"{event.name}@{alias} already points at {event.version} (since {event.at}, by {event.by}); nothing written"
        )
        return
    click.echo(_event_line(event))


@click.command(name="rollback")
@click.argument("name")
@click.argument("alias")
@click.option("--by", default=None, help="Who approves (default: the OS user; required for a protected alias).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def rollback_command(store: str | None, name: str, alias: str, by: str | None, reason: str) -> None:
    """Move ALIAS of NAME back to the version it pointed at before."""
    click.echo(_event_line(rollback(name, alias, by=by, reason=reason, store=store)))


@click.command(name="yank")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the version is withdrawn.")
@click.option("--by", default=None, help="Who (default: the OS user).")
@click.pass_obj
def yank_command(store: str | None, ref: str, reason: str, by: str | None) -> None:
    """Withdraw version REF: `latest` and ranges skip it; it still loads by exact version, with a warning."""
    event = yank(ref, reason=reason, by=by, store=store)
    if event is None:
        click.echo(f"{ref} was already yanked")
        return
    click.echo(_event_line(event))
    pointing = read_state(open_store(store), event.name).alias_targets().get(event.version or "", [])
    if pointing:
        click.echo(f"note: {', '.join(pointing)} still point(s) at {event.version}; roll back or promote another")


@click.command(name="unyank")
@click.argument("ref")
@click.option("--by", default=None, help="Who (default: the OS user).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def unyank_command(store: str | None, ref: str, by: str | None, reason: str) -> None:
    """Restore a yanked version REF."""
    event = unyank(ref, by=by, reason=reason, store=store)
    click.echo(f"{ref} was not yanked" if event is None else _event_line(event))


@click.command(name="protect")
@click.argument("name")
@click.argument("alias")
@click.option("--by", required=True, help="Who protects it (recorded).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.option("--off", is_flag=True, help="Lift the protection instead.")
@click.pass_obj
def protect_command(store: str | None, name: str, alias: str, by: str, reason: str, off: bool) -> None:
    """Require an explicit --by to move ALIAS of NAME (or, with --off, stop requiring it)."""
    action = unprotect if off else protect
    click.echo(_event_line(action(name, alias, by=by, reason=reason, store=store)))


@click.command(name="release")
@click.argument("ref")
@click.option("--bump", type=click.Choice(BUMPS), default="patch", show_default=True, help="Part to bump.")
@click.option("--as", "as_version", default=None, help="The release version instead of a bump, e.g. 1.3.0.")
@click.option("--by", default=None, help="Who (default: the OS user).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def release_command(
    store: str | None, ref: str, bump: str, as_version: str | None, by: str | None, reason: str
) -> None:
    """Give version REF (e.g. an experiment) a semver release: a new tag on the same manifest, no bytes copied."""
    tag = release(ref, bump=bump, version=as_version, by=by, reason=reason, store=store)
    click.echo(f"released {tag.name}@{tag.version} ({tag.manifest}) from {ref}")


@click.group(name="alias")
def alias_group() -> None:
    """Aliases: movable names such as production (set them with `promote`)."""


@alias_group.command(name="list")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def alias_list_command(store: str | None, name: str, as_json: bool) -> None:
    """List the aliases of NAME: target, since when, by whom, protection."""
    found = aliases(name, store=store)
    if as_json:
        print_json({alias: to_json_dict(state) for alias, state in found.items()})
        return
    if not found:
        click.echo(f"{name} has no aliases; set one with `modelver promote {name}@VERSION ALIAS`")
        return
    table = Table(title=f"aliases of {name}")
    for column in ("alias", "version", "since", "by", "reason", "protected"):
        table.add_column(column)
    for alias, state in found.items():
        event = state.event
        add_plain_row(
            table,
            alias,
            state.version or "(not set)",
            event.at if event else "",
            event.by if event else "",
            event.reason if event else "",
            f"yes (by {state.protected_by})" if state.protected else "",
        )
    console.print(table)


def _event_json(event: Event, change: LabelChange | None) -> dict[str, Any]:
    """An event as JSON; a label event also says what it changed (``labels``, ``unset``, ``description``)."""
    body: dict[str, Any] = to_json_dict(event)
    if change is not None:
        body["labels"], body["unset"] = change[0], change[1]
        if change[2] is not None:
            body["description"] = change[2]
    return body


@click.command(name="history")
@click.argument("name")
@click.option("--alias", default=None, help="Only the events of this alias.")
@click.option("--json", "as_json", is_flag=True, help="Print every event as JSON.")
@click.pass_obj
def history_command(store: str | None, name: str, alias: str | None, as_json: bool) -> None:
    """The audit trail of NAME: every promotion, rollback, yank, protection, release and deployment, oldest first."""
    events = history(name, alias=alias, store=store)
    changes = label_event_changes(name, store=store) if any(e.kind == LABEL_KIND for e in events) else {}
    if as_json:
        print_json([_event_json(e, changes.get(e.key)) for e in events])
        return
    if not events:
        every = history(name, store=store) if alias is not None else []
        if every:
            known = sorted({e.alias for e in every if e.alias})
            raise VersionNotFoundError(
                f"no registry events for alias {alias!r} of {name}; its aliases with events: "
                f"{', '.join(known) or 'none'}",
                reference=f"{name}@{alias}",
                available=tuple(known),
            )
        click.echo(f"no registry events for {name}")
        return
    table = Table(title=f"history of {name}")
    for column in ("time (UTC)", "event", "alias", "version", "was", "by", "host", "reason"):
        table.add_column(column)
    for e in events:
        add_plain_row(
            table,
            e.at,
            e.kind,
            describe_change(changes[e.key])
            if e.key in changes
            else e.alias or (f"target {e.target}" + (f" via {e.via}" if e.via else "") if e.target else ""),
            e.version or "",
            e.previous or "",
            e.by + ("" if e.explicit_by else " (OS user)"),
            f"{e.created_by.user}@{e.created_by.host}",
            e.reason,
        )
    console.print(table)


@click.command(name="diff")
@click.argument("refs", nargs=-1, required=True, metavar="REF_A REF_B [REF...]")
@click.option("--json", "as_json", is_flag=True, help="Print the complete diff as JSON.")
@click.option("--metrics", "only_metrics", is_flag=True, help="Only the metrics (a table of every version).")
@click.option("--config", "only_config", is_flag=True, help="Only the config (a table of every version).")
@click.option("--all", "all_rows", is_flag=True, help="In a table, also the rows where every version agrees.")
@click.pass_obj
def diff_command(
    store: str | None,
    refs: tuple[str, ...],
    as_json: bool,
    only_metrics: bool = False,
    only_config: bool = False,
    all_rows: bool = False,
) -> None:
    """What changed from REF_A to REF_B: code, environment, config, data, metrics, resources, artifacts. With more
    than two versions (or --metrics, --config, --all): one table, one column per version, only the rows that differ."""
    if len(refs) < 2:
        raise click.UsageError("diff needs at least two versions, e.g. `modelver diff churn@1.0.0 churn@1.1.0`")
    if len(refs) > 2 or only_metrics or only_config or all_rows:
        facets = [f for f, on in (("metrics", only_metrics), ("config", only_config)) if on]
        print_table(compare_versions(refs, store=store, facets=facets or None, all_rows=all_rows), as_json)
        return
    ref_a, ref_b = refs
    result = diff_versions(ref_a, ref_b, store=store)
    if as_json:
        print_json(to_json_dict(result))
        return
    a, b = f"{result.a} ({result.a_digest[:19]})", f"{result.b} ({result.b_digest[:19]})"
    console.print(f"{a} -> {b}", markup=False)
    if result.same_content:
        console.print("same manifest: nothing differs")
        return
    for facet, rows in result.facets().items():
        if not rows:
            continue
        if facet == "prompts":  # text artifacts read best as a unified diff (docs/formats.md)
            console.print("prompts", style="italic")
            for text in result.text_diff().values():
                console.print(text, markup=False, highlight=False, end="")
            continue
        table = Table(title=facet, title_justify="left")
        for column in ("key", "change", "A", "B", "delta"):
            table.add_column(column, overflow="fold")
        for row in rows:
            add_plain_row(
                table,
                row.key,
                row.status,
                _short(row.a),
                _short(row.b),
                "" if row.delta is None else f"{row.delta:+.6g}",
            )
        console.print(table)
    if result.empty:
        console.print("no differences")


def print_table(table: VersionTable, as_json: bool) -> None:
    """Print a many-way comparison: JSON, or one table with a column per version."""
    if as_json:
        print_json(to_json_dict(table))
        return
    if not table.rows:
        console.print(f"no differences between {', '.join(table.refs)}", markup=False)
        return
    grid = Table()
    for column in ("facet", "key", *table.refs):
        grid.add_column(column, overflow="fold")
    for row in table.rows:
        cells = [format_metric(v) if row.facet == "metrics" and v is not None else _short(v) for v in row.values]
        add_plain_row(grid, row.facet, row.key, *cells)
    console.print(grid)


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


@click.command(name="list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--metric", "metrics", multiple=True, help="Metric column to show (repeatable; default: up to 3).")
@click.option("--filter", "filter_text", default=None, help="Only versions matching a filter (docs/search.md).")
@click.option("--order-by", "order_by", multiple=True, help="e.g. 'metrics.accuracy DESC' (repeatable).")
@click.pass_obj
def list_command(
    store: str | None,
    name: str | None,
    as_json: bool,
    metrics: tuple[str, ...],
    filter_text: str | None = None,
    order_by: tuple[str, ...] = (),
) -> None:
    """List model names, or the versions of NAME with their aliases, status and key metrics (oldest first; with
    --filter/--order-by, the versions the search engine selects, in its order)."""
    opened = open_store(store)
    if name is None:
        names = opened.list_names()
        if as_json:
            print_json(names)
        elif not names:
            console.print(missing_store_hint(opened) or f"no versions in {opened.url} yet", markup=False)
        else:
            click.echo("\n".join(names))
        return
    validate_name(name)
    versions = sorted_versions(opened, name)
    if not versions:
        raise unknown_name(opened, name)
    if filter_text is not None or order_by:
        query = filter_text or ""
        hits = explain_query_errors(
            lambda: search_hits(query, names=[name], order_by=list(order_by), include_yanked=True, store=opened)
        )
        by_text = {str(v): v for v in versions}
        versions = [by_text[h.version] for h in hits if h.version in by_text]
    state = read_state(opened, name)
    pointing = state.alias_targets()
    rows = []
    damaged = 0
    for version in versions:
        problem = ""
        pruned = state.pruned.get(str(version))
        try:
            tag = read_tag(opened, name, str(version))
            # Tags written before they carried metrics: read the manifest once for them (a pruned version's
            # manifest may already be gone: gc frees it).
            values = tag.metrics or ({} if pruned else read_manifest(opened, tag).metrics)
        except ModelverError as exc:  # one damaged record must not hide the others
            damaged += 1
            problem = f"unreadable: {exc}"
            tag = _placeholder_tag(name, str(version))
            values = {}
        info = describe(version)
        status = "yanked" if tag.version in state.yanked else ("experiment" if info.scheme == "experiment" else "")
        if not status and version.is_prerelease:
            status = "pre-release"
        status = problem or status
        if pruned is not None:
            status = f"pruned {pruned.at[:10]} by {pruned.by}"
        rows.append((tag, values, status, pointing.get(tag.version, [])))
    if as_json:
        print_json(
            [
                {**to_json_dict(tag), "metrics": values, "status": status or "ok", "aliases": names}
                for tag, values, status, names in rows
            ]
        )
        return
    shown = list(metrics) or sorted(next((values for _, values, _, _ in reversed(rows) if values), {}))[:3]
    table = Table(title=f"{esc(name)} in {esc(opened.url)}")
    for column in ("version", "aliases", "status", *shown, "published", "by", "digest"):
        table.add_column(column)
    for tag, values, status, names in rows:
        cells = [format_metric(values.get(key)) for key in shown]
        add_plain_row(
            table,
            tag.version,
            ", ".join(names),
            status,
            *cells,
            tag.created_at,
            f"{tag.created_by.user}@{tag.created_by.host}",
            tag.manifest[:19],
        )
    console.print(table)
    if damaged:
        console.print(f"{damaged} version(s) unreadable; run `modelver verify {name}` for details", markup=False)


def _placeholder_tag(name: str, version: str) -> VersionTag:
    return VersionTag(name=name, version=version, manifest="", created_at="", created_by=CreatedBy(user="", host=""))


def register(group: click.Group) -> None:
    """Add the registry commands, ``list`` included, to ``group`` (the ``modelver`` CLI)."""
    for command in (
        list_command,
        promote_command,
        rollback_command,
        yank_command,
        unyank_command,
        protect_command,
        release_command,
        alias_group,
        history_command,
        diff_command,
    ):
        group.add_command(command)
