"""The web UI over HTTP: a real uvicorn server on 127.0.0.1 serving a store that real training runs published.

The store is built once per module by a real training script in a real git repository (three versions of ``churn``
made by ``@modelver.versioned`` steps, with a dirty working tree, promotions, and a namespaced second name); tests
that write or damage the store work on a copy of it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st

import modelver
from helpers import GIT_ENV, git, run_python
from modelver.registry.resolution import read_tag
from modelver.serde import to_json_dict
from modelver.store.location import open_store
from modelver.ui import create_app
from modelver.ui.app import API
from modelver.ui.lineage import build_graph
from modelver.ui.views import MIN_RATE_INTERVAL_S, _resource_series, page_bounds

TRAIN_SCRIPT = """
import time

import modelver

RAW = b"age,churned\\n31,0\\n45,1\\n22,0\\n"


@modelver.versioned
def featurize(raw: bytes) -> list:
    return [len(raw), raw.count(b"\\n")]


@modelver.versioned
def fit(features: list, lr: float) -> dict:
    return {"weights": [x * lr for x in features]}


for i, lr in enumerate((0.1, 0.2, 0.3)):
    config = {"optimizer": {"lr": lr, "momentum": 0.9}, "seed": 7}
    with modelver.track("churn", config=config, data={"train": RAW}) as run:
        model = fit(featurize(RAW), lr)
        run.log_metrics({"accuracy": 0.70 + i / 10, "loss": 0.9 - i / 10}, step=0)
        run.log_metrics({"accuracy": 0.75 + i / 10, "loss": 0.8 - i / 10}, step=1)
        run.save_model(model)
        if i == 2:  # long enough for the resource sampler (every 0.2 s) to take a few samples
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                pass
modelver.promote("churn@0.1.1", "production", by="alice", reason="beats 0.1.0 on holdout")
modelver.promote("churn@0.1.2", "production", by="bob", reason="retrained with lr 0.3")
modelver.promote("churn@0.1.0", "staging", by="carol", reason="baseline")
with modelver.track("ranker/v2", config={"depth": 3}) as run:
    run.log_metrics({"ndcg": 0.5})
    run.save_model({"trees": []})
"""


def build_registry(root: Path) -> Path:
    """Run the training script in a fresh git repository (committed, then edited so the runs see a dirty tree) and
    return the store it published to."""
    repo = root / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text(TRAIN_SCRIPT)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "train")
    (repo / "train.py").write_text(TRAIN_SCRIPT + "# tuned for the holdout set\n")
    store = root / "store"
    env = {"MODELVER_STORE": str(store), "MODELVER_CACHE": str(root / "cache"), **GIT_ENV}
    run_python(repo / "train.py", cwd=repo, env=env)
    return store


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's store, published by a real training run (see :func:`build_registry`)."""
    return build_registry(tmp_path_factory.mktemp("ui-registry"))


class Served:
    """A running UI server: its base URL and a small HTTP client that never raises on an error status."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(
        self, path: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        """``(status, headers, text)`` of one request (redirects are not followed)."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with opener.open(req, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, dict(exc.headers), exc.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        """``(status, text)`` of a GET."""
        status, _, text = self.request(path)
        return status, text

    def json(self, path: str) -> Any:
        """The JSON body of a GET that must succeed."""
        status, text = self.get(path)
        assert 200 == status, text
        return json.loads(text)

    def post_json(self, path: str, payload: dict[str, Any], *, client_header: bool = True) -> tuple[int, Any]:
        """POST a JSON object, as an API client (with the X-Modelver-Client header) unless told not to;
        ``(status, parsed body)``."""
        headers = {"Content-Type": "application/json", **({"X-Modelver-Client": "tests"} if client_header else {})}
        status, _, text = self.request(path, method="POST", body=json.dumps(payload).encode(), headers=headers)
        return status, json.loads(text)

    def csrf_token(self) -> str | None:
        """The CSRF token the UI writes into its own forms (``None`` from a read-only UI, which has no forms)."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.get("/version/churn@0.1.2")[1])
        return found.group(1) if found else None

    def post_form(
        self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None, *, token: bool = True
    ) -> tuple[int, str]:
        """POST an HTML form, with the token from the UI's own page unless told not to; ``(status, Location or
        body)``."""
        sent = self.csrf_token() if token else None
        body = urllib.parse.urlencode({**fields, **({"csrf_token": sent} if sent else {})}).encode()
        all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        status, response_headers, text = self.request(path, method="POST", body=body, headers=all_headers)
        return status, response_headers.get("location", text)


