"""The web UI in a real headless browser: Debian's chromium driven by Playwright, against ``modelver ui`` started as
a real process over a store that a real training run published.

Screenshots of every view are saved under ``build/test-artifacts/ui/`` (or ``$MODELVER_TEST_ARTIFACTS/ui/``); with
``MODELVER_UPDATE_DOCS_IMG=1`` they also replace ``docs/img/ui-*.png``. Without chromium or Playwright the tests
skip, saying why (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_ui_api import build_registry

ROOT = Path(__file__).resolve().parents[1]
#: Flags for a headless chromium on a machine without a display, GPU or outside network (without the background
#: networking flags chromium keeps calling Google services, which a closed network turns into long stalls).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 860}
#: The background of a changed cell on the compare page (--chg in ui.css, #fff8c5).
CHANGED_BACKGROUND = "rgb(255, 248, 197)"


def _chromium() -> str:
    found = os.environ.get("MODELVER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        reason = "no chromium on PATH (install Debian's: apt-get install -y chromium; .ci/run does it as root)"
        print(f"test_ui_browser: skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Any]:
    """One Playwright page in headless chromium, shared by the module's tests."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install playwright; its browser download is not needed)"
        print(f"test_ui_browser: skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(20_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``modelver ui --port 0`` over a freshly published store, as a real process; its URL."""
    store = build_registry(tmp_path_factory.mktemp("ui-browser"))
    process = subprocess.Popen(
        [sys.executable, "-m", "modelver.cli", "--store", str(store), "ui", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.match(r"modelver ui: (http://127\.0\.0\.1:\d+)/", line)
    if match is None:
        process.kill()
        _, err = process.communicate(timeout=30)
        pytest.fail(f"modelver ui did not start: {line!r} {err}")
    yield match.group(1)
    process.terminate()
    process.communicate(timeout=30)


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (and as docs/img/ui-NAME.png when asked to)."""
    directory = Path(os.environ.get("MODELVER_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "ui"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("MODELVER_UPDATE_DOCS_IMG") == "1":
        shutil.copyfile(path, ROOT / "docs" / "img" / f"ui-{name}.png")
    return path


def test_names_page_lists_the_names(browser_page: Any, base_url: str) -> None:
    """The names page shows both names with their latest release and aliases."""
    page = browser_page
    page.goto(base_url + "/")
    assert ["churn", "ranker/v2"] == page.locator("table.names tbody tr td:first-child").all_inner_texts()
    assert "production → 0.1.2" in page.locator('tr[data-name="churn"]').inner_text()
    assert screenshot(page, "names").stat().st_size > 0


def test_open_a_name_then_a_version(browser_page: Any, base_url: str) -> None:
    """Clicking through: churn's page (metric charts with a point per version), then version 0.1.2 with its
    uncommitted diff, its sampled memory plotted, and a package search that hides the packages that do not match."""
    page = browser_page
    page.goto(base_url + "/")
    page.get_by_role("link", name="churn", exact=True).click()
    page.wait_for_url(re.compile(r"/name/churn$"))
    assert 3 == page.locator('figure[data-metric="accuracy"] circle').count()
    screenshot(page, "name")
    page.locator('tr[data-version="0.1.2"]').get_by_role("link", name="0.1.2").click()
    page.wait_for_url(re.compile(r"/version/churn@0\.1\.2$"))
    assert page.locator("h1").inner_text().startswith("churn@0.1.2")
    assert page.locator("pre.diff .add", has_text="+# tuned for the holdout set").is_visible()
    assert page.locator('code.value[data-key="lr"]').inner_text() == "0.3"
    assert page.locator('figure[data-resource="memory (MiB)"] svg').is_visible()
    total = page.locator("#packages tbody tr").count()
    page.get_by_label("search packages").fill("attrs")
    shown = page.locator("#packages tbody tr:visible").all_inner_texts()
    assert 0 < len(shown) < total
    assert all("attrs" in row for row in shown)
    page.get_by_label("search packages").fill("")
    screenshot(page, "version")


def test_compare_two_versions_highlights_the_changed_config_value(browser_page: Any, base_url: str) -> None:
    """Ticking 0.1.0 and 0.1.2 on the name page and comparing shows optimizer.lr 0.1 -> 0.3, the new value's cell
    highlighted and the base's not."""
    page = browser_page
    page.goto(base_url + "/name/churn")
    page.get_by_label("compare 0.1.0").check()
    page.get_by_label("compare 0.1.2").check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    row = page.locator('table[data-facet="config"] tr[data-key="optimizer.lr"]')
    base, changed = row.locator("td").nth(0), row.locator("td").nth(1)
    assert ("0.1", "0.3 changed") == (base.inner_text().strip(), changed.inner_text().strip())
    background = "el => getComputedStyle(el).backgroundColor"
    assert (CHANGED_BACKGROUND, False) == (
        changed.evaluate(background),
        base.evaluate(background) == CHANGED_BACKGROUND,
    )
    screenshot(page, "compare")


def test_lineage_graph_shows_the_steps_and_links_them(browser_page: Any, base_url: str) -> None:
    """The lineage page of 0.1.2 draws both step nodes; clicking one jumps to its row in the step table."""
    page = browser_page
    page.goto(base_url + "/version/churn@0.1.2")
    page.get_by_role("link", name="lineage graph", exact=True).click()
    page.wait_for_url(re.compile(r"/lineage/churn@0\.1\.2$"))
    steps = page.locator('svg.lineage g[data-kind="step"]')
    assert ["train.featurize", "train.fit"] == [t.strip() for t in steps.locator(".node-label").all_text_contents()]
    assert all(steps.nth(i).is_visible() for i in range(2))
    assert 1 == page.locator('svg.lineage g[data-kind="data"]').count()
    screenshot(page, "lineage")
    steps.nth(1).click()
    page.wait_for_url(re.compile(r"#step-1$"))
    assert "train.fit" in page.locator("tr#step-1").inner_text()


def test_an_unknown_version_is_a_page_not_a_traceback(browser_page: Any, base_url: str) -> None:
    """Opening a version that does not exist shows the 404 page with the nearest versions."""
    page = browser_page
    response = page.goto(base_url + "/version/churn@4.0.0")
    assert 404 == response.status
    assert "nearest versions: 0.1.0, 0.1.1, 0.1.2" in page.locator(".error-page").inner_text()
    screenshot(page, "error")
