"""Server-side SVG: metric charts and the lineage graph.

Drawn on the server so the page needs no JavaScript library and no network (the page must work offline): an SVG is
plain markup the browser renders, every label is escaped, and links are ordinary ``<a href>`` elements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import quote

import attrs
from markupsafe import Markup, escape

from modelver.ui.lineage import LineageGraph

__all__ = ["Point", "line_chart", "lineage_svg", "ticks"]

CHART_WIDTH = 640
CHART_HEIGHT = 220
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 16, 12, 36


@attrs.frozen
class Point:
    """One point of a chart: ``x`` and ``y`` numbers, a hover ``label``, an optional link, and a highlight flag."""

    x: float
    y: float
    label: str
    href: str | None = None
    highlight: bool = False


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` evenly spaced "nice" tick values (steps of 1, 2 or 5 times a power of ten) covering
    ``[low, high]`` (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    out = []
    value = first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            out.append(round(value, 12))
        value += step
    return out


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def line_chart(points: Sequence[Point], *, title: str, x_labels: dict[float, str] | None = None) -> Markup:
    """A line chart of ``points`` (in x order) as an inline ``<svg>``.

    Args:
        points: the points; non-finite values are skipped.
        title: the chart's accessible title.
        x_labels: x value to a label printed under the axis (default: the first and last x, as numbers).

    Returns:
        The SVG markup (safe to put in a page: every text is escaped).
    """
    shown = [p for p in points if math.isfinite(p.x) and math.isfinite(p.y)]
    width, height = CHART_WIDTH, CHART_HEIGHT
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not shown:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">no values</text></svg>'
        )
        return Markup("".join(parts))  # noqa: S704  every text above is escaped
    xs, ys = [p.x for p in shown], [p.y for p in shown]
    x_lo, x_hi = min(xs), max(xs)
    y_ticks = ticks(min(ys), max(ys))
    y_lo, y_hi = min([*ys, *y_ticks]), max([*ys, *y_ticks])
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    plot_w = width - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = height - _MARGIN_TOP - _MARGIN_BOTTOM

    def sx(x: float) -> float:
        return _MARGIN_LEFT + (plot_w / 2 if x_hi == x_lo else (x - x_lo) / (x_hi - x_lo) * plot_w)

    def sy(y: float) -> float:
        return _MARGIN_TOP + plot_h - (y - y_lo) / (y_hi - y_lo) * plot_h

    for tick in y_ticks:
        y = sy(tick)
        parts.append(
            f'<line class="grid" x1="{_MARGIN_LEFT}" x2="{width - _MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>'
        )
    labels = x_labels if x_labels is not None else {x_lo: _fmt(x_lo), x_hi: _fmt(x_hi)}
    for x, text in labels.items():
        parts.append(
            f'<text class="tick" x="{sx(x):.1f}" y="{height - _MARGIN_BOTTOM + 16}" text-anchor="middle">'
            f"{escape(text)}</text>"
        )
    path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in shown)
    parts.append(f'<polyline class="series" points="{path}"/>')
    for p in shown:
        css = "point highlight" if p.highlight else "point"
        circle = (
            f'<circle class="{css}" cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="{5 if p.highlight else 3.5}">'
            f"<title>{escape(p.label)}</title></circle>"
        )
        parts.append(f'<a href="{escape(p.href)}">{circle}</a>' if p.href else circle)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  every text above is escaped


NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 190, 46, 90, 24, 16


def _clip(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lineage_svg(graph: LineageGraph, *, version_href: str = "/version/") -> Markup:
    """The lineage graph as an inline ``<svg>``: one box per node, layered left to right, with arrows.

    Step nodes link to their row in the step table (``#step-<index>``), data nodes to the data section of the
    version page, loaded versions and the version itself to their version pages (``version_href`` + reference).
    Each node carries ``data-kind`` and ``data-id`` attributes (the browser tests find them so).
    """
    layers = max((layer for layer, _ in graph.positions.values()), default=0) + 1
    rows = max((index for _, index in graph.positions.values()), default=0) + 1
    width = PAD * 2 + layers * NODE_W + (layers - 1) * GAP_X
    height = PAD * 2 + rows * NODE_H + (rows - 1) * GAP_Y

    def box(node_id: str) -> tuple[float, float]:
        layer, index = graph.positions[node_id]
        return PAD + layer * (NODE_W + GAP_X), PAD + index * (NODE_H + GAP_Y)

    parts = [
        f'<svg class="lineage" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'aria-label="lineage graph" xmlns="http://www.w3.org/2000/svg">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>'
    ]
    # Spread the ends of the edges along a box's side, in the order of the boxes at their other end, so that two
    # edges into one step (and their argument labels) do not meet at one point.
    incoming: dict[str, list[int]] = {}
    outgoing: dict[str, list[int]] = {}
    for number, edge in enumerate(graph.edges):
        incoming.setdefault(edge.target, []).append(number)
        outgoing.setdefault(edge.source, []).append(number)
    for ends, other in ((incoming, "source"), (outgoing, "target")):
        for numbers in ends.values():
            numbers.sort(key=lambda n: graph.positions[getattr(graph.edges[n], other)])

    def spread(ends: dict[str, list[int]], node_id: str, number: int) -> float:
        order = ends[node_id]
        return NODE_H * (order.index(number) + 1) / (len(order) + 1)

    for number, edge in enumerate(graph.edges):
        sx, sy = box(edge.source)
        tx, ty = box(edge.target)
        x1, y1 = sx + NODE_W, sy + spread(outgoing, edge.source, number)
        x2, y2 = tx, ty + spread(incoming, edge.target, number)
        mid = (x1 + x2) / 2
        parts.append(
            f'<path class="edge" d="M {x1:.1f} {y1:.1f} C {mid:.1f} {y1:.1f}, {mid:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}" '
            f'marker-end="url(#arrow)"><title>{escape(edge.label or "")}</title></path>'
        )
        if edge.label:
            parts.append(
                # At the curve's midpoint (a cubic Bezier with these control points passes through it).
                f'<text class="edge-label" x="{mid:.1f}" y="{(y1 + y2) / 2 - 4:.1f}" text-anchor="middle">'
                f"{escape(_clip(edge.label, 14))}</text>"
            )
    for node in graph.nodes:
        x, y = box(node.id)
        if node.kind == "step":
            href = f"#step-{node.step}"
        elif node.kind == "data":
            href = f"{version_href}{quote(graph_ref(graph), safe='@/:')}#data"
        elif node.ref:
            href = f"{version_href}{quote(node.ref, safe='@/:')}"
        else:
            href = None
        inner = (
            f'<g class="node node-{escape(node.kind)}" data-kind="{escape(node.kind)}" data-id="{escape(node.id)}">'
            f"<title>{escape(node.label)}: {escape(node.detail)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text class="node-kind" x="{x + 10}" y="{y + 16}">{escape(node.kind)}</text>'
            f'<text class="node-label" x="{x + 10}" y="{y + 35}">{escape(_clip(node.label))}</text></g>'
        )
        parts.append(f'<a href="{escape(href)}">{inner}</a>' if href else inner)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  every text above is escaped


def graph_ref(graph: LineageGraph) -> str:
    """The reference of the version a graph belongs to (the label of its version node)."""
    return next((n.ref or n.label for n in graph.nodes if n.kind == "version"), "")
