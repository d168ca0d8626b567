"""The UI's version search page (filter box, chosen columns, sorting) and the compare page's parallel-coordinates
plot, over HTTP against the module store of ``test_ui_api`` (published by a real training run)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from modelver.ui.parallel import parallel_svg
from test_ui_api import Served, build_registry, serve_app


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A read-only UI over a store with churn 0.1.0-0.1.2 (lr 0.1, 0.2, 0.3) and ranker/v2."""
    served, stop = serve_app(build_registry(tmp_path_factory.mktemp("ui-search")))
    yield served
    stop()


def test_search_page_filters_and_shows_the_chosen_columns(ui: Served) -> None:
    """The filter box takes the search language; each chosen column shows its value per version, from the index."""
    status, html = ui.get("/search?q=config.optimizer.lr+%3E%3D+0.2&col=config.optimizer.lr&col=metrics.accuracy")
    assert 200 == status
    rows = re.findall(r'<tr data-ref="([^"]+)">(.*?)</tr>', html, re.S)
    assert ["churn@0.1.2", "churn@0.1.1"] == [ref for ref, _ in rows]  # newest first by default
    cells = [re.findall(r"<code>([^<]*)</code>", body) for _, body in rows]
    assert [["0.3", "0.95"], ["0.2", "0.85"]] == cells
    data = ui.json("/api/search?q=name+%3D+%27churn%27&col=metrics.accuracy&sort=metrics.accuracy&dir=asc")
    assert [("0.1.0", 0.75), ("0.1.1", 0.85), ("0.1.2", 0.95)] == [
        (v["version"], round(v["fields"]["metrics.accuracy"], 6)) for v in data["versions"]
    ]


def test_clicking_a_column_header_sorts_by_it_and_again_reverses(ui: Served) -> None:
    """A column's header links to the same search sorted by that column, descending first, then ascending."""
    _, html = ui.get("/search?name=churn&col=metrics.loss")
    link = re.search(r'<a class="sort" href="([^"]+)" data-col="metrics.loss">', html)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    _, sorted_html = ui.get(href)
    assert ["churn@0.1.0", "churn@0.1.1", "churn@0.1.2"] == re.findall(r'<tr data-ref="([^"]+)">', sorted_html)
    again = re.search(r'<a class="sort desc" href="([^"]+)" data-col="metrics.loss">', sorted_html)
    assert again is not None
    _, reversed_html = ui.get(again.group(1).replace("&amp;", "&"))
    assert ["churn@0.1.2", "churn@0.1.1", "churn@0.1.0"] == re.findall(r'<tr data-ref="([^"]+)">', reversed_html)


def test_a_bad_filter_shows_the_caret_message(ui: Served) -> None:
    """A malformed filter is a 400 page with the parser's message and a caret under the mistake (and JSON for the
    API); no table is drawn."""
    status, html = ui.get("/search?q=metrics.accuracy+%3E%3E+0.9")
    assert 400 == status
    caret = re.search(r'<pre class="caret">(.*?)</pre>', html, re.S)
    assert caret is not None
    assert "metrics.accuracy &gt;&gt; 0.9\n                  ^" == caret.group(1)
    assert "<table" not in html.split('class="caret"')[1]
    api_status, _, text = ui.request("/api/search?q=metrics.accuracy+%3E%3E+0.9")
    assert (400, True) == (api_status, '"InvalidQueryError"' in text)


def test_compare_page_draws_config_to_metrics_parallel_coordinates(ui: Served) -> None:
    """Comparing three versions draws one axis for the config key that differs, then one per metric, and one line
    per version through them; only the keys that differ among configs get an axis (seed and momentum do not)."""
    status, html = ui.get("/compare?ref=churn@0.1.0&ref=churn@0.1.1&ref=churn@0.1.2")
    assert 200 == status
    svg = re.search(r'<svg class="chart parallel".*?</svg>', html, re.S)
    assert svg is not None
    axes = re.findall(r'<g class="pc-axis" data-axis="([^"]+)">', svg.group(0))
    assert ["config.optimizer.lr", "metrics.accuracy", "metrics.loss"] == axes
    lines = re.findall(
        r'<g class="pc-version" data-ref="([^"]+)">.*?<polyline class="pc-line[^"]*" points="([^"]+)"',
        svg.group(0),
        re.S,
    )
    assert ["churn@0.1.0", "churn@0.1.1", "churn@0.1.2"] == [ref for ref, _ in lines]
    assert [3, 3, 3] == [len(points.split()) for _, points in lines]
    # lr rises with the version: the highest lr is drawn highest (the smallest y) on the first axis.
    first_y = [float(points.split()[0].split(",")[1]) for _, points in lines]
    assert sorted(first_y, reverse=True) == first_y
    assert "style=" not in svg.group(0)
    assert "<script" not in svg.group(0)


def test_parallel_svg_escapes_labels_and_skips_missing_values() -> None:
    """Text values become evenly spaced categories, labels are escaped, and a version without a key has no point on
    its axis."""
    out = str(
        parallel_svg(
            ["config.opt", "metrics.m"],
            [("a@1", {"config.opt": "<adam>", "metrics.m": 1.0}), ("b@1", {"config.opt": "sgd"})],
        )
    )
    assert "&lt;adam&gt;" in out
    assert "<adam>" not in out
    assert [2, 1] == [len(p.split()) for p in re.findall(r'<polyline class="pc-line[^"]*" points="([^"]+)"', out)]


def test_name_page_links_to_its_search(ui: Served) -> None:
    """A name's page links to the version search narrowed to that name."""
    _, html = ui.get("/name/churn")
    assert 'href="/search?name=churn"' in html