def serve_app(store: Path, *, allow_write: bool = False) -> tuple[Served, Callable[[], None]]:
    """Start uvicorn on a free 127.0.0.1 port in a thread; return the client and a function that stops it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(store, allow_write=allow_write), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the UI server stopped while starting"
        assert time.monotonic() < deadline, "the UI server did not start in 30 s"
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

    return Served(f"http://127.0.0.1:{sock.getsockname()[1]}"), stop


@pytest.fixture(scope="module")
def ui(registry: Path) -> Iterator[Served]:
    """A read-only UI over the module's store."""
    served, stop = serve_app(registry)
    yield served
    stop()


@pytest.fixture
def store_copy(registry: Path, tmp_path: Path) -> Path:
    """A writable copy of the module's store (objects are stored read-only; the copy makes them writable)."""
    copy = tmp_path / "store-copy"
    shutil.copytree(registry, copy)
    for path in copy.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return copy


@pytest.fixture
def writable_ui(store_copy: Path) -> Iterator[Served]:
    """A UI started with allow_write over a copy of the store."""
    served, stop = serve_app(store_copy, allow_write=True)
    yield served
    stop()


# ---------------------------------------------------------------------------------------------------------------
# Names and versions


def test_names_api_summarizes_every_name(ui: Served) -> None:
    """/api/names lists each name with its version count, latest release, aliases and a last-activity time."""
    data = ui.json("/api/names")
    rows = {row["name"]: row for row in data["items"]}
    assert ["churn", "ranker/v2"] == list(rows)
    assert (3, "0.1.2", {"production": "0.1.2", "staging": "0.1.0"}) == (
        rows["churn"]["versions"],
        rows["churn"]["latest"],
        rows["churn"]["aliases"],
    )
    assert (1, "0.1.0", {}) == (
        rows["ranker/v2"]["versions"],
        rows["ranker/v2"]["latest"],
        rows["ranker/v2"]["aliases"],
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows["churn"]["last_activity"])
    assert (1, 1, 2) == (data["page"], data["pages"], data["total"])


def test_names_page_paginates_and_filters(ui: Served) -> None:
    """One name per page puts ranker/v2 on page 2; a filter keeps only matching names."""
    page2 = ui.json("/api/names?per_page=1&page=2")
    assert (["ranker/v2"], 2, 2) == ([r["name"] for r in page2["items"]], page2["page"], page2["pages"])
    assert ["ranker/v2"] == [r["name"] for r in ui.json("/api/names?q=RANK")["items"]]
    status, html = ui.get("/?per_page=1")
    assert 200 == status
    assert 'href="?per_page=1&amp;page=2"' in html


@given(total=st.integers(0, 500), per_page=st.integers(-3, 600), page=st.integers(-5, 700))
def test_page_bounds_cover_every_item_once(total: int, per_page: int, page: int) -> None:
    """Walking pages 1..pages with the clamped page size yields every item exactly once; any page is clamped in."""
    clamped, pages, start, stop = page_bounds(total, page, per_page)
    assert 1 <= clamped <= pages
    assert 0 <= start <= stop <= total
    seen = []
    for number in range(1, pages + 1):
        _, _, a, b = page_bounds(total, number, per_page)
        seen.extend(range(a, b))
    assert list(range(total)) == seen


