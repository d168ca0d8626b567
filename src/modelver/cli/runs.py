"""``modelver runs``: the runs that published no version, and ``modelver runs show RUN_ID`` for one of them.

``modelver runs`` and ``modelver runs --json`` list them (the group runs its own listing when no subcommand is
given); ``show`` prints the reason, the traceback of the exception the block raised and the facets it captured.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from modelver.catalog.runs import run_summaries
from modelver.cli.common import add_plain_row, config_lines, console, print_json
from modelver.tracking.failed_run import find_run, read_runs
from modelver.units import human_bytes

__all__ = ["register"]


@click.group(name="runs", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def runs_group(ctx: click.Context, as_json: bool) -> None:
    """List runs that published no version (the block raised, strict mode, interrupted, or a distributed job left
    incomplete by rank 0 dying), oldest first; `runs show ID` shows one."""
    if ctx.invoked_subcommand is not None:
        return
    if as_json:
        print_json(run_summaries(ctx.obj))  # the same list as the web UI's /api/runs
        return
    records = read_runs(ctx.obj)
    if not records:
        console.print("no failed runs")
        return
    table = Table(title="runs without a version")
    for column in ("run id", "name", "status", "reason"):
        table.add_column(column)
    for record in records:
        row = [str(record.get(key, "?")) for key in ("run_id", "name", "status")]
        add_plain_row(table, *row, str(record.get("reason", "")))
    console.print(table)


@runs_group.command(name="show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record (reason, traceback, manifest) as JSON.")
@click.pass_obj
def show_run(store: str | None, run_id: str, as_json: bool) -> None:
    """Show the failed run RUN_ID (or a unique prefix): why it failed, its traceback and what it captured."""
    record = find_run(store, run_id)
    if as_json:
        print_json(record)
        return
    echo = click.echo
    echo(f"run        {record.get('run_id')}  ({record.get('name')}, {record.get('status')})")
    echo(f"reason     {record.get('reason', '')}")
    job = record.get("job")
    if isinstance(job, dict) and isinstance(job.get("ranks"), dict):
        outcomes = ", ".join(f"{rank}: {outcome}" for rank, outcome in sorted(job["ranks"].items(), key=_rank_order))
        echo(f"job        {job.get('job_id')}  ranks {outcomes}")
    manifest = record.get("manifest") if isinstance(record.get("manifest"), dict) else {}
    assert isinstance(manifest, dict)
    for line in _facet_lines(manifest):
        echo(line)
    trace = record.get("traceback")
    if trace:
        echo("traceback")
        echo(str(trace).rstrip("\n"))


def _rank_order(item: tuple[Any, Any]) -> tuple[int, str]:
    rank = str(item[0])
    return (int(rank), "") if rank.isdigit() else (1 << 30, rank)


def _facet_lines(m: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    code = m.get("code") or {}
    git = code.get("git")
    if git:
        state = "dirty" if git.get("dirty") else "clean"
        commit = str(git.get("commit", ""))[:12]
        lines.append(f"code       {commit} on {git.get('branch') or '(detached)'} ({state}) {code.get('entrypoint')}")
    elif code:
        lines.append(
            f"code       snapshot of {len(code.get('sources') or {})} file(s), entrypoint {code.get('entrypoint')}"
        )
    env = m.get("environment") or {}
    if env:
        lines.append(f"python     {env.get('python')} ({len(env.get('packages') or {})} packages)")
    lines.extend(config_lines(m.get("config")))
    for label, d in (m.get("data") or {}).items():
        lines.append(f"data       {label}: {d.get('uri')} {str(d.get('digest', ''))[:19]}")
    for key, value in (m.get("metrics") or {}).items():
        lines.append(f"metric     {key} = {value}")
    for path, a in (m.get("artifacts") or {}).items():
        lines.append(f"artifact   {path} ({a.get('format')}, {human_bytes(int(a.get('size_bytes') or 0))})")
    for e in m.get("capture_errors") or ():
        lines.append(f"capture    {e.get('facet')}: {e.get('message')}")
    return lines


def register(cli: click.Group) -> None:
    """Add the ``runs`` group to the main ``modelver`` group."""
    cli.add_command(runs_group)
