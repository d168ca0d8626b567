"""``modelver download REF DIR``: the CLI twin of :meth:`modelver.ModelVersion.download`, for consumers that are
not Python (a shell deploy script, a container build step)."""

from __future__ import annotations

import click

from modelver.registry.model_version import get
from modelver.units import human_bytes

__all__ = ["register"]


@click.command(name="download")
@click.argument("ref")
@click.argument("directory", type=click.Path(file_okay=False, writable=True))
@click.pass_obj
def download_command(store: str | None, ref: str, directory: str) -> None:
    """Write every artifact of version REF under DIRECTORY at its recorded path, streamed and verified.

    The same checks as `ModelVersion.download()`: every artifact path is validated before the first byte is
    written, each file is hashed and only renamed into place when it matches its digest, and a different file
    already at a path is never overwritten (exit 1). A file already there with the right content is kept.
    """
    version = get(ref, store=store)
    root = version.download(directory)
    artifacts = version.manifest.artifacts
    for path, entry in sorted(artifacts.items()):
        click.echo(f"{path}  {entry.digest}  {human_bytes(entry.size_bytes)}")
    click.echo(f"{len(artifacts)} artifact(s) of {version.ref} in {root}")


def register(cli: click.Group) -> None:
    """Add ``download`` to the main ``modelver`` group."""
    cli.add_command(download_command)
