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
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import modelver
from helpers import serve_ui
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
    with serve_ui(build_registry(tmp_path_factory.mktemp("ui-browser"))) as url:
        yield url


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
    assert not page.locator("pre.diff .add", has_text="+# tuned for the holdout set").is_visible()  # collapsed
    page.locator("details.code-diff > summary").click()
    assert page.locator("pre.diff .add", has_text="+# tuned for the holdout set").is_visible()
    assert page.locator('code.value[data-key="lr"]').inner_text() == "0.3"
    assert page.locator('figure[data-resource="memory (MiB)"] svg').is_visible()
    page.locator("details.packages > summary").click()
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


def test_search_filters_sorts_columns_and_compare_draws_parallel_coordinates(browser_page: Any, base_url: str) -> None:
    """From a name's page: a bad filter shows the caret message; a good one with a metric column lists the matches;
    clicking the column sorts by it; the compare page draws one parallel-coordinates line per version."""
    page = browser_page
    page.goto(base_url + "/name/churn")
    page.get_by_role("link", name="filter, columns and sort").click()
    page.wait_for_url(re.compile(r"/search\?name=churn$"))
    page.get_by_label("filter").fill("metrics.accuracy >> 0.9")
    page.get_by_role("button", name="search").click()
    assert "^" == page.locator("pre.caret").inner_text().strip().splitlines()[-1].strip()
    page.get_by_label("filter").fill("config.optimizer.lr >= 0.2")
    page.get_by_label("add a column").fill("metrics.loss")
    page.get_by_role("button", name="search").click()
    page.locator("table.versions").wait_for()
    assert ["churn@0.1.2", "churn@0.1.1"] == page.locator("table.versions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.ref)"
    )
    page.get_by_role("link", name="metrics.loss").click()  # descending first
    page.get_by_role("link", name="metrics.loss").click()  # then ascending: lowest loss (0.1.2) first
    page.wait_for_url(re.compile(r"dir=asc"))
    assert ["churn@0.1.2", "churn@0.1.1"] == page.locator("table.versions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.ref)"
    )
    page.goto(base_url + "/compare?ref=churn@0.1.0&ref=churn@0.1.1&ref=churn@0.1.2")
    lines = page.locator("svg.parallel polyline.pc-line")
    assert 3 == lines.count()
    assert "none" == lines.first.evaluate("el => getComputedStyle(el).fill")  # ui.css reached the SVG
    screenshot(page, "search")


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


# ---------------------------------------------------------------------------------------------------------------
# Another origin: it may neither frame the UI nor post to it


@pytest.fixture(scope="module")
def writable_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly published store whose files the UI may change (objects are stored read-only)."""
    store = build_registry(tmp_path_factory.mktemp("ui-browser-write"))
    for path in store.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return store


@pytest.fixture(scope="module")
def writable_url(writable_store: Path) -> Iterator[str]:
    """``modelver ui --allow-write --port 0`` over its own store, as a real process; its URL."""
    with serve_ui(writable_store, "--allow-write") as url:
        yield url


# The attacker's pages: one frames the UI's version page, one posts a promote form to it as soon as it loads.
FRAMING_PAGE = '<!doctype html><title>framing</title><iframe src="{ui}/version/churn@0.1.0" width=900 height=600>'
POSTING_PAGE = """<!doctype html><title>posting</title>
<form method="post" action="{ui}/action/promote">
<input name="ref" value="churn@0.1.0"><input name="alias" value="production"><input name="by" value="mallory">
</form><script>document.forms[0].submit()</script>"""


@pytest.fixture(scope="module")
def attacker_url(writable_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another origin (a plain HTTP server on another port, as a real process) serving the attacker's pages."""
    site = tmp_path_factory.mktemp("attacker")
    (site / "frame.html").write_text(FRAMING_PAGE.format(ui=writable_url))
    (site / "post.html").write_text(POSTING_PAGE.format(ui=writable_url))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"  # another host name and port than the UI: another origin
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/frame.html", timeout=5):
                break
        except OSError:
            assert time.monotonic() < deadline, "the attacker's server did not start in 30 s"
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(timeout=30)


def test_another_origin_cannot_frame_the_ui(browser_page: Any, writable_url: str, attacker_url: str) -> None:
    """A page on another origin that frames the UI (to make the user click its Promote button: clickjacking) gets
    an empty, refused frame: the UI's page never renders in it, while the same page opened directly does."""
    page = browser_page
    page.goto(attacker_url + "/frame.html")
    page.wait_for_load_state("load")
    framed = [frame for frame in page.frames if frame != page.main_frame]

    assert 1 == len(framed)
    assert [] == framed[0].locator("form").all()
    assert 0 == framed[0].locator("text=churn@0.1.0").count()
    page.goto(writable_url + "/version/churn@0.1.0")
    assert 2 == page.locator('form[method="post"]').count()


def test_another_origin_cannot_post_to_the_ui(
    browser_page: Any, writable_url: str, attacker_url: str, writable_store: Path
) -> None:
    """A page on another origin that posts a promote form to the UI is refused with 403 and nothing is written;
    the same promote from the UI's own page goes through."""
    page = browser_page
    before = modelver.history("churn", store=writable_store)
    with page.expect_response(lambda response: response.url.endswith("/action/promote")) as posted:
        page.goto(attacker_url + "/post.html")
    refused = posted.value.status
    unchanged = before == modelver.history("churn", store=writable_store)

    page.goto(writable_url + "/version/churn@0.1.0")
    actions = page.locator("#actions form").first
    actions.get_by_label("alias").fill("canary")
    actions.get_by_label("by").fill("dana")
    actions.get_by_role("button", name="Promote").click()
    page.wait_for_url(re.compile(r"/version/churn@0\.1\.0$"))
    event = modelver.history("churn", alias="canary", store=writable_store)[-1]

    assert (403, True) == (refused, unchanged)
    assert ("promote", "0.1.0", "dana") == (event.kind, event.version, event.by)
