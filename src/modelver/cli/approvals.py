"""Approval commands of the ``modelver`` CLI: ``approve``, ``approvals`` and ``policy set|show``.

:func:`register` adds them to the main group (``modelver.cli.app``); errors are :class:`~modelver.errors.ModelverError`
and become one line through ``cli.main``.
"""

from __future__ import annotations

import click
from rich.table import Table

from modelver.cli.common import add_plain_row, console, print_json
from modelver.registry.approvals import approvals, approve, policies, set_policy
from modelver.serde import to_json_dict

__all__ = ["register"]


@click.command(name="approve")
@click.argument("ref")
@click.option("--for", "alias", required=True, help="The alias the approval is for, e.g. production.")
@click.option("--by", required=True, help="The approver (one word; the principal a signature is checked against).")
@click.option("--sign-with", "sign_with", default=None, help="SSH private key to sign the approval with.")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def approve_command(store: str | None, ref: str, alias: str, by: str, sign_with: str | None, reason: str) -> None:
    """Approve the exact digest REF resolves to for promotion to --for ALIAS."""
    event = approve(ref, alias=alias, by=by, sign_with=sign_with, reason=reason, store=store)
    signed = "signed" if "signature" in event.details else "unsigned (claimed)"
    click.echo(f"approved {event.name}@{event.version} ({event.digest}) for {alias} by {event.by}, {signed}")


@click.command(name="approvals")
@click.argument("ref")
@click.option("--for", "alias", default=None, help="Only approvals for this alias.")
@click.option(
    "--allowed-signers", default=None, help="ssh-keygen allowed_signers file (default: MODELVER_ALLOWED_SIGNERS)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def approvals_command(
    store: str | None, ref: str, alias: str | None, allowed_signers: str | None, as_json: bool
) -> None:
    """The approvals of the digest REF resolves to: who, when, for which alias, verified or only claimed."""
    found = approvals(ref, alias=alias, allowed_signers=allowed_signers, store=store)
    if as_json:
        print_json([{**to_json_dict(a), "status": a.status} for a in found])
        return
    if not found:
        click.echo(f"no approvals of {ref}")
        return
    table = Table(title=f"approvals of {found[0].name}@{found[0].version}")
    for column in ("time (UTC)", "for", "by", "status", "reason"):
        table.add_column(column)
    for a in found:
        add_plain_row(table, a.at, a.alias, a.by, a.status, a.event.reason)
    console.print(table)


@click.group(name="policy")
def policy_group() -> None:
    """Approval policies of aliases: how many distinct approvers a digest needs before promotion."""


@policy_group.command(name="set")
@click.argument("name")
@click.argument("alias")
@click.option("--require-approvals", type=int, required=True, help="Distinct approvers needed (0 lifts the policy).")
@click.option("--approvers", default="", help="Comma-separated approvers allowed (default: anyone).")
@click.option("--require-signatures", is_flag=True, help="Count only approvals whose SSH signature verifies.")
@click.option("--by", required=True, help="Who sets the policy (recorded).")
@click.option("--reason", default="", help="Why; recorded in the history.")
@click.pass_obj
def policy_set_command(
    store: str | None,
    name: str,
    alias: str,
    require_approvals: int,
    approvers: str,
    require_signatures: bool,
    by: str,
    reason: str,
) -> None:
    """Set the approval policy of NAME@ALIAS."""
    allowed = [a.strip() for a in approvers.split(",") if a.strip()]
    set_policy(
        name,
        alias,
        require_approvals=require_approvals,
        approvers=allowed,
        require_signatures=require_signatures,
        by=by,
        reason=reason,
        store=store,
    )
    if require_approvals == 0:
        click.echo(f"{name}@{alias}: approval policy lifted")
        return
    among = f" among {', '.join(sorted(allowed))}" if allowed else ""
    signed = ", signed" if require_signatures else ""
    click.echo(f"{name}@{alias}: promotion needs {require_approvals} distinct approver(s){among}{signed}")


@policy_group.command(name="show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def policy_show_command(store: str | None, name: str, as_json: bool) -> None:
    """The approval policies in force for NAME."""
    found = policies(name, store=store)
    if as_json:
        print_json({alias: to_json_dict(p) for alias, p in found.items()})
        return
    if not found:
        click.echo(f"{name} has no approval policies")
        return
    for alias, p in found.items():
        among = f" among {', '.join(p.approvers)}" if p.approvers else ""
        signed = ", signed" if p.require_signatures else ""
        by = p.event.by if p.event else "?"
        click.echo(f"{name}@{alias}: {p.require_approvals} distinct approver(s){among}{signed} (set by {by})")


def register(group: click.Group) -> None:
    """Add ``approve``, ``approvals`` and ``policy`` to ``group`` (the ``modelver`` CLI)."""
    for command in (approve_command, approvals_command, policy_group):
        group.add_command(command)
