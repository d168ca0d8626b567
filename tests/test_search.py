"""`modelver.search` and `modelver search`: the filter language, real runs, the derived index, concurrent processes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelver
from modelver.catalog.api import search_hits
from modelver.catalog.index import index_path, refresh
from modelver.catalog.query import Comparison, OrderTerm, parse_filter, parse_order_by
from modelver.store.objects import Store

CLI = [str(Path(sys.executable).parent / "modelver")]


@dataclasses.dataclass
class Optimizer:
    """A dataclass inside a config: searched field by field."""

    name: str
    lr: float


def publish(name: str, *, acc: float, lr: float, opt: str, data: Path | None = None, version: str | None = None) -> str:
    """Publish a real run through `modelver.track` and return its reference."""
    config = {"optimizer": Optimizer(opt, lr), "args": argparse.Namespace(epochs=3, shuffle=True)}
    with modelver.track(name, config=config, data={"train": data} if data else None, version=version) as run:
        run.log_metrics({"accuracy": acc})
    assert run.version is not None
    return run.version.ref


def refs(found: list[modelver.ModelVersion]) -> list[str]:
    """The references of search results."""
    return [v.ref for v in found]


# -- the language ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("metrics.acc >", 13, "expected a value"),
        ("metric.acc > 1", 0, "unknown field 'metric'"),
        ("metrics.acc > 1 AND", 19, "expected a field"),
        ("(config.lr = 1", 14, "expected ')'"),
        ("config.lr ~ 2", 10, "unexpected '~'"),
        ("config.lr = 'open", 12, "unexpected"),
        ("metrics.acc LIKE 3", 17, "LIKE needs a 'quoted pattern'"),
        ("config.lr = 1 config.x = 2", 14, "expected AND, OR"),
        ("name NOT = 'a'", 9, "expected IN, LIKE or ILIKE after NOT"),
        ("config. = 1", 8, "expected a key after '.'"),
    ],
)
def test_bad_filter_points_at_the_column(text: str, column: int, says: str) -> None:
    """A malformed filter raises InvalidQueryError (a ValueError) whose column is where the mistake starts."""
    with pytest.raises(modelver.InvalidQueryError) as info:
        parse_filter(text)
    assert column == info.value.column
    assert says in str(info.value)
    assert isinstance(info.value, ValueError)
    assert f"{text}\n{' ' * column}^" == info.value.caret()


def test_filter_parses_to_the_expected_tree() -> None:
    """Keywords are case-insensitive, `<>` is `!=`, back quotes hold unusual keys, IN takes mixed values."""
    expr = parse_filter("metrics.`val/loss` <> 1.5 and config.a.b in (1, 'x') OR name ilike 'CH%'")
    expected = "Or(parts=(And(parts=(Comparison(field='metrics.val/loss', op='!=', value=1.5, column=0), "
    expected += "Comparison(field='config.a.b', op='IN', value=(1, 'x'), column=30))), "
    expected += "Comparison(field='name', op='ILIKE', value='CH%', column=56)))"
    assert expected == repr(expr)
    assert (OrderTerm("metrics.acc", True), OrderTerm("created", False)) == parse_order_by(
        ["metrics.acc DESC", "created"]
    )
    assert Comparison("created", ">", "2026-11-01") == parse_filter("created > '2026-11-01'")


def test_order_by_refuses_multi_valued_fields_and_junk() -> None:
    """`alias` cannot be sorted on, and a term is `field [ASC|DESC]` only."""
    with pytest.raises(modelver.InvalidQueryError, match="cannot order by 'alias'"):
        parse_order_by("alias")
    with pytest.raises(modelver.InvalidQueryError) as info:
        parse_order_by("metrics.acc DOWN")
    assert 12 == info.value.column


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="metrics.acconfig =<>!'\"`()ANDORLIKEIN,0123456789-_%", max_size=40))
def test_any_text_parses_or_raises_invalid_query_with_a_column_inside_it(text: str) -> None:
    """The parser never fails with anything but InvalidQueryError, and the column is within the text."""
    error = None
    try:
        parse_filter(text)
    except modelver.InvalidQueryError as exc:
        error = exc
    if error is not None:
        assert 0 <= error.column <= len(text)
        assert text == error.query


# -- real runs ---------------------------------------------------------------------------------------------------


def test_search_real_runs_by_config_metrics_data_packages_alias_and_time(tmp_path: Path) -> None:
    """Versions published by `track` are found by nested config (dataclass and Namespace fields), metrics, a data
    digest prefix, an installed package, an alias and time; yanked versions only on request."""
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    a1 = publish("churn", acc=0.81, lr=0.1, opt="sgd", data=data)
    a2 = publish("churn", acc=0.93, lr=0.001, opt="adam")
    b1 = publish("fraud", acc=0.97, lr=0.005, opt="adam", data=data)
    b2 = publish("fraud", acc=0.99, lr=0.05, opt="adam")

    assert [b1, a2] == refs(modelver.search("config.optimizer.lr < 0.01", order_by=["metrics.accuracy DESC"]))
    assert [b2] == refs(
        modelver.search(
            "config.optimizer.name = 'adam' AND config.args.epochs >= 3", limit=1, order_by="metrics.accuracy DESC"
        )
    )
    assert [a1, a2, b1, b2] == refs(modelver.search("config.args.shuffle = true"))
    digest = modelver.get(a1).manifest.data["train"].digest
    assert [a1, b1] == refs(modelver.search(f"data.train = '{digest.split(':')[1][:12]}'"))
    assert [a1, b1] == refs(modelver.search(f"data = '{digest}'"))
    assert 4 == len(modelver.search("packages.attrs LIKE '%.%'"))
    assert [] == modelver.search("packages.no-such-package LIKE '%'")
    assert [a1, a2, b1, b2] == refs(modelver.search("created > '2000-01-01'"))
    assert [] == modelver.search("config.optimizer.lr = '0.1'")  # a string never equals a number

    modelver.promote(b1, "production")
    assert [b1] == refs(modelver.search("alias = 'production'"))
    modelver.yank(b2, reason="leaked test data")
    assert [a2, b1] == refs(modelver.search("metrics.accuracy > 0.9"))
    assert [a2, b1, b2] == refs(modelver.search("metrics.accuracy > 0.9", include_yanked=True))
    assert [b1] == refs(modelver.search("metrics.accuracy > 0.9", names="fraud"))
    found = modelver.search("name = 'fraud'")[0]
    assert found.manifest.metrics == {"accuracy": 0.97}


def test_index_is_derived_incremental_and_rebuildable() -> None:
    """A refresh reads only new tags and events; deleting the index gives the same answers."""
    store = modelver.Store(os.environ["MODELVER_STORE"])
    for acc in (0.5, 0.6, 0.7):
        publish("m", acc=acc, lr=0.1, opt="sgd")
    first = refresh(store)
    assert (3, 3, 0) == (first.listed, first.added, first.events)
    assert (3, 0, 0) == (refresh(store).listed, refresh(store).added, refresh(store).events)
    publish("m", acc=0.8, lr=0.1, opt="sgd")
    modelver.promote("m@0.1.0", "staging")
    later = refresh(store)
    assert (4, 1, 1) == (later.listed, later.added, later.events)
    before = search_hits("metrics.accuracy >= 0.6 OR alias = 'staging'", order_by="metrics.accuracy DESC")
    index_path(store).unlink()
    assert before == search_hits("metrics.accuracy >= 0.6 OR alias = 'staging'", order_by="metrics.accuracy DESC")
    assert ["m@0.1.3", "m@0.1.2", "m@0.1.1", "m@0.1.0"] == [h.ref for h in before]


def test_concurrent_processes_publish_refresh_and_query(tmp_path: Path) -> None:
    """Four real processes publishing and searching at once all succeed, and the final answer holds every version."""
    script = tmp_path / "worker.py"
    script.write_text(
        "import sys, modelver\n"
        "from modelver.catalog.api import search_hits\n"
        "worker = int(sys.argv[1])\n"
        "for i in range(5):\n"
        "    with modelver.track(f'w{worker}', config={'i': i}) as run:\n"
        "        run.log_metrics({'score': worker * 10 + i})\n"
        "    hits = search_hits('metrics.score >= 0', order_by='metrics.score DESC')\n"
        "    assert f'w{worker}@{run.version.version}' in [h.ref for h in hits], hits\n"
    )
    procs = [
        subprocess.Popen([sys.executable, str(script), str(w)], stderr=subprocess.PIPE, text=True) for w in range(4)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [0, 0, 0, 0] == [p.returncode for p in procs], errors
    scores = [h.ref for h in search_hits("metrics.score >= 0", order_by="metrics.score DESC")]
    assert [f"w{w}@0.1.{i}" for w in (3, 2, 1, 0) for i in (4, 3, 2, 1, 0)] == scores


# -- the command line --------------------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``modelver ARGS`` as a real subprocess."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=dict(os.environ))


def test_cli_search_and_list_filter() -> None:
    """`modelver search` prints JSON with the ordered fields; `list --filter --order-by` uses the same engine; a
    bad filter prints the message and a caret under the mistake, exit 1."""
    for acc, lr in ((0.8, 0.1), (0.9, 0.001), (0.7, 0.002)):
        publish("churn", acc=acc, lr=lr, opt="adam")
    done = cli("search", "config.optimizer.lr < 0.01", "--order-by", "metrics.accuracy DESC", "--json")
    assert 0 == done.returncode, done.stderr
    rows = json.loads(done.stdout)
    assert [("0.1.1", 0.9), ("0.1.2", 0.7)] == [(r["version"], r["fields"]["metrics.accuracy"]) for r in rows]

    listed = cli("list", "churn", "--filter", "metrics.accuracy > 0.75", "--order-by", "metrics.accuracy", "--json")
    assert 0 == listed.returncode, listed.stderr
    assert ["0.1.0", "0.1.1"] == [r["version"] for r in json.loads(listed.stdout)]

    bad = cli("search", "metrics.accuracy >> 1")
    assert 1 == bad.returncode
    assert "  metrics.accuracy >> 1\n  " + " " * 18 + "^" in bad.stderr
    assert "expected a value" in bad.stderr


def test_search_store_argument_and_empty_store(tmp_path: Path) -> None:
    """An empty store gives no versions (not an error); a negative limit is an InvalidQueryError."""
    store = Store(tmp_path / "empty")
    assert [] == modelver.search("metrics.acc > 0", store=store)
    with pytest.raises(modelver.InvalidQueryError, match="limit must be"):
        modelver.search(limit=-1, store=store)


# -- labels and descriptions -------------------------------------------------------------------------------------


def test_labels_and_descriptions_are_events_that_search_sees_latest_wins() -> None:
    """`label`, `unlabel` and `describe` write events (in the history, with who) that search sees at once; on the same
    key the latest event wins; a bad key is refused before anything is written."""
    a = publish("churn", acc=0.8, lr=0.1, opt="sgd")
    b = publish("churn", acc=0.9, lr=0.1, opt="sgd")
    assert [] == modelver.search("labels.team = 'risk'")  # builds the index before the labels exist
    modelver.label(a, {"team": "risk", "stage": "pilot"}, by="alice")
    modelver.label(b, {"team": "growth"})
    modelver.label(a, {"stage": "prod"})
    modelver.describe(b, "retrained on November data")
    assert [a] == refs(modelver.search("labels.team = 'risk' AND labels.stage = 'prod'"))
    assert [b, a] == refs(modelver.search("labels.team LIKE '%'", order_by="labels.team"))
    assert [b] == refs(modelver.search("description ILIKE '%november%'"))
    modelver.unlabel(a, "team")
    assert [b] == refs(modelver.search("labels.team LIKE '%'"))
    kinds = [(e.kind, e.by, e.version) for e in modelver.history("churn")]
    assert ("label", "alice", "0.1.0") == kinds[0]
    assert 5 == len(kinds)
    with pytest.raises(modelver.InvalidLabelError, match="not allowed"):
        modelver.label(a, {"bad key": "x"})
    assert 5 == len(modelver.history("churn"))
    index_path(modelver.Store(os.environ["MODELVER_STORE"])).unlink()
    assert [a] == refs(modelver.search("labels.stage = 'prod'"))  # rebuilt from the store alone


def test_cli_label_unlabel_describe() -> None:
    """The label commands change what `modelver search` finds; a pair without '=' is refused with exit 1."""
    ref = publish("churn", acc=0.8, lr=0.1, opt="sgd")
    assert 0 == cli("label", ref, "team=risk", "tier=1").returncode
    assert 0 == cli("describe", ref, "first model").returncode
    found = json.loads(cli("search", "labels.tier = '1' AND description = 'first model'", "--json").stdout)
    assert [ref] == [f"{r['name']}@{r['version']}" for r in found]
    assert 0 == cli("unlabel", ref, "tier").returncode
    assert [] == json.loads(cli("search", "labels.tier = '1'", "--json").stdout)
    bad = cli("label", ref, "team")
    assert 1 == bad.returncode
    assert "is not KEY=VALUE" in bad.stderr


def test_a_cached_local_listing_never_hides_a_new_tag(store_dir: Path) -> None:
    """A `versions` directory whose listing is reused (mtime unchanged and old) still shows a tag made after it:
    creating the tag moves the directory's mtime, so the next refresh lists it again."""
    store = modelver.Store(store_dir)
    publish("m", acc=0.5, lr=0.1, opt="sgd")
    versions_dir = store_dir / "names" / "m" / "versions"
    os.utime(versions_dir, ns=(1_000_000_000, 1_000_000_000))  # long ago: the listing below may be reused
    assert 1 == refresh(store).added
    assert 0 == refresh(store).added  # served from the stored listing
    publish("m", acc=0.6, lr=0.1, opt="sgd")
    assert 1 == refresh(store).added
    assert ["m@0.1.0", "m@0.1.1"] == [h.ref for h in search_hits()]