def test_name_page_lists_versions_newest_first_with_aliases_and_history(ui: Served) -> None:
    """A name's JSON: versions newest first (with their aliases and tag metrics), alias states, and the audit
    trail newest first with who and why."""
    data = ui.json("/api/name/churn?per_page=2")
    assert ["0.1.2", "0.1.1"] == [v["version"] for v in data["versions"]["items"]]
    assert (["production"], {"accuracy": 0.95, "loss": 0.6}) == (
        data["versions"]["items"][0]["aliases"],
        pytest.approx(data["versions"]["items"][0]["metrics"]),
    )
    assert ["0.1.0"] == [v["version"] for v in ui.json("/api/name/churn?per_page=2&page=2")["versions"]["items"]]
    assert ("0.1.2", "bob", ["0.1.1", "0.1.2"]) == (
        data["aliases"]["production"]["version"],
        data["aliases"]["production"]["by"],
        data["aliases"]["production"]["targets"],
    )
    history = [(e["kind"], e["alias"], e["version"], e["by"], e["reason"]) for e in data["history"]["items"]]
    assert ("promote", "staging", "0.1.0", "carol", "baseline") == history[0]
    assert ("promote", "production", "0.1.1", "alice", "beats 0.1.0 on holdout") == history[-1]


def test_metric_series_come_from_the_version_tags(ui: Served, registry: Path) -> None:
    """The chart data across versions equals the metrics the tags carry, in version order."""
    series = ui.json("/api/metrics/churn")
    expected = [(t.version, t.metrics["accuracy"]) for t in modelver.list_versions("churn", store=registry)]
    assert expected == [(p["version"], p["value"]) for p in series["metrics"]["accuracy"]]
    status, html = ui.get("/name/churn?x=time")
    assert 200 == status
    assert 6 == html.count('<circle class="point"')  # accuracy and loss charts, three versions each


def test_version_api_is_the_manifest_plus_registry_state(ui: Served, registry: Path) -> None:
    """/api/version/REF carries the manifest's JSON form exactly, the aliases pointing at it, the code diff and the
    events about it; an alias resolves like everywhere else."""
    expected = to_json_dict(modelver.get("churn@0.1.2", store=registry).manifest)
    data = ui.json("/api/version/churn@production")
    assert (expected, "churn@0.1.2", ["production"]) == (data["manifest"], data["ref"], data["aliases"])
    assert "+# tuned for the holdout set" in data["code_diff"]
    assert [("promote", "bob")] == [(e["kind"], e["by"]) for e in data["events"]]
    assert [0, 1] == [p["step"] for p in data["metric_history"]["accuracy"]]


def test_version_page_shows_every_facet(ui: Served, registry: Path) -> None:
    """The version page renders code (commit, the diff with added lines marked), packages, the config tree, data,
    resources, metrics, artifacts with sizes and formats, and the audit history."""
    version = modelver.get("churn@0.1.1", store=registry)
    status, html = ui.get("/version/churn@0.1.1")
    assert 200 == status
    assert version.manifest.code.git is not None
    assert version.manifest.code.git.commit in html
    assert '<span class="add">+# tuned for the holdout set</span>' in html
    assert f'data-package="{next(iter(sorted(version.manifest.environment.packages)))}"' in html
    assert '<code class="value" data-key="lr">0.2</code>' in html
    assert 'data-label="train"' in html
    assert '<tr data-artifact="model.json"><td><code>model.json</code></td><td>json</td>' in html
    assert "beats 0.1.0 on holdout" in html
    assert "peak memory" in html


def test_sampled_resources_are_plotted(ui: Served, registry: Path) -> None:
    """The run's sampled memory and CPU series (the resources blob) become plot points and charts on its page."""
    manifest = to_json_dict(modelver.get("churn@0.1.2", store=registry).manifest)
    stored = json.loads(open_store(registry).read_blob(manifest["resources"]["series"]))
    series = ui.json("/api/version/churn@0.1.2")["resource_series"]
    column = stored["columns"].index("memory_bytes")
    assert [[row[0], row[column]] for row in stored["rows"]] == series["memory_bytes"]
    assert len(series["memory_bytes"]) >= 3
    assert all(0 <= cores <= (os.cpu_count() or 1) + 0.5 for _, cores in series["cpu_cores"])
    status, html = ui.get("/version/churn@0.1.2")
    assert (200, True, True) == (
        status,
        'data-resource="memory (MiB)"' in html,
        'data-resource="CPU (busy cores)"' in html,
    )


