"""`modelver.search` against a brute-force filter over every manifest: random versions, filters, order and limit."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelver
from modelver.catalog.api import search_hits
from modelver.manifest import CreatedBy, Manifest
from modelver.registry.resolution import VersionTag
from modelver.registry.semver import SemVer
from modelver.serde import canonical_json, to_json_dict
from modelver.store.objects import Store

BY = CreatedBy("tester", "host")
NAMES = ("alpha", "beta", "ns/gamma")
TEXT = st.text(alphabet="abAB%_", max_size=3)
NUMBER = st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False, allow_infinity=False))
SCALAR = st.one_of(NUMBER, TEXT)


def put_version(store: Store, name: str, version: str, created: str, metrics: dict[str, Any], config: Any) -> None:
    """Publish a manifest-only version the way a run does: manifest first, then the tag (create-if-absent)."""
    manifest = Manifest(name=name, created_at=created, created_by=BY, run_id=uuid.uuid4().hex, metrics=metrics)
    body = to_json_dict(manifest)
    body["config"] = config
    del body["version"], body["digest"]
    digest = store.put_manifest(canonical_json(body))
    store.create_tag(name, version, VersionTag(name, version, digest, created, BY, metrics=metrics).to_bytes())


@st.composite
def versions(draw: st.DrawFn) -> dict[str, Any]:
    """One random version: name, created time, metrics and a nested config, each key possibly missing."""
    metrics = draw(st.dictionaries(st.sampled_from(["acc", "loss"]), NUMBER))
    config: dict[str, Any] = draw(st.dictionaries(st.sampled_from(["lr", "seed"]), SCALAR))
    opt = draw(st.dictionaries(st.sampled_from(["name", "beta"]), st.one_of(SCALAR, st.booleans())))
    if opt:
        config["opt"] = opt
    return {
        "name": draw(st.sampled_from(NAMES)),
        "created": f"2026-11-{draw(st.integers(1, 9)):02d}T00:00:00Z",
        "metrics": metrics,
        "config": config,
        "yanked": draw(st.booleans()),
    }


FIELDS = ["metrics.acc", "metrics.loss", "config.lr", "config.seed", "config.opt.name", "config.opt.beta", "name"]
ORDERABLE = [*FIELDS, "created"]


def literal(value: Any) -> str:
    """A value as filter text."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


@st.composite
def comparisons(draw: st.DrawFn) -> tuple[str, Any]:
    """A comparison as (filter text, structured form for the brute force)."""
    field = draw(st.sampled_from([*FIELDS, "created"]))
    op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "NOT LIKE", "IN", "NOT IN"]))
    if op in ("LIKE", "ILIKE", "NOT LIKE"):
        value: Any = draw(TEXT)
    elif op in ("IN", "NOT IN"):
        value = tuple(draw(st.lists(SCALAR, min_size=1, max_size=3)))
        return f"{field} {op} ({', '.join(literal(v) for v in value)})", ("cmp", field, op, value)
    elif field == "created":
        value = f"2026-11-{draw(st.integers(1, 9)):02d}"
    elif field == "name":
        value = draw(st.sampled_from(NAMES))
    else:
        value = draw(st.one_of(SCALAR, st.sampled_from(["true", "false"])))
    return f"{field} {op} {literal(value)}", ("cmp", field, op, value)


filters = st.recursive(
    comparisons(),
    lambda inner: st.tuples(st.sampled_from(["AND", "OR"]), st.lists(inner, min_size=2, max_size=3)).map(
        lambda t: ("(" + f" {t[0]} ".join(p[0] for p in t[1]) + ")", (t[0], [p[1] for p in t[1]]))
    ),
    max_leaves=4,
)


def like(text: str, pattern: str) -> bool:
    """SQL LIKE by recursion over the pattern (independent of the implementation's regular expression)."""
    if not pattern:
        return not text
    head, rest = pattern[0], pattern[1:]
    if head == "%":
        return any(like(text[i:], rest) for i in range(len(text) + 1))
    return bool(text) and (head == "_" or head == text[0]) and like(text[1:], rest)


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """The record's fields as the search sees them (booleans as 'true'/'false')."""
    out: dict[str, Any] = {"name": record["name"], "created": record["created"]}
    out.update({f"metrics.{k}": v for k, v in record["metrics"].items()})
    for key, value in record["config"].items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                out[f"config.{key}.{sub}"] = ("true" if inner else "false") if isinstance(inner, bool) else inner
        else:
            out[f"config.{key}"] = value
    return out


