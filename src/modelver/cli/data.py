"""CLI commands about data: ``modelver fingerprint`` and ``modelver data check``."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from modelver.cli.common import add_plain_row, console, esc, styled
from modelver.data.sources import fingerprint
from modelver.registry.data_check import check_data
from modelver.serde import to_json_dict


@click.command(name="fingerprint")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, with per-file digests for directories.")
@click.option("--no-cache", is_flag=True, help="Read every byte even if unchanged since the last fingerprint.")
def fingerprint_cmd(source: str, as_json: bool, no_cache: bool) -> None:
    """Fingerprint a file, directory or fsspec URL (SOURCE)."""
    fp = fingerprint(source, cache=not no_cache)  # a CaptureError becomes one line in cli.main
    if as_json:
        click.echo(json.dumps(to_json_dict(fp), indent=2, ensure_ascii=False))
        return
    console.print(f"{fp.digest}  {fp.uri}", markup=False)
    console.print(f"{fp.kind}, {fp.files} file(s), {fp.size_bytes} bytes, method {fp.method}", markup=False)
    for key, value in fp.summary.items():
        console.print(f"{key}: {json.dumps(value, ensure_ascii=False)}", markup=False)
    for skipped in fp.skipped:
        console.print(f"skipped: {skipped}", markup=False)


@click.group()
def data() -> None:
    """Check data against what a version recorded."""


@data.command(name="check")
@click.argument("ref")
@click.argument("location", required=False)
@click.option("--label", default=None, help="Only this data label.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def data_check(store: str | None, ref: str, location: str | None, label: str | None, as_json: bool) -> None:
    """Is the data at LOCATION (default: where REF recorded it) identical to what REF was trained on?

    Exits 1 when any label changed or is missing.
    """
    results = check_data(ref, label=label, location=location, store=store)
    if as_json:
        click.echo(json.dumps([to_json_dict(r) for r in results], indent=2, ensure_ascii=False))
    else:
        table = Table(title=f"data of {esc(ref)}")
        for column in ("label", "status", "location", "files added / removed / changed"):
            table.add_column(column)
        for r in results:
            style = {"identical": "green", "changed": "red", "missing": "red"}.get(r.status, "yellow")
            files = f"{len(r.added)} / {len(r.removed)} / {len(r.changed)}" if r.status == "changed" else r.detail
            add_plain_row(table, r.label, styled(r.status, style), r.location, files)
        console.print(table)
        for r in results:
            for kind, paths in (("added", r.added), ("removed", r.removed), ("changed", r.changed)):
                for path in paths:
                    console.print(f"  {r.label}: {kind} {path}", markup=False)
    if any(r.status in ("changed", "missing") for r in results):
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add the data commands to the ``modelver`` group."""
    group.add_command(fingerprint_cmd)
    group.add_command(data)