@given(
    steps=st.lists(
        st.tuples(st.floats(0, 2), st.integers(0, 1 << 40), st.floats(0, 1), st.lists(st.integers(0, 1 << 34))),
        max_size=30,
    )
)
def test_resource_series_keeps_memory_and_rates_cpu_over_spaced_points(
    steps: list[tuple[float, int, float, list[int]]],
) -> None:
    """For any sampled series (time and CPU seconds growing), memory points are the samples, CPU rates are taken
    over intervals of at least MIN_RATE_INTERVAL_S and never negative, and every GPU value is kept."""
    t, cpu, rows = 0.0, 0.0, []
    for dt, memory, dcpu, gpus in steps:
        t, cpu = round(t + dt, 3), round(cpu + dcpu, 3)
        rows.append([t, memory, cpu, gpus])
    body = {"columns": ["t_s", "memory_bytes", "cpu_s", "gpu_memory_used_bytes"], "rows": rows}
    series = _resource_series(json.dumps(body))
    assert series is not None
    assert [[r[0], r[1]] for r in rows] == series["memory_bytes"]
    times = [rows[0][0]] + [p[0] for p in series["cpu_cores"]] if rows else []
    assert all(b - a >= MIN_RATE_INTERVAL_S for a, b in itertools.pairwise(times))
    assert all(cores >= 0 for _, cores in series["cpu_cores"])
    assert sum(len(r[3]) for r in rows) == sum(len(p) for p in series["gpu_memory_bytes"].values())


@pytest.mark.parametrize("text", ["", "[]", '{"rows": []}', '{"columns": 3, "rows": [[1]]}', "not json"])
def test_resource_series_of_an_unknown_shape_is_none(text: str) -> None:
    """A series blob that is not the documented shape shows nothing rather than failing the page."""
    assert _resource_series(text) is None


def test_compare_highlights_a_changed_config_value(ui: Served, registry: Path) -> None:
    """Comparing 0.1.0 with 0.1.2 marks optimizer.lr as changed (0.1 -> 0.3) and leaves equal keys out; the JSON
    rows come from modelver.diff."""
    data = ui.json("/api/compare?ref=churn@0.1.0&ref=churn@0.1.2")
    rows = {row["key"]: row["cells"] for row in data["facets"]["config"]}
    assert {"optimizer.lr"} == set(rows)
    assert [(0.1, "base"), (0.3, "changed")] == [(c["value"], c["status"]) for c in rows["optimizer.lr"]]
    status, html = ui.get("/compare?ref=churn@0.1.0&ref=churn@0.1.2")
    assert 200 == status
    row = re.search(r'<tr data-key="optimizer.lr">(.*?)</tr>', html, re.S)
    assert row is not None
    assert '<td class="cell changed" data-status="changed"><code>0.3</code>' in row.group(1)


def test_compare_three_versions_fills_unchanged_cells_from_the_base(ui: Served) -> None:
    """With three versions, a key changed in one shows the base's value, marked same, in the others."""
    data = ui.json("/api/compare?ref=churn@0.1.0&ref=churn@0.1.1&ref=churn@0.1.0")
    cells = next(row["cells"] for row in data["facets"]["config"] if row["key"] == "optimizer.lr")
    assert [(0.1, "base"), (0.2, "changed"), (0.1, "same")] == [(c["value"], c["status"]) for c in cells]
    assert [False, True] == data["same_content"]


def test_diff_api_is_modelver_diff(ui: Served, registry: Path) -> None:
    """/api/diff returns modelver.diff's complete JSON form."""
    expected = to_json_dict(modelver.diff("churn@0.1.0", "churn@0.1.1", store=registry))
    assert expected == ui.json("/api/diff?a=churn@0.1.0&b=churn@0.1.1")


# ---------------------------------------------------------------------------------------------------------------
# Lineage


