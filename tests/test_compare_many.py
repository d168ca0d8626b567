"""Many-way diff: `modelver.diff(a, b, c, ...)` and `modelver diff A B C ...` as one table, a column per version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelver
from modelver.registry.compare import TableRow, compare_versions

CLI = [str(Path(sys.executable).parent / "modelver")]


def publish(name: str, acc: float, lr: float) -> str:
    """Publish a real run with a nested config and one metric."""
    with modelver.track(name, config={"opt": {"lr": lr, "name": "adam"}, "epochs": 3}) as run:
        run.log_metrics({"accuracy": acc})
    assert run.version is not None
    return run.version.ref


def test_diff_of_three_versions_is_one_table_of_the_rows_that_differ() -> None:
    """Three versions give one row per differing field with a value per version; equal fields only with all_rows;
    a version of another name can be a column too."""
    a = publish("churn", 0.8, 0.1)
    b = publish("churn", 0.9, 0.01)
    c = publish("fraud", 0.7, 0.01)
    table = modelver.diff(a, b, c)
    assert (a, b, c) == table.refs
    assert (TableRow("metrics", "accuracy", (0.8, 0.9, 0.7)),) == table.facet("metrics")
    assert (TableRow("config", "opt.lr", (0.1, 0.01, 0.01)),) == table.facet("config")
    full = compare_versions([a, b, c], facets=["config"], all_rows=True)
    assert ["epochs", "opt.lr", "opt.name"] == [row.key for row in full.rows]
    with pytest.raises(modelver.InvalidReferenceError, match="unknown facet"):
        compare_versions([a, b], facets=["metric"])


def test_cli_diff_many_json_and_metrics_only() -> None:
    """`modelver diff A B C --json` prints the table; `--metrics` narrows it and works with two versions."""
    refs = [publish("churn", acc, lr) for acc, lr in ((0.8, 0.1), (0.9, 0.01), (0.95, 0.01))]
    env = dict(os.environ)
    done = subprocess.run([*CLI, "diff", *refs, "--json"], capture_output=True, text=True, env=env)
    assert 0 == done.returncode, done.stderr
    rows = {(r["facet"], r["key"]): r["values"] for r in json.loads(done.stdout)["rows"]}
    assert [0.8, 0.9, 0.95] == rows[("metrics", "accuracy")]
    shown = subprocess.run([*CLI, "diff", refs[1], refs[2], "--metrics"], capture_output=True, text=True, env=env)
    assert 0 == shown.returncode, shown.stderr
    assert "accuracy" in shown.stdout
    assert "opt.lr" not in shown.stdout
    one = subprocess.run([*CLI, "diff", refs[0]], capture_output=True, text=True, env=env)
    assert 2 == one.returncode
    assert "at least two versions" in one.stderr
