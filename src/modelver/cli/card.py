"""The ``modelver card`` command: a model card of one version, as Markdown or HTML.

:func:`register` adds it to the main group (``modelver.cli.app``).
"""

from __future__ import annotations

import click

from modelver.cards.card import CARD_FORMATS, model_card

__all__ = ["register"]


@click.command(name="card")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(CARD_FORMATS), default="md", show_default=True, help="Output.")
@click.pass_obj
def card_command(store: str | None, ref: str, fmt: str) -> None:
    """Print the model card of REF: description, intended use, data, metrics, config, environment, lineage,
    approvals and deployments."""
    click.echo(model_card(ref, format=fmt, store=store), nl=False)


def register(group: click.Group) -> None:
    """Add ``card`` to ``group`` (the ``modelver`` CLI)."""
    group.add_command(card_command)
