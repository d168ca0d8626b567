"""CLI commands about pipeline steps: ``modelver lineage``, ``modelver steps``, ``modelver used-by``."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.tree import Tree

from modelver.catalog.lineage import used_by
from modelver.cli.common import console, print_json
from modelver.manifest import Manifest, StepRecord
from modelver.registry.model_version import get
from modelver.serde import to_json_dict
from modelver.steps.calls import read_calls
from modelver.steps.explain import explain_step
from modelver.steps.layout import step_names


def lineage_edges(manifest: Manifest) -> list[dict[str, str | None]]:
    """The lineage graph's edges, derived from digests (docs/steps.md).

    Returns:
        ``{"from": source, "to": "step:<index>", "input": argument, "part": part}`` for every step input, where the
        source is ``"step:<index>"`` of the latest earlier step whose output, or one of whose ``outputs`` (the parts
        of a returned tuple, list or dict), has that digest, else ``"data:<label>"`` of the data entry with that
        digest, else ``"external:<digest>"``. ``part`` is the key of that part (``"0"`` for ``train`` in
        ``train, test = split(...)``), or ``None`` when the input is a step's whole output or not a step's.
    """
    data = {entry.digest: label for label, entry in sorted(manifest.data.items())}
    produced: dict[str, tuple[int, str | None]] = {}  # digest -> (latest step that produced it, part key)
    edges: list[dict[str, str | None]] = []
    for index, step in enumerate(manifest.lineage.steps):
        for arg, digest in sorted(step.inputs.items()):
            part = None
            if digest in produced:
                producer, part = produced[digest]
                source = f"step:{producer}"
            elif digest in data:
                source = f"data:{data[digest]}"
            else:
                source = f"external:{digest}"
            edges.append({"from": source, "to": f"step:{index}", "input": arg, "part": part})
        for key, digest in step.outputs.items():
            produced[digest] = (index, key)
        if step.output is not None:  # after the parts: the whole output wins a tie within one step
            produced[step.output] = (index, None)
    return edges


def _step_label(step: StepRecord, part: str | None = None) -> str:
    how = "reused" if step.cached else "ran"
    name = step.name if part is None else f"{step.name}[{part}]"
    return f"[bold]{escape(name)}[/bold] ({how}, {step.duration_s:.3f} s) {step.step_version[:19]}"


@click.command(name="lineage")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the steps, data and the derived edges as JSON.")
@click.pass_obj
def lineage_cmd(store: str | None, ref: str, as_json: bool) -> None:
    """Show what version REF was built from: its pipeline steps, data and loaded versions, as a tree."""
    version = get(ref, store=store)
    manifest = version.manifest
    steps = manifest.lineage.steps
    edges = lineage_edges(manifest)
    if as_json:
        print_json(
            {
                "ref": version.ref,
                "digest": version.digest,
                "steps": [to_json_dict(step) for step in steps],
                "data": {label: entry.digest for label, entry in manifest.data.items()},
                "inputs": list(manifest.lineage.inputs),
                "edges": edges,
            }
        )
        return
    into: dict[int, list[dict[str, str | None]]] = {}
    consumed: set[str] = set()
    for edge in edges:
        into.setdefault(int(str(edge["to"]).partition(":")[2]), []).append(edge)
        consumed.add(str(edge["from"]))
    tree = Tree(f"[bold]{escape(version.ref)}[/bold] {version.digest[:19]}")
    shown: set[int] = set()

    def add(node: Tree, index: int, prefix: str = "", part: str | None = None) -> None:
        label = prefix + _step_label(steps[index], part) + (" (shown above)" if index in shown else "")
        branch = node.add(label)
        if index in shown:
            return
        shown.add(index)
        for edge in into.get(index, []):
            kind, _, what = str(edge["from"]).partition(":")
            arg = escape(str(edge["input"]))
            if kind == "step":
                add(branch, int(what), f"{arg} ← step ", edge["part"])
            elif kind == "data":
                entry = manifest.data[what]
                branch.add(f"{arg} ← data {escape(repr(what))} {escape(entry.uri)} {entry.digest[:19]}")
            else:
                branch.add(f"{arg} ← {what[:19]} (not logged as data)")

    for index in range(len(steps)):
        if f"step:{index}" not in consumed:  # the last steps: what the version was built from
            add(tree, index)
    read = {digest for step in steps for digest in step.inputs.values()}
    for label, entry in manifest.data.items():
        if not any(edge["from"] == f"data:{label}" for edge in edges):
            # A step read these bytes but they are drawn as a step's output above (the producing step wins).
            note = "the same bytes as a step output above" if entry.digest in read else "no step read it"
            tree.add(f"data {escape(repr(label))} {escape(entry.uri)} {entry.digest[:19]} ({note})")
    for loaded in manifest.lineage.inputs:
        tree.add(f"loaded version {escape(loaded)}")
    if not steps and not manifest.data and not manifest.lineage.inputs:
        tree.add("no steps, data or loaded versions were recorded")
    console.print(tree)


@click.group(name="steps")
def steps_group() -> None:
    """Pipeline steps recorded by @modelver.versioned."""


@steps_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def steps_list(store: str | None, as_json: bool) -> None:
    """List the steps with recorded calls, with their number of calls and the last one."""
    rows: list[dict[str, Any]] = []
    for name in step_names(store):
        calls = read_calls(name, store)
        last = calls[-1] if calls else None
        rows.append(
            {
                "name": name,
                "calls": len(calls),
                "last_call": last.started_at if last else None,
                "last_cached": last.cached if last else None,
                "step_version": last.step_version if last else None,
            }
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no step calls recorded")
    for row in rows:
        how = "reused" if row["last_cached"] else "ran"
        console.print(f"{row['name']}: {row['calls']} call(s), last {row['last_call']} ({how})", markup=False)


@steps_group.command(name="explain")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def steps_explain(store: str | None, name: str, as_json: bool) -> None:
    """Say why the last call of step NAME ran or was reused, and which input, function or package changed."""
    explanation = explain_step(name, store=store)
    if as_json:
        print_json(to_json_dict(explanation))
        return
    for line in explanation.lines():
        console.print(line, markup=False)


@click.command(name="used-by")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def used_by_cmd(store: str | None, target: str, as_json: bool) -> None:
    """Which versions and step versions used TARGET: a data/output/step-version digest (or an 8+ hex digit prefix
    of one), a file, directory or fsspec URL (fingerprinted first), or a version reference name[@spec]. Answered
    from the search index, transitively through steps and through versions that loaded a version found."""
    found = used_by(target, store=store)
    if as_json:
        print_json([to_json_dict(usage) for usage in found])
        return
    if not found:
        console.print(f"nothing in the store used {target}", markup=False)
    for usage in found:
        console.print(f"{usage.kind} {usage.ref} ({usage.digest[:19]}): {usage.role}", markup=False)


def register(group: click.Group) -> None:
    """Add the step commands to the ``modelver`` group."""
    group.add_command(lineage_cmd)
    group.add_command(steps_group)
    group.add_command(used_by_cmd)
