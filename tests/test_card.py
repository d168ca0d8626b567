"""Model cards (modelver.cards.card): what was captured, described, approved and deployed, as Markdown and HTML."""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import modelver
from modelver.cards.card import model_card
from modelver.catalog.labels import describe, label
from modelver.errors import InvalidReferenceError
from modelver.registry.approvals import approve
from modelver.registry.deployments import record_deployment


def _publish(tmp_path: Path) -> str:
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    with modelver.track("m", version="1.0.0", config={"C": 0.5}, data={"train": data}) as run:
        run.log_metrics({"accuracy": 0.93})
        run.save_model({"w": 1})
    assert run.version is not None
    return run.version.digest


def test_card_shows_description_use_data_metrics_config_approvals_and_deployments(tmp_path: Path) -> None:
    """Every section comes from what was recorded; the latest describe wins."""
    digest = _publish(tmp_path)
    describe("m@1.0.0", "first draft")
    describe("m@1.0.0", "Churn classifier, retrained on November data")
    label("m@1.0.0", {"intended-use": "ranking accounts for retention calls"})
    approve("m@1.0.0", alias="production", by="alice")
    record_deployment("m@1.0.0", "prod-eu", by="ci")
    card = model_card("m@1.0.0")
    for expected in (
        "# Model card: m@1.0.0",
        f"Manifest digest `{digest}`.",
        "Churn classifier, retrained on November data",
        "ranking accounts for retention calls",
        "| accuracy | 0.93 |",
        '"C": 0.5',
        "| production | alice | claimed |",
        "| prod-eu |",
        "train.csv",
    ):
        assert expected in card
    assert "first draft" not in card


def test_card_without_extras_says_what_is_missing_and_html_is_well_formed(tmp_path: Path) -> None:
    """No description, approvals or deployments: the sections say so; the HTML parses and escapes text."""
    _publish(tmp_path)
    describe("m@1.0.0", "<script>alert(1)</script>")
    card = model_card("m", format="html")
    assert "&lt;script&gt;" in card
    assert "<script>" not in card
    assert "Not deployed anywhere now." in card
    assert "No approvals." in card
    headings: list[str] = []

    class Headings(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.inside = tag == "h2"

        def handle_data(self, data: str) -> None:
            if self.inside:
                headings.append(data)
                self.inside = False

    Headings().feed(card)
    assert [
        "Description",
        "Intended use",
        "Version",
        "Training data",
        "Metrics",
        "Config",
        "Environment and code",
        "Lineage",
        "Approvals",
        "Deployments",
    ] == headings[:10]
    with pytest.raises(InvalidReferenceError, match="choose md or html"):
        model_card("m", format="pdf")


def test_cli_card(tmp_path: Path) -> None:
    """`modelver card REF --format md` prints the card."""
    _publish(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "modelver.cli", "card", "m@1.0.0"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert (0, "# Model card: m@1.0.0") == (out.returncode, out.stdout.splitlines()[0])