def test_lineage_links_data_steps_values_and_the_version(ui: Served) -> None:
    """The graph of a run: train data -> featurize -> fit -> the version, with the learning rate a value node."""
    data = ui.json("/api/lineage/churn@0.1.2")
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    edges = {(labels[e["source"]], labels[e["target"]], e["label"]) for e in data["edges"]}
    assert {
        ("train", "train.featurize", "raw"),
        ("train.featurize", "train.fit", "features"),
        ("lr = 0.3", "train.fit", "lr"),
        ("train.fit", "churn@0.1.2", ""),
    } == edges
    layer = {labels[n["id"]]: n["layer"] for n in data["nodes"]}
    assert (0, 1, 2, 3) == (layer["train"], layer["train.featurize"], layer["train.fit"], layer["churn@0.1.2"])
    status, html = ui.get("/lineage/churn@0.1.2")
    assert 200 == status
    assert 2 == html.count('data-kind="step"')
    assert '<tr id="step-1" data-step="train.fit">' in html


def test_lineage_links_the_parts_of_a_returned_tuple(store_dir: Path) -> None:
    """``train, test = split(raw)`` then ``fit(train, test)``: the API draws one labelled edge from split per part
    fed to fit, and no value node for either part."""

    @modelver.versioned(name="split")
    def split(raw: bytes) -> tuple[list[int], list[int]]:
        return list(raw[:2]), list(raw[2:])

    @modelver.versioned(name="fit")
    def fit(train: list[int], test: list[int]) -> dict[str, int]:
        return {"w": sum(train) - sum(test)}

    with modelver.track("parts", data={"raw": b"abcd"}) as run:
        train, test = split(b"abcd")
        run.save_model(fit(train, test))
    served, stop = serve_app(store_dir)
    try:
        data = served.json("/api/lineage/parts@0.1.0")
    finally:
        stop()
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    edges = {(labels[e["source"]], labels[e["target"]], e["label"], e["part"]) for e in data["edges"]}
    assert {
        ("raw", "split", "raw", ""),
        ("split", "fit", "train ← [0]", "0"),
        ("split", "fit", "test ← [1]", "1"),
        ("fit", "parts@0.1.0", "", ""),
    } == edges
    assert ["data", "step", "step", "version"] == sorted(n["kind"] for n in data["nodes"])


DIGESTS = st.sampled_from([f"blake3:{c * 64}" for c in "abcdef"])


@st.composite
def manifests_with_steps(draw: st.DrawFn) -> dict[str, Any]:
    """A manifest's JSON with random data entries and step records whose digests collide often."""
    data = draw(st.dictionaries(st.sampled_from(["train", "test", "extra"]), DIGESTS, max_size=3))
    steps = [
        {
            "name": f"s{i}",
            "step_version": f"blake3:{i:064x}",
            "code": "blake3:" + "0" * 64,
            "inputs": draw(st.dictionaries(st.sampled_from(["x", "y", "lr"]), DIGESTS, max_size=3)),
            "output": draw(st.none() | DIGESTS),
            "outputs": draw(st.dictionaries(st.sampled_from(["0", "1", "X"]), DIGESTS, max_size=2)),
            "cached": draw(st.booleans()),
            "started_at": "2026-11-29T16:00:00Z",
            "duration_s": 0.5,
        }
        for i in range(draw(st.integers(0, 6)))
    ]
    inputs = draw(st.lists(st.sampled_from(["base@blake3:" + "1" * 64, "emb@blake3:" + "2" * 64]), unique=True))
    return {
        "digest": "blake3:" + "9" * 64,
        "data": {label: {"uri": label, "digest": digest} for label, digest in data.items()},
        "lineage": {"steps": steps, "inputs": inputs},
    }


