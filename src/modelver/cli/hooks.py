"""Hook commands of the ``modelver`` CLI: ``hooks add|list|remove|deliver|log``.

:func:`register` adds the group to the main group (``modelver.cli.app``).
"""

from __future__ import annotations

import click
from rich.table import Table

from modelver.cli.common import add_plain_row, console, print_json
from modelver.hooks.config import add_hook, list_hooks, remove_hook
from modelver.hooks.delivery import deliver, delivery_log
from modelver.provenance import created_by
from modelver.serde import to_json_dict
from modelver.store.location import open_store

__all__ = ["register"]


@click.group(name="hooks")
def hooks_group() -> None:
    """HTTP hooks: POST a signed JSON payload after promote, deploy, yank, publish, ... (outbox + retries)."""


@hooks_group.command(name="add")
@click.argument("url")
@click.option("--events", required=True, help="Comma-separated kinds, e.g. promote,deploy,yank,publish (or *).")
@click.option("--secret-env", default=None, help="NAME of the variable holding the HMAC secret (never the secret).")
@click.option("--by", default=None, help="Who adds it (default: the OS user).")
@click.pass_obj
def hooks_add_command(store: str | None, url: str, events: str, secret_env: str | None, by: str | None) -> None:
    """Add a hook that receives the chosen events at URL."""
    me = created_by()
    kinds = tuple(e.strip() for e in events.split(",") if e.strip())
    hook = add_hook(open_store(store), url, events=kinds, by=by or me.user, created_by=me, secret_env=secret_env)
    signed = f"signed with ${hook.secret_env}" if hook.secret_env else "unsigned"
    click.echo(f"added hook {hook.id}: {', '.join(hook.events)} -> {hook.url} ({signed})")


@hooks_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def hooks_list_command(store: str | None, as_json: bool) -> None:
    """The hooks in force."""
    hooks = list_hooks(open_store(store))
    if as_json:
        print_json([to_json_dict(h) for h in hooks])
        return
    for h in hooks:
        click.echo(f"{h.id}  {','.join(h.events)}  {h.url}  secret ${h.secret_env or '-'}  (by {h.added_by})")
    if not hooks:
        click.echo("no hooks")


@hooks_group.command(name="remove")
@click.argument("hook_id")
@click.option("--by", default=None, help="Who removes it (default: the OS user).")
@click.pass_obj
def hooks_remove_command(store: str | None, hook_id: str, by: str | None) -> None:
    """Remove hook HOOK_ID (see `modelver hooks list`)."""
    me = created_by()
    remove_hook(open_store(store), hook_id, by=by or me.user, created_by=me)
    click.echo(f"removed hook {hook_id}")


@hooks_group.command(name="deliver")
@click.option("--backoff", "backoff_s", type=float, default=60.0, show_default=True, help="Backoff base, seconds.")
@click.option("--max-attempts", type=int, default=5, show_default=True, help="Attempts before giving up.")
@click.pass_obj
def hooks_deliver_command(store: str | None, backoff_s: float, max_attempts: int) -> None:
    """Retry the deliveries in the outbox whose backoff has passed (run it from cron)."""
    made = deliver(open_store(store), backoff_s=backoff_s, max_attempts=max_attempts)
    for a in made:
        click.echo(f"{a.delivery} attempt {a.n}: {a.outcome} {a.status or ''} {a.error}".rstrip())
    click.echo(f"{len(made)} attempt(s), {sum(a.outcome == 'delivered' for a in made)} delivered")


@hooks_group.command(name="log")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def hooks_log_command(store: str | None, as_json: bool) -> None:
    """Every delivery and attempt: what was sent where, and what came of it."""
    log = delivery_log(open_store(store))
    if as_json:
        print_json([{"delivery": to_json_dict(d), "attempts": [to_json_dict(a) for a in at]} for d, at in log])
        return
    table = Table(title="hook deliveries")
    for column in ("delivery", "event", "url", "attempts", "last (UTC)", "outcome", "error"):
        table.add_column(column)
    for d, attempts in log:
        last = attempts[-1] if attempts else None
        add_plain_row(
            table,
            d.id,
            str(d.payload.get("event")),
            d.url,
            str(len(attempts)),
            last.at if last else "",
            last.outcome if last else "pending",
            last.error if last else "",
        )
    console.print(table)


def register(group: click.Group) -> None:
    """Add the ``hooks`` group to ``group`` (the ``modelver`` CLI)."""
    group.add_command(hooks_group)
