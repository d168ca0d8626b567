"""The ``modelver`` command line.

Every :class:`~modelver.errors.ModelverError` becomes one line on stderr and exit code 1; set ``MODELVER_DEBUG=1``
for the traceback (the convention of huggingface_hub's CLI).
"""

from __future__ import annotations

import os
import sys

import click
from rich.table import Table

from modelver.capture.envcheck import requirements_text
from modelver.capture.redactions import redactions
from modelver.catalog.labels import version_labels
from modelver.cli import approvals as approval_commands
from modelver.cli import card as card_commands
from modelver.cli import data as data_commands
from modelver.cli import deployments as deployment_commands
from modelver.cli import download as download_commands
from modelver.cli import hooks as hook_commands
from modelver.cli import registry as registry_commands
from modelver.cli import reproduce as reproduce_commands
from modelver.cli import retention as retention_commands
from modelver.cli import runs as runs_commands
from modelver.cli import search as search_commands
from modelver.cli import steps as steps_commands
from modelver.cli import store as store_commands
from modelver.cli import ui as ui_commands
from modelver.cli.common import add_plain_row, config_lines, console, esc, print_json, styled
from modelver.cli.location import check_store_location, store_display
from modelver.errors import ModelverError
from modelver.registry.approvals import approvals
from modelver.registry.deployments import deployments
from modelver.registry.model_version import get
from modelver.registry.verify import verify, verify_all
from modelver.serde import to_json_dict
from modelver.settings import ENV_DEBUG, choose_store
from modelver.store.location import open_store
from modelver.units import format_metric, human_bytes