@given(manifest=manifests_with_steps())
def test_lineage_edges_follow_the_digests_and_the_layout_respects_them(manifest: dict[str, Any]) -> None:
    """Each step input has one edge, from the latest earlier step that output its digest (whole, or as a part:
    then the edge names the part, the whole output winning a tie), else the data entry with that digest, else a
    value node; every edge goes to a higher layer; rows in a layer are 0..n-1; and every node leads to the
    version."""
    graph = build_graph(manifest, "m@1.0.0")
    steps = manifest["lineage"]["steps"]
    data_ids = {}
    for label, entry in sorted(manifest["data"].items()):
        data_ids.setdefault(entry["digest"], f"data:{label}")
    for index, step in enumerate(steps):
        for arg, digest in step["inputs"].items():
            source, part = data_ids.get(digest, f"value:{digest}"), ""
            for i in range(index):  # the latest producer wins; within a step, the whole output, else its last part
                keys = [key for key, d in steps[i]["outputs"].items() if d == digest]
                if steps[i]["output"] == digest or keys:
                    source, part = f"step:{i}", "" if steps[i]["output"] == digest else keys[-1]
            label = f"{arg} ← [{part}]" if part else arg
            into = [(e.source, e.label, e.part) for e in graph.edges if e.target == f"step:{index}"]
            assert [(source, label, part)] == [edge for edge in into if edge[1].split(" ← ")[0] == arg]
    for edge in graph.edges:
        assert graph.positions[edge.source][0] < graph.positions[edge.target][0]
    for layer in {pos[0] for pos in graph.positions.values()}:
        rows = sorted(row for lay, row in graph.positions.values() if lay == layer)
        assert list(range(len(rows))) == rows
    reaches = {"version"}
    for _ in graph.nodes:
        reaches |= {e.source for e in graph.edges if e.target in reaches}
    assert {n.id for n in graph.nodes} == reaches


# ---------------------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/version/churn@9.9.9", 404, "churn@9.9.9 does not exist; nearest versions: 0.1.0, 0.1.1, 0.1.2"),
        ("/version/churn@canary", 404, "alias &#39;canary&#39; is not set for churn"),
        ("/name/chrun", 404, "no model named &#39;chrun&#39;"),
        ("/version/Bad Name!", 400, "Bad reference"),
        ("/compare?ref=churn@0.1.0&ref=churn@7.0.0", 404, "churn@7.0.0 does not exist"),
        ("/name/churn?page=two", 400, "page must be a whole number"),
        ("/no/such/page", 404, "no page at /no/such/page"),
    ],
)
def test_bad_requests_get_a_clear_page_and_status(ui: Served, path: str, status: int, message: str) -> None:
    """Unknown names, versions and aliases are 404, malformed references 400: a page that says what is wrong,
    never a traceback."""
    actual_status, html = ui.get(path.replace(" ", "%20"))
    assert (status, True) == (actual_status, message in html)
    assert "Traceback" not in html
    assert f'data-status="{status}"' in html


def test_api_errors_are_json(ui: Served) -> None:
    """The JSON API reports errors as JSON with the same statuses."""
    status, text = ui.get("/api/version/churn@9.9.9")
    body = json.loads(text)
    assert (404, "VersionNotFoundError") == (status, body["error"])
    assert "nearest versions" in body["message"]
    status, text = ui.get("/api/diff?a=churn@0.1.0")
    assert (400, "InvalidReferenceError") == (status, json.loads(text)["error"])


def _overwrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def test_a_corrupt_manifest_is_a_clear_500_page(store_copy: Path) -> None:
    """A manifest whose bytes no longer match its digest gives a 500 page naming the damage, not a traceback."""
    store = open_store(store_copy)
    tag = read_tag(store, "churn", "0.1.1")
    _overwrite(Path(store.manifest_path(tag.manifest)), b'{"name": "churn", "tampered": true}')
    served, stop = serve_app(store_copy)
    try:
        status, html = served.get("/version/churn@0.1.1")
        api_status, text = served.get("/api/version/churn@0.1.1")
        names_status, _ = served.get("/")
    finally:
        stop()
    assert (500, True, False) == (status, "is corrupt: expected " + tag.manifest in html, "Traceback" in html)
    assert (500, "IntegrityError") == (api_status, json.loads(text)["error"])
    assert 200 == names_status  # the names page reads no manifest


