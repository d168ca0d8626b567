"""modelver.diff / `modelver diff`: facet by facet (modelver.registry.diff)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

import modelver
from modelver.registry.diff import Change, diff, diff_manifests, flatten
from modelver.registry.lifecycle import release
from modelver.serde import to_json_dict
from test_lifecycle import cli


def _two_versions(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("x\n1\n")
    with modelver.track("m", config={"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "old": 1}, data={"train": data}):
        pass
    with modelver.track("m", config={"lr": 0.1, "opt": {"name": "sgd", "beta": 0.9}}, data={"train": data}) as run:
        run.log_metrics({"acc": 0.5})
        run.save_model({"w": 1})
    data.write_text("x\n2\n")
    with modelver.track("m", config={"lr": 0.2, "opt": {"name": "sgd", "beta": 0.9}, "new": [1, 2]}) as run:
        run.log_data("train", data)
        run.log_data("test", data)
        run.log_metrics({"acc": 0.75, "loss": 0.1})
        run.save_model({"w": 2})


def test_config_data_metrics_artifacts(tmp_path: Path) -> None:
    """Dotted config paths, data per label, metric deltas, artifacts added and changed."""
    _two_versions(tmp_path)
    first = diff("m@0.1.0", "m@0.1.1")
    assert (Change("old", "removed", a=1), Change("opt.name", "changed", "adam", "sgd")) == first.config
    assert (Change("acc", "added", b=0.5),) == first.metrics
    assert ("model.json", "added") == (first.artifacts[0].key, first.artifacts[0].status)
    second = diff("m@0.1.1", "m@0.1.2")
    assert [("lr", "changed", 0.1, 0.2), ("new", "added", None, [1, 2])] == [
        (c.key, c.status, c.a, c.b) for c in second.config
    ]
    assert [("test", "added"), ("train", "changed")] == [(c.key, c.status) for c in second.data]
    assert [("acc", 0.25), ("loss", None)] == [(c.key, c.delta) for c in second.metrics]
    assert ["changed"] == [c.status for c in second.artifacts]
    assert {"wall_time_s"} <= {c.key for c in second.resources}
    assert not second.same_content


def test_packages_code_and_identical_content(tmp_path: Path) -> None:
    """Upgrades and downgrades by PEP 440, code fields and files; a release of a version differs in nothing."""
    with modelver.track("m") as run:
        run.save_model({"w": 1})
    a = modelver.get("m")
    env = attrs.evolve(a.manifest.environment, packages={"numpy": "1.26.0", "torch": "2.1.0", "gone": "1"})
    before = attrs.evolve(
        a,
        manifest=attrs.evolve(
            a.manifest,
            environment=env,
            code=modelver.manifest.CodeFacet(
                entrypoint="train.py", sources={"train.py": "blake3:1", "util.py": "blake3:2"}
            ),
        ),
    )
    env_b = attrs.evolve(env, packages={"numpy": "2.0.1", "torch": "2.0.0", "new": "3"})
    after = attrs.evolve(
        a,
        manifest=attrs.evolve(
            a.manifest,
            environment=env_b,
            code=modelver.manifest.CodeFacet(entrypoint="train.py", sources={"train.py": "blake3:9"}),
        ),
    )
    result = diff_manifests(before, after)
    packages = [(c.key, c.status) for c in result.environment if c.key.startswith("package:")]
    assert [
        ("package:gone", "removed"),
        ("package:new", "added"),
        ("package:numpy", "upgraded"),
        ("package:torch", "downgraded"),
    ] == packages
    assert [("source:train.py", "changed"), ("source:util.py", "removed")] == [(c.key, c.status) for c in result.code]
    release("m@0.1.0", version="1.0.0")
    same = diff("m@0.1.0", "m@1.0.0")
    assert (True, True) == (same.same_content, same.empty)


def test_flatten_keeps_dotted_keys_and_tagged_values_unambiguous() -> None:
    """Keys with dots are bracketed; tagged values and lists are leaves."""
    tagged = {"$type": "tuple", "items": [1]}
    assert {"a.b": 1, 'a["x.y"]': 2, "t": tagged, "l": [1]} == flatten({"a": {"b": 1, "x.y": 2}, "t": tagged, "l": [1]})


def test_cli_diff_table_and_complete_json(tmp_path: Path) -> None:
    """--json holds every facet; the table names the changed keys."""
    _two_versions(tmp_path)
    raw = cli("diff", "m@0.1.1", "m@0.1.2", "--json")
    assert 0 == raw.returncode, raw.stderr
    data = json.loads(raw.stdout)
    assert to_json_dict(diff("m@0.1.1", "m@0.1.2")) == data
    assert {"code", "environment", "config", "data", "metrics", "resources", "artifacts", "a", "b"} <= set(data)
    table = cli("diff", "m@0.1.1", "m@0.1.2").stdout
    assert "lr" in table
    assert "+0.25" in table