class _Cli(click.Group):
    """The ``modelver`` group; it notes whether the subcommand was asked for ``--help``, so that a misconfigured
    store does not hide a command's help."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        rest = args[1:]
        rest = rest[: rest.index("--")] if "--" in rest else rest
        ctx.meta[_HELP_ASKED] = any(arg in ("-h", "--help") for arg in rest)
        return super().resolve_command(ctx, args)


_HELP_ASKED = "modelver.help_asked"


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", envvar=None, default=None, help="Store URL or path (default: see `modelver info`).")
@click.version_option(package_name="modelver")
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """Version models: list, show and verify what `modelver.track()` published."""
    if ctx.invoked_subcommand not in _STORE_FREE_COMMANDS and not ctx.meta.get(_HELP_ASKED):
        # A store that is a file, or a directory of other things, is refused before any command reads it.
        check_store_location(store)
    ctx.obj = store


#: Commands that never open the store, so a misconfigured store does not stop them.
_STORE_FREE_COMMANDS = frozenset({"fingerprint"})


@cli.command()
@click.pass_obj
def info(store: str | None) -> None:
    """Print the store in use and why it was chosen."""
    choice = choose_store(store)
    opened = open_store(choice.url)
    console.print(f"store:     {store_display(choice.url)}", markup=False)
    console.print(f"chosen by: {'the --store option' if store is not None else choice.source}", markup=False)
    if opened.exists():
        console.print(f"digest:    {opened.algorithm}", markup=False)
        console.print(f"names:     {len(opened.list_names())}")
    else:
        console.print("state:     empty (created on the first publish)")


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the uncommitted diff the run started from.")
@click.option(
    "--requirements", "requirements", is_flag=True, help="Print the recorded packages as a pip requirements list."
)
@click.pass_obj
def show(store: str | None, ref: str, as_json: bool, show_diff: bool, requirements: bool) -> None:
    """Show what version REF (name[@spec]) recorded."""
    version = get(ref, store=store)
    m = version.manifest
    if requirements:
        click.echo(requirements_text(m.environment, ref=version.ref), nl=False)
        return
    labels, description = version_labels(version.name, version.version, m, store=version.store)
    if as_json:
        # labels and description as they are now: the manifest's, then the label events (docs/search.md).
        print_json({**to_json_dict(m), "labels": labels, "description": description})
        return
    if show_diff:
        diff = version.code_diff()
        click.echo(diff.decode(errors="replace") if diff else f"{version.ref}: no uncommitted changes were recorded")
        return
    console.print(f"[bold]{esc(version.ref)}[/bold]  {esc(version.digest)}")
    console.print(
        f"published {version.published_at} by {version.published_by.user}@{version.published_by.host}", markup=False
    )
    if description:
        console.print(f"about      {description}", markup=False)
    for label_key, label_value in labels.items():
        edited = "" if m.labels.get(label_key) == label_value else " (label event)"
        console.print(f"label      {label_key} = {label_value}{edited}", markup=False)
    git = m.code.git
    if git is not None:
        state = "dirty" if git.dirty else "clean"
        console.print(
            f"code       {git.commit[:12]} on {git.branch or '(detached)'} ({state}) {m.code.entrypoint}", markup=False
        )
        if git.diff or git.untracked:
            changes = "a diff of tracked files (modelver show --diff)" if git.diff else "no diff"
            console.print(f"           {changes}, {len(git.untracked)} untracked file(s)", markup=False)
    else:
        console.print(
            f"code       snapshot of {len(m.code.sources)} file(s), entrypoint {m.code.entrypoint}", markup=False
        )
    console.print(f"python     {m.environment.python} ({len(m.environment.packages)} packages)", markup=False)
    for line in config_lines(m.config):
        console.print(line, markup=False)
    r = m.resources
    console.print(
        f"resources  wall {r.wall_time_s:.2f} s, cpu {r.cpu_time_s:.2f} s, peak {human_bytes(r.peak_rss_bytes)}"
    )
    for label, d in m.data.items():
        console.print(
            f"data       {label}: {d.uri} {d.digest[:19]} ({human_bytes(d.size_bytes)}, {d.files} file(s))",
            markup=False,
        )
    for key, value in m.metrics.items():
        console.print(f"metric     {key} = {format_metric(value)}", markup=False)
    for path, a in m.artifacts.items():
        console.print(f"artifact   {path} ({a.format}, {human_bytes(a.size_bytes)})", markup=False)
    for where, why in redactions(m):
        console.print(f"redacted   {where}: {why}", markup=False)
    if m.capture_errors:
        console.print(f"[yellow]{len(m.capture_errors)} capture error(s)[/yellow]")
        for e in m.capture_errors:
            console.print(f"  {e.facet}: {e.message}", markup=False)
    for ap in approvals(version.ref, store=version.store):
        console.print(f"approval   for {ap.alias} by {ap.by} ({ap.status}) at {ap.at}", markup=False)
    for dep in deployments(version.name, store=version.store):
        if dep.digest == version.digest:
            console.print(f"deployed   at {dep.target} since {dep.since} by {dep.by}", markup=False)


@cli.command(name="verify")
@click.argument("ref", required=False)
@click.option("--all", "every", is_flag=True, help="Verify every version of every name in the store.")
@click.pass_obj
def verify_(store: str | None, ref: str | None, every: bool) -> None:
    """Re-hash everything version REF (or, with --all, every version) references; exit 1 if anything is missing or
    corrupt."""
    if every == (ref is not None):
        raise click.UsageError("give a REF or --all (not both)")
    if every:
        _verify_store(store)
        return
    assert ref is not None
    report = verify(ref, store=store)
    table = Table(title=f"{report.ref} {report.digest[:19]}")
    for column in ("object", "digest", "status"):
        table.add_column(column)
    for obj in report.objects:
        style = "green" if obj.status == "ok" else "red"
        add_plain_row(table, obj.role, obj.digest[:19], styled(obj.status, style, obj.detail))
    console.print(table)
    if not report.ok:
        bad = sum(o.status != "ok" for o in report.objects)
        click.echo(
            f"modelver: error: {bad} of {len(report.objects)} objects of {report.ref} failed verification", err=True
        )
        sys.exit(1)
    console.print(f"all {len(report.objects)} objects verified")


def _verify_store(store: str | None) -> None:
    result = verify_all(store=store)
    for ref, message in result.unreadable:
        click.echo(f"{ref}: unreadable: {message}")
    objects = 0
    for report in result.reports:
        objects += len(report.objects)
        for obj in report.objects:
            if obj.status != "ok":
                click.echo(f"{report.ref}: {obj.role} {obj.digest} {obj.status} {obj.detail}".rstrip())
    versions = len(result.reports) + len(result.unreadable)
    if not result.ok:
        bad = sum(not r.ok for r in result.reports) + len(result.unreadable)
        click.echo(f"modelver: error: {bad} of {versions} version(s) failed verification", err=True)
        sys.exit(1)
    console.print(f"all {versions} version(s) verified ({objects} object references)")


approval_commands.register(cli)
card_commands.register(cli)
data_commands.register(cli)
deployment_commands.register(cli)
registry_commands.register(cli)
reproduce_commands.register(cli)
retention_commands.register(cli)
runs_commands.register(cli)
search_commands.register(cli)
download_commands.register(cli)
hook_commands.register(cli)
steps_commands.register(cli)
store_commands.register(cli)
ui_commands.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a :class:`ModelverError` prints one line and exits 1 (``MODELVER_DEBUG=1``: traceback)."""
    try:
        cli.main(args=argv, prog_name="modelver", standalone_mode=False)
    except (ModelverError, OSError) as exc:
        # OSError: a filesystem backend's own error that reached us untranslated; still one line, not a traceback.
        if os.environ.get(ENV_DEBUG):
            raise
        click.echo(f"modelver: error: {exc}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