def test_a_corrupt_code_diff_spoils_only_its_section(store_copy: Path) -> None:
    """A damaged diff blob is reported inside the code section (the rest of the page still shows), and the raw
    diff endpoint answers 500."""
    store = open_store(store_copy)
    manifest = modelver.get("churn@0.1.0", store=store).manifest
    assert manifest.code.git is not None
    assert manifest.code.git.diff is not None
    _overwrite(Path(store.blob_path(manifest.code.git.diff)), b"not the diff")
    served, stop = serve_app(store_copy)
    try:
        status, html = served.get("/version/churn@0.1.0")
        diff_status, _ = served.get("/api/code-diff/churn@0.1.0")
    finally:
        stop()
    assert (200, 500) == (status, diff_status)
    assert '<p class="error">The diff cannot be shown: blob' in html
    assert 'data-artifact="model.json"' in html


def test_a_foreign_host_header_is_refused(ui: Served) -> None:
    """A request that names another host (a DNS-rebinding page) is refused by the loopback-only host check."""
    status, _, _ = ui.request("/api/names", headers={"Host": "attacker.example"})
    assert 400 == status


# ---------------------------------------------------------------------------------------------------------------
# Writing


def test_writes_are_refused_by_default(ui: Served, registry: Path) -> None:
    """Without --allow-write, promote over the API and the form is 403 and writes nothing."""
    before = modelver.history("churn", store=registry)
    status, body = ui.post_json("/api/promote", {"ref": "churn@0.1.0", "alias": "canary", "by": "mallory"})
    form_status, _ = ui.post_form("/action/promote", {"ref": "churn@0.1.0", "alias": "canary", "by": "mallory"})
    assert (403, "WriteDisabledError", 403) == (status, body["error"], form_status)
    assert before == modelver.history("churn", store=registry)


def test_promote_from_the_page_records_the_actor(writable_ui: Served, store_copy: Path) -> None:
    """With --allow-write, the promote form records who and why and redirects back to the page it came from."""
    status, location = writable_ui.post_form(
        "/action/promote",
        {"ref": "churn@0.1.1", "alias": "canary", "by": "dana", "reason": "shadow traffic", "back": "/version/x"},
    )
    assert (303, "/version/x") == (status, location)
    event = modelver.history("churn", alias="canary", store=store_copy)[-1]
    assert ("promote", "0.1.1", "dana", True, "shadow traffic") == (
        event.kind,
        event.version,
        event.by,
        event.explicit_by,
        event.reason,
    )
    status, html = writable_ui.get("/name/churn")
    assert '<form class="inline" method="post" action="/action/rollback">' in html


