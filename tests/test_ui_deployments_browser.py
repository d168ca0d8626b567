"""The deployments page (with a timeline and ``?at=`` time travel) and the model card page, in headless chromium
against ``modelver ui`` started as a real process (skips without chromium or Playwright, as test_ui_browser does).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import modelver
from helpers import serve_ui
from modelver.catalog.labels import describe
from modelver.registry.approvals import approve
from modelver.registry.deployments import record_deployment
from modelver.registry.lifecycle import promote
from test_ui_browser import browser_page, screenshot

__all__ = ["browser_page"]  # the shared module-scoped page fixture


def _build(root: Path) -> tuple[Path, str]:
    store = root / "store"
    for version in ("1.0.0", "1.1.0"):
        with modelver.track("m", version=version, store=store) as run:
            run.log_metrics({"accuracy": 0.9 if version == "1.0.0" else 0.93})
            run.save_model({"v": version})
    promote("m@1.0.0", "production", by="alice", store=store)
    record_deployment("m@production", "prod-eu", by="ci", note="CHG-1", store=store)
    record_deployment("m@1.0.0", "prod-us", by="ci", store=store)
    time.sleep(0.01)
    between = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    time.sleep(0.01)
    record_deployment("m@1.1.0", "prod-eu", by="oncall", store=store)
    approve("m@1.1.0", alias="production", by="bob", store=store)
    describe("m@1.1.0", "Churn classifier for the EU", store=store)
    return store, between


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``modelver ui --port 0`` over a store with deployments; its URL and an instant between two deployments."""
    store, between = _build(tmp_path_factory.mktemp("ui-deployments"))
    with serve_ui(store) as url:
        yield url, between


def test_deployments_page_shows_targets_a_timeline_and_time_travel(browser_page: Any, served: tuple[str, str]) -> None:
    """Now: prod-eu serves 1.1.0 (redeployed by oncall), prod-us 1.0.0; at the earlier instant prod-eu served 1.0.0
    via production; the timeline lists both deploys of prod-eu."""
    page = browser_page
    base_url, between = served
    page.goto(base_url + "/version/m@1.1.0")
    page.get_by_role("link", name="deployments", exact=True).click()
    page.wait_for_url(re.compile(r"/deployments/m$"))
    rows = page.locator("table.deployments tbody tr")
    assert ["prod-eu", "prod-us"] == [r.get_attribute("data-target") for r in rows.all()]
    assert "1.1.0" in page.locator('tr[data-target="prod-eu"]').inner_text()
    assert "oncall" in page.locator('tr[data-target="prod-eu"]').inner_text()
    timeline = page.locator('section.timeline[data-target="prod-eu"] li').all_inner_texts()
    assert 2 == len(timeline)
    assert "deploy 1.0.0 by ci via production" in timeline[0]
    screenshot(page, "deployments")
    page.get_by_label("at").fill(between)
    page.get_by_role("button", name="Show as of").click()
    page.wait_for_url(re.compile(r"\?at="))
    earlier = page.locator('tr[data-target="prod-eu"]').inner_text()
    assert "1.0.0" in earlier
    assert "production" in earlier


def test_model_card_page_from_the_version_page(browser_page: Any, served: tuple[str, str]) -> None:
    """The version page links its model card: description, metrics, approvals and deployments are on it."""
    page = browser_page
    base_url, _ = served
    page.goto(base_url + "/version/m@1.1.0")
    page.get_by_role("link", name="model card").click()
    page.wait_for_url(re.compile(r"/card/m@1\.1\.0$"))
    assert "Churn classifier for the EU" in page.locator('section[data-section="Description"]').inner_text()
    assert "0.93" in page.locator('section[data-section="Metrics"]').inner_text()
    assert "bob" in page.locator('section[data-section="Approvals"]').inner_text()
    assert "prod-eu" in page.locator('section[data-section="Deployments"]').inner_text()
    screenshot(page, "card")
    page.goto(base_url + "/deployments/m?at=yesterday")
    assert "is not a time" in page.locator("main").inner_text()