def same_type(a: Any, b: Any) -> bool:
    """Numbers compare with numbers, strings with strings."""
    return isinstance(a, str) == isinstance(b, str)


def matches(node: Any, fields: dict[str, Any]) -> bool:
    """The brute-force evaluation of a filter."""
    if node[0] == "AND":
        return all(matches(part, fields) for part in node[1])
    if node[0] == "OR":
        return any(matches(part, fields) for part in node[1])
    _, field, op, value = node
    if field not in fields:
        return False
    have = fields[field]
    if op in ("IN", "NOT IN"):
        typed = [v for v in value if same_type(v, have)]
        if not typed:
            return False
        return (have in typed) == (op == "IN")
    if op in ("LIKE", "NOT LIKE", "ILIKE"):
        if not isinstance(have, str):
            return False
        if op == "ILIKE":
            return like(have.lower(), value.lower())
        return like(have, value) == (op == "LIKE")
    if not same_type(have, value):
        return False
    return {
        "=": have == value,
        "!=": have != value,
        "<": have < value,
        "<=": have <= value,
        ">": have > value,
        ">=": have >= value,
    }[op]


def brute_force(
    records: list[dict[str, Any]], node: Any, order: list[tuple[str, bool]], limit: int | None, yanked: bool
) -> list[str]:
    """Filter, order (missing last, numbers before strings, then name and version order) and limit, in Python."""
    chosen = [r for r in records if (yanked or not r["yanked"]) and (node is None or matches(node, flat(r)))]

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        fa, fb = flat(a), flat(b)
        for field, descending in order:
            ka = (2,) if field not in fa else (1 if isinstance(fa[field], str) else 0,)
            kb = (2,) if field not in fb else (1 if isinstance(fb[field], str) else 0,)
            if ka != kb:
                return -1 if ka < kb else 1
            if ka == (2,) or fa[field] == fb[field]:
                continue
            less = fa[field] < fb[field]
            return (1 if less else -1) if descending else (-1 if less else 1)
        ta = (a["name"], SemVer.parse(a["version"]).sort_key())
        tb = (b["name"], SemVer.parse(b["version"]).sort_key())
        return -1 if ta < tb else 1 if ta > tb else 0

    chosen.sort(key=functools.cmp_to_key(compare))
    return [f"{r['name']}@{r['version']}" for r in chosen[:limit]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(versions(), max_size=10),
    split=st.integers(0, 10),
    query=st.one_of(st.none(), filters),
    order=st.lists(st.tuples(st.sampled_from(ORDERABLE), st.booleans()), max_size=2),
    limit=st.one_of(st.none(), st.integers(0, 6)),
    include_yanked=st.booleans(),
)
def test_search_equals_brute_force(
    records: list[dict[str, Any]],
    split: int,
    query: tuple[str, Any] | None,
    order: list[tuple[str, bool]],
    limit: int | None,
    include_yanked: bool,
) -> None:
    """Whatever the versions and the filter, `search` returns what a brute-force scan returns, in the same order,
    both from an index refreshed incrementally (built after some versions, refreshed after the rest and the yanks)
    and from the same store read again after the index file is deleted."""
    store = Store(f"memory://search-{uuid.uuid4().hex}")
    store.initialize()
    counters: dict[str, int] = {}
    for record in records:
        counters[record["name"]] = counters.get(record["name"], 0) + 1
        record["version"] = f"1.{5 * counters[record['name']]}.0"  # 1.10.0 sorts after 1.5.0
    text = None if query is None else query[0]
    node = None if query is None else query[1]
    order_by = [f"{field} {'DESC' if descending else 'ASC'}" for field, descending in order]
    for record in records[:split]:
        put_version(store, record["name"], record["version"], record["created"], record["metrics"], record["config"])
    search_hits(text, order_by=order_by, limit=limit, include_yanked=include_yanked, store=store)  # builds the index
    for record in records[split:]:
        put_version(store, record["name"], record["version"], record["created"], record["metrics"], record["config"])
    for record in records:
        if record["yanked"]:
            modelver.yank(f"{record['name']}@{record['version']}", reason="test", store=store)

    expected = brute_force(records, node, order, limit, include_yanked)
    incremental = search_hits(text, order_by=order_by, limit=limit, include_yanked=include_yanked, store=store)
    assert expected == [hit.ref for hit in incremental]
    from modelver.catalog.index import index_path

    index_path(store).unlink()
    rebuilt = search_hits(text, order_by=order_by, limit=limit, include_yanked=include_yanked, store=store)
    assert expected == [hit.ref for hit in rebuilt]
