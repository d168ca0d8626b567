"""The version page shows saved prompts and configs first and collapses the code diff and packages; failed runs
and lineage values are visible in the UI (issue #20). A real uvicorn server over a store real runs published."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelver
from modelver.ui.lineage import build_graph
from test_ui_api import Served, serve_app


@modelver.versioned
def scale(rows: list[int], factor: float, api_token: str) -> list[float]:
    """A step with a hyperparameter (shown) and a secret-looking argument (never shown)."""
    return [r * factor for r in rows]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one version holding a prompt, a saved config and a step, and one failed run."""
    root = tmp_path_factory.mktemp("ui-store") / "store"
    with modelver.track("bot", store=root) as run:
        run.save_prompt("system", "You answer questions about {product}. Be brief.", metadata={"model": "small"})
        run.save_config("rag", {"retriever": "bm25", "top_k": 5})
        scale([1, 2], 0.5, "s3cr3t-value")
        run.log_metrics({"acc": 0.5})
    with pytest.raises(KeyError), modelver.track("bot", store=root):
        dict[str, int]()["missing-key"]
    return root


@pytest.fixture(scope="module")
def ui(store: Path) -> Iterator[Served]:
    """A read-only UI over the module's store."""
    served, stop = serve_app(store)
    yield served
    stop()


def test_saved_prompt_and_config_are_shown_instead_of_no_config(ui: Served) -> None:
    """save_prompt's template and variables and save_config's values are on the page; "No config recorded" is not."""
    status, page = ui.get("/version/bot@0.1.0")
    # Only the config section: the page also shows the diff of this checkout, which may contain any text.
    html = page[page.index('<section id="config">') :]
    html = html[: html.index("</section>")]

    assert 200 == status
    assert "No config recorded." not in html
    assert '<pre class="prompt">You answer questions about {product}. Be brief.</pre>' in html
    assert "<code>product</code>" in html
    assert '<code class="value" data-key="retriever">bm25</code>' in html
    assert '<code class="value" data-key="model">small</code>' in html


def test_version_page_puts_results_first_and_collapses_code_and_packages(ui: Served) -> None:
    """Summary, metrics, config, artifacts and data come before code and environment; the package table is in a
    closed <details>."""
    _, html = ui.get("/version/bot@0.1.0")

    order = [html.index(f'<section id="{s}">') for s in ("summary", "metrics", "config", "artifacts", "data", "code")]
    assert sorted(order) == order
    assert html.index('<section id="code">') < html.index('<section id="environment">')
    assert re.search(r'<details class="packages"><summary>\d+ installed packages', html)


def test_failed_runs_are_listed_and_shown_with_their_traceback(ui: Served) -> None:
    """/runs lists the failed run with its reason; its page shows the traceback; an unknown id is a 404 page."""
    status, listing = ui.get("/runs")
    run_id = re.search(r'data-run="([^"]+)"', listing)

    assert (200, True) == (status, run_id is not None)
    assert "KeyError: &#39;missing-key&#39;" in listing
    assert run_id is not None
    status, page = ui.get(f"/run/{run_id.group(1)}")
    assert 200 == status
    assert '<pre class="traceback">Traceback (most recent call last)' in page
    assert 404 == ui.get("/run/no-such-run")[0]


def test_lineage_value_node_shows_its_value_but_never_a_secret(ui: Served, store: Path) -> None:
    """The factor's value node reads `factor = 0.5`; the secret-looking argument's node shows its name only."""
    version = modelver.get("bot@0.1.0", store=store)
    graph = build_graph(modelver.serde.to_json_dict(version.manifest), version.ref)

    labels = sorted(n.label for n in graph.nodes if n.kind == "value")

    assert ["api_token", "factor = 0.5", "rows"] == labels
    assert "s3cr3t" not in ui.get("/lineage/bot@0.1.0")[1]