@pytest.mark.parametrize("back", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/", "javascript:x"])
def test_a_posted_back_link_never_leaves_the_ui(writable_ui: Served, back: str) -> None:
    """A "back" field naming another site (also spelt with a backslash, which browsers read as a slash) is ignored:
    the redirect goes to the name's own page."""
    status, location = writable_ui.post_form(
        "/action/promote", {"ref": "churn@0.1.1", "alias": "canary", "by": "dana", "back": back}
    )
    assert (303, "/name/churn") == (status, location)


def test_rollback_and_yank_over_the_api(writable_ui: Served, store_copy: Path) -> None:
    """The JSON API rolls production back to 0.1.1 and yanks 0.1.2, each event carrying the given actor."""
    status, body = writable_ui.post_json("/api/rollback", {"name": "churn", "alias": "production", "by": "erin"})
    assert (200, "0.1.1") == (status, body["aliases"]["production"]["version"])
    status, body = writable_ui.post_json("/api/yank", {"ref": "churn@0.1.2", "reason": "leaks labels", "by": "erin"})
    assert 200 == status
    kinds = [(e.kind, e.version, e.by) for e in modelver.history("churn", store=store_copy)[-2:]]
    assert [("rollback", "0.1.1", "erin"), ("yank", "0.1.2", "erin")] == kinds
    assert "0.1.1" == writable_ui.json("/api/names")["items"][0]["latest"]


def test_a_write_must_name_the_actor_and_come_from_the_page(writable_ui: Served, store_copy: Path) -> None:
    """An empty ``by`` is 400, a form posted from another origin 403, a form-encoded API call 400; none writes."""
    before = modelver.history("churn", store=store_copy)
    no_actor, _ = writable_ui.post_json("/api/promote", {"ref": "churn@0.1.0", "alias": "canary", "by": " "})
    cross_site, _ = writable_ui.post_form(
        "/action/promote",
        {"ref": "churn@0.1.0", "alias": "canary", "by": "mallory"},
        headers={"Origin": "http://attacker.example"},
    )
    form_to_api, _, _ = writable_ui.request(
        "/api/promote",
        method="POST",
        body=b"ref=churn@0.1.0&alias=canary&by=mallory",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (400, 403, 400) == (no_actor, cross_site, form_to_api)
    assert before == modelver.history("churn", store=store_copy)


def test_a_protected_alias_needs_its_approver(writable_ui: Served, store_copy: Path) -> None:
    """Promoting over a protected alias with an explicit actor works; the lifecycle rules stay the library's."""
    modelver.protect("churn", "production", by="lead", store=store_copy)
    status, body = writable_ui.post_json("/api/promote", {"ref": "churn@0.1.0", "alias": "production", "by": "lead"})
    assert (200, "0.1.0") == (status, body["aliases"]["production"]["version"])


# ---------------------------------------------------------------------------------------------------------------
# Documentation, assets, the command


def test_openapi_documents_every_api_route(ui: Served) -> None:
    """Every /api/ route of the app is in the OpenAPI document, and nothing else is."""
    document = ui.json("/api/openapi.json")
    app = create_app(os.devnull)
    routes = {
        re.sub(r"\{(\w+):\w+\}", r"{\1}", r.path)  # type: ignore[attr-defined]
        for r in app.routes
        if getattr(r, "path", "").startswith("/api/") and r.path != "/api/openapi.json"  # type: ignore[attr-defined]
    }
    assert routes == set(document["paths"])
    assert {p for p, *_ in API} == set(document["paths"])
    assert "3.1.0" == document["openapi"]


@pytest.mark.parametrize("path", ["/", "/name/churn", "/version/churn@0.1.2", "/lineage/churn@0.1.2", "/api"])
def test_pages_load_nothing_from_the_network(ui: Served, path: str) -> None:
    """No page references an absolute URL for a script, stylesheet or image: it works offline, and every asset
    it names is served."""
    status, html = ui.get(path)
    assert 200 == status
    assert [] == re.findall(r'(?:src|href)="(?:https?:)?//', html)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert 200 == ui.get(asset)[0]


def test_the_ui_command_serves_the_store(registry: Path) -> None:
    """``modelver ui --port 0`` prints its URL and serves the names page until stopped."""
    process = subprocess.Popen(
        [sys.executable, "-m", "modelver.cli", "--store", str(registry), "ui", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"modelver ui: (http://127\.0\.0\.1:\d+/)", line)
        assert match is not None, line + process.stderr.read() if process.stderr else line
        status, html = Served(match.group(1).rstrip("/")).get("/")
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert (200, True) == (status, 'data-name="churn"' in html)


def test_the_ui_command_without_its_extra_says_what_to_install(tmp_path: Path) -> None:
    """When Starlette is not importable the command fails with one line naming the extra to install."""
    blocker = tmp_path / "starlette"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('starlette is not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "modelver.cli", "ui"], capture_output=True, text=True, env=env, timeout=60
    )
    assert (1, True) == (result.returncode, "pip install 'modelver[ui]'" in result.stderr)
    assert "Traceback" not in result.stderr


def test_a_yank_without_a_reason_names_the_missing_field(writable_ui: Served, store_copy: Path) -> None:
    """POST /api/yank without "reason" is a 400 MissingFieldError naming the JSON field, not a bad reference; the
    version stays unyanked."""
    before = modelver.history("churn", store=store_copy)
    status, body = writable_ui.post_json("/api/yank", {"ref": "churn@0.1.2", "by": "erin"})
    assert (400, "MissingFieldError", "Missing field") == (status, body["error"], body["title"])
    assert ('"reason"' in body["message"], "--reason" in body["message"]) == (True, False)
    assert before == modelver.history("churn", store=store_copy)
