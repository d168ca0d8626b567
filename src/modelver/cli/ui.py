"""``modelver ui``: serve the local web UI over a store (needs ``pip install 'modelver[ui]'``)."""

from __future__ import annotations

import socket

import click

from modelver.cli.common import console, esc
from modelver.cli.location import check_store_location
from modelver.errors import MissingDependencyError

#: Port used when none is given (unassigned by IANA in the user range, away from the usual 8000/8080).
DEFAULT_PORT = 8765


@click.command(name="ui")
@click.option("--store", "store_option", default=None, help="Store URL or path (same as `modelver --store`).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (loopback by default).")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@click.option(
    "--allow-write", is_flag=True, help="Enable promote, rollback and yank from the page (recorded with --by)."
)
@click.pass_obj
def ui_command(store: str | None, store_option: str | None, host: str, port: int, allow_write: bool) -> None:
    """Browse names and versions, compare versions, see lineage and metrics in a browser (read-only by default).

    Serves until interrupted (Ctrl-C); opens nothing else.
    """
    try:
        import uvicorn

        from modelver.ui import LOOPBACK_HOSTS, create_app
    except ImportError as exc:
        raise MissingDependencyError(f"the web UI needs its extra: pip install 'modelver[ui]' ({exc})") from exc
    check_store_location(store_option or store)
    loopback = host in LOOPBACK_HOSTS
    app = create_app(store_option or store, allow_write=allow_write, allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    # Bind here, not in uvicorn, so that the printed URL carries the real port (also with --port 0).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)  # from here on, connections wait in the backlog until uvicorn accepts them
    except OSError as exc:
        sock.close()
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if not loopback:
        console.print(f"[yellow]warning:[/yellow] listening on {esc(host)}: anyone who can reach it can read the store")
    click.echo(f"modelver ui: http://{_url_host(host)}:{sock.getsockname()[1]}/ (Ctrl-C stops it)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def register(group: click.Group) -> None:
    """Add ``modelver ui`` to the ``modelver`` group."""
    group.add_command(ui_command)
