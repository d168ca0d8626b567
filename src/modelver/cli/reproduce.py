"""CLI command ``modelver reproduce REF DIR [--run] [--venv]``."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.table import Table

from modelver.cli.common import add_plain_row, console, esc, styled
from modelver.reproduction.rebuild import reproduce
from modelver.reproduction.report import ReproduceReport, report_json


@click.command(name="reproduce")
@click.argument("ref")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--run", "run_", is_flag=True, help="Re-run the recorded entrypoint and diff the new version.")
@click.option(
    "--publish",
    is_flag=True,
    help="With --run: publish the re-run as a new release (moves latest) instead of a reproduction of REF.",
)
@click.option("--venv", is_flag=True, help="Make DIR/.modelver/venv and install the recorded packages.")
@click.option(
    "--inherit-packages",
    is_flag=True,
    help="With --venv: the venv also sees this interpreter's packages; only differing ones are installed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def reproduce_cmd(
    store: str | None,
    ref: str,
    directory: str,
    run_: bool,
    publish: bool,
    venv: bool,
    inherit_packages: bool,
    as_json: bool,
) -> None:
    """Rebuild the code, environment and config of REF in DIR, check its data, and optionally re-run it.

    Exits 1 when anything could not be reproduced as recorded (a file, a package, changed data, a failed run).
    """
    if inherit_packages and not venv:
        raise click.UsageError("--inherit-packages only applies with --venv")
    if publish and not run_:
        raise click.UsageError("--publish only applies with --run")
    report = reproduce(
        ref,
        directory,
        run=run_,
        venv=venv,
        inherit_packages=inherit_packages,
        # The training's output streams to the terminal; --json keeps stdout for the report.
        capture_output=as_json,
        store=store,
        publish=publish,
    )
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2, ensure_ascii=False))
    else:
        # A script's output streamed while it ran; what the re-run left in the report (a notebook cell's error, a
        # kernel that failed) goes out first, so that the report is the last thing printed.
        if report.output:
            click.echo(report.output.rstrip("\n"), err=True)
        sys.stderr.flush()
        _print(report)
    if not report.complete:
        sys.exit(1)


def _print(report: ReproduceReport) -> None:
    say = console.print
    say(f"[bold]{esc(report.ref)}[/bold]  {esc(report.digest)}  →  {esc(report.directory)}")
    if report.code == "git":
        verified = {True: "[green]verified[/green]", False: "[red]differ[/red]", None: "not checked"}[
            report.tracked_verified
        ]
        say(f"code       commit {report.commit} from {escape(report.fetched_from or '')}; tracked files {verified}")
    else:
        say(f"code       {report.code}", markup=False)
    say(f"           {len(report.restored)} file(s) restored from the store and verified", markup=False)
    for missing in report.unrestored:
        say(f"  [red]not restored[/red] {esc(missing.path)}: {esc(missing.reason)}")
    say(
        f"packages   {len(report.requirements)} pinned in .modelver/requirements.txt (Python {report.python})",
        markup=False,
    )
    for note in report.unpinned:
        say(f"           not pinned (editable): {note}", markup=False)
    if report.venv is not None:
        say(f"venv       {report.venv} (Python {report.python_used})", markup=False)
        for item in report.not_installed:
            say(f"  [red]not installed[/red] {esc(item.requirement)}: {esc(item.reason)}")
    say(f"config     {', '.join(report.config_files)}", markup=False)
    if report.data:
        table = Table(title="data")
        for column in ("label", "status", "location"):
            table.add_column(column)
        for check in report.data:
            style = {"identical": "green", "changed": "red", "missing": "red"}.get(check.status, "yellow")
            add_plain_row(table, check.label, styled(check.status, style), check.location)
        console.print(table)
    if report.returncode is not None:
        state = "[green]succeeded[/green]" if report.returncode == 0 else f"[red]exited {report.returncode}[/red]"
        say(f"run        {escape(' '.join(report.command))}: {state}")
    if report.new_version is not None and report.diff is not None:
        say(f"[bold]{esc(report.ref)} → {esc(report.new_version)}[/bold]")
        rows = [(facet, change) for facet, changes in report.diff.facets().items() for change in changes]
        rows = [(f, c) for f, c in rows if f in ("code", "environment", "config", "data", "metrics")]
        if not rows:
            say("           same code, environment, config, data and metrics")
        for facet, change in rows:
            say(f"  {facet:<12} {change.key}: {change.status} {change.a!r} → {change.b!r}", markup=False)
    for note in report.notes:
        say(f"note       {note}", markup=False)


def register(group: click.Group) -> None:
    """Add ``reproduce`` to the ``modelver`` group."""
    group.add_command(reproduce_cmd)
