"""The lineage of a version as a graph: pipeline steps, data, loaded versions, and the version itself.

Built from the manifest's JSON form (``to_json_dict(manifest)``) only, so it does not depend on the Python class
of a step record. A step record holds ``name``, ``step_version``, ``code``, ``inputs`` (argument name to the
fingerprint digest of the value passed), ``output`` (fingerprint digest, or ``None``), ``outputs`` (part key to the
digest of each part of a returned tuple, list or dict; missing in older manifests), ``cached``, ``started_at`` and
``duration_s``. The edges follow digests:

- step B depends on step A when one of B's input digests equals A's output digest, or one of A's ``outputs``, and A
  was recorded before B (a step can only consume what already exists, which also keeps the graph acyclic whatever
  the records say); when several earlier steps produced that digest, the latest one is the source. Each input is
  one edge, so a step fed two parts of A's output gets two edges from A, each labelled with its argument and the
  part (``train ← [0]``);
- an input digest equal to ``manifest.data[label].digest`` links the data node ``label`` to the step;
- any other input digest becomes one "value" node per digest (a value the run did not log as data, such as a
  hyperparameter), named after the first argument it was passed as, with its value (``lr = 0.1``) when the step
  record kept it (``values``: small scalars only, never secret-looking arguments);
- steps whose output no later step consumes, data no step consumed, and versions loaded during the run
  (``lineage.inputs``) point at the version node.

The layout is layered (the Sugiyama family's first two stages, kept simple): a node's layer is the length of the
longest path reaching it, except that a node with no predecessor sits one layer before its nearest consumer; every
edge goes from a lower to a higher layer; within a layer nodes are ordered by the
mean position of their predecessors, then by id, so the drawing is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = ["Edge", "LineageGraph", "Node", "build_graph", "layout"]

VERSION_NODE = "version"


@attrs.frozen
class Node:
    """One node of the lineage graph.

    Attributes:
        id: unique within the graph: ``"step:<index>"``, ``"data:<label>"``, ``"input:<ref>"``, ``"value:<digest>"``
            or ``"version"``.
        kind: ``"step"``, ``"data"``, ``"input"`` (a version loaded during the run), ``"value"`` or ``"version"``.
        label: what to print on the node.
        detail: a longer description (digests, timing), shown on hover.
        ref: for ``input`` and ``version`` nodes, the reference to open (``name@digest`` or ``name@version``).
        step: for step nodes, the index of the step record.
    """

    id: str
    kind: str
    label: str
    detail: str = ""
    ref: str | None = None
    step: int | None = None


@attrs.frozen
class Edge:
    """A dependency ``source -> target``.

    Attributes:
        source: the id of the node the value comes from.
        target: the id of the node it goes to.
        label: the step argument it feeds, followed by ``← [part]`` when the value is a part of the source step's
            output (empty for edges into the version).
        part: that part's key (``"0"``, ``"1"``... or a dict key), or ``""`` for anything else.
    """

    source: str
    target: str
    label: str = ""
    part: str = ""


@attrs.frozen
class LineageGraph:
    """Nodes and edges of a version's lineage, plus each node's layout position.

    Attributes:
        nodes: every node, in layout order (layer, then position in the layer).
        edges: every edge.
        positions: node id to ``(layer, index in layer)``.
    """

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    positions: dict[str, tuple[int, int]]


def _short(digest: str | None) -> str:
    return "" if not digest else digest[:19] + "…"


def _step_node(index: int, record: Mapping[str, Any]) -> Node:
    label = str(record.get("name", f"step {index}"))
    parts = [f"step version {_short(record.get('step_version'))}"] if record.get("step_version") else []
    parts.append(f"output {_short(record.get('output'))}" if record.get("output") else "no output")
    if record.get("cached"):
        parts.append("cached")
    if isinstance(record.get("duration_s"), int | float):
        parts.append(f"{record['duration_s']:.3g} s")
    if record.get("started_at"):
        parts.append(f"started {record['started_at']}")
    return Node(f"step:{index}", "step", label, ", ".join(parts), step=index)


def build_graph(manifest: Mapping[str, Any], ref: str) -> LineageGraph:
    """The lineage graph of one manifest (module docstring for the rules).

    Args:
        manifest: the manifest's JSON form (``to_json_dict(manifest)``); ``lineage.steps`` may be missing or empty.
        ref: ``name@version`` of the version itself (the label and link of the version node).

    Returns:
        The graph, laid out (see :func:`layout`).
    """
    lineage = manifest.get("lineage") or {}
    steps: Sequence[Mapping[str, Any]] = [s for s in lineage.get("steps") or () if isinstance(s, Mapping)]
    data: Mapping[str, Any] = manifest.get("data") or {}
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    data_by_digest: dict[str, str] = {}
    for label, entry in sorted(data.items()):
        digest = str(entry.get("digest", "")) if isinstance(entry, Mapping) else ""
        nodes[f"data:{label}"] = Node(f"data:{label}", "data", label, f"{entry.get('uri', '')} {_short(digest)}")
        data_by_digest.setdefault(digest, f"data:{label}")
    consumed: set[str] = set()
    produced: dict[str, tuple[str, str]] = {}  # digest -> (id of the latest step that produced it so far, part)
    for index, record in enumerate(steps):
        node = _step_node(index, record)
        nodes[node.id] = node
        inputs = record.get("inputs") or {}
        for arg, digest in sorted(inputs.items()) if isinstance(inputs, Mapping) else ():
            if not isinstance(digest, str):
                continue
            source, part = produced.get(digest) or (data_by_digest.get(digest), "")
            if source is None:
                # A value the run did not log as data (a hyperparameter, an intermediate object): one node per digest,
                # named after the first argument that received it.
                source = f"value:{digest}"
                values = record.get("values")
                shown = values.get(arg) if isinstance(values, Mapping) else None
                label = f"{arg} = {shown}" if isinstance(shown, str) else str(arg)
                nodes.setdefault(source, Node(source, "value", label, f"not logged as data: {digest}"))
            edges.append(Edge(source, node.id, f"{arg} ← [{part}]" if part else str(arg), part))
            consumed.add(source)
        outputs = record.get("outputs")
        for key, digest in outputs.items() if isinstance(outputs, Mapping) else ():
            if isinstance(digest, str) and digest:
                produced[digest] = (node.id, str(key))
        output = record.get("output")
        if isinstance(output, str) and output:  # after the parts: the whole output wins a tie within one step
            produced[output] = (node.id, "")
    nodes[VERSION_NODE] = Node(VERSION_NODE, "version", ref, str(manifest.get("digest") or ""), ref=ref)
    for node_id, node in list(nodes.items()):
        if node.kind in ("step", "data") and node_id not in consumed:
            edges.append(Edge(node_id, VERSION_NODE))
    for loaded in lineage.get("inputs") or ():
        text = str(loaded)
        target = text.split("#", 1)[0] if "#" in text else text
        node_id = f"input:{text}"
        nodes[node_id] = Node(node_id, "input", target, f"loaded during the run: {text}", ref=target)
        edges.append(Edge(node_id, VERSION_NODE))
    positions = layout(list(nodes), edges)
    ordered = sorted(nodes.values(), key=lambda n: positions[n.id])
    return LineageGraph(tuple(ordered), tuple(edges), positions)


def layout(node_ids: Sequence[str], edges: Sequence[Edge]) -> dict[str, tuple[int, int]]:
    """Layer and order the nodes of a DAG (module docstring).

    Args:
        node_ids: every node id.
        edges: edges between them; they must form no cycle.

    Returns:
        Node id to ``(layer, index in layer)``: ``layer`` is the length of the longest path reaching the node (a node
        without predecessors: one less than its nearest successor's), so every edge goes from a lower layer to a
        higher one; indexes in a layer are ``0..n-1``.

    Raises:
        ValueError: the edges form a cycle or name an unknown node.
    """
    known = set(node_ids)
    predecessors: dict[str, list[str]] = {n: [] for n in node_ids}
    successors: dict[str, list[str]] = {n: [] for n in node_ids}
    for edge in edges:
        if edge.source not in known or edge.target not in known:
            raise ValueError(f"edge {edge.source} -> {edge.target} names an unknown node")
        predecessors[edge.target].append(edge.source)
        successors[edge.source].append(edge.target)
    # Kahn's algorithm in id order; longest-path layering along the way.
    remaining = {n: len(predecessors[n]) for n in node_ids}
    ready = sorted(n for n, count in remaining.items() if count == 0)
    layer: dict[str, int] = {}
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        layer[current] = max((layer[p] + 1 for p in predecessors[current]), default=0)
        for nxt in successors[current]:
            remaining[nxt] -= 1
            if remaining[nxt] == 0:
                ready.append(nxt)
        ready.sort()
    if len(order) != len(known):
        raise ValueError("the lineage edges form a cycle")
    # A source (data, a value, a loaded version) sits just before its nearest consumer rather than in layer 0, so a
    # hyperparameter fed to the last step does not draw a long edge across every box in between.
    for node in reversed(order):
        if not predecessors[node] and successors[node]:
            layer[node] = min(layer[s] for s in successors[node]) - 1
    positions: dict[str, tuple[int, int]] = {}
    for depth in range(max(layer.values(), default=-1) + 1):
        members = [n for n in order if layer[n] == depth]

        def barycenter(node: str) -> tuple[float, str]:
            placed = [positions[p][1] for p in predecessors[node] if p in positions]
            return (sum(placed) / len(placed) if placed else -1.0, node)

        for index, node in enumerate(sorted(members, key=barycenter)):
            positions[node] = (depth, index)
    return positions
