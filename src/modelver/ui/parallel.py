"""The compare page's parallel-coordinates plot: one vertical axis per config key, then one per metric, and one line
per compared version across them, drawn as server-side SVG like :mod:`modelver.ui.svg` (no script, no inline style:
the page's CSP forbids both; colours come from ``ui.css`` classes).

Values come from the same flat view as search (:func:`modelver.catalog.fields.manifest_fields`): configs field by
field, metrics by key. A numeric axis is scaled from its lowest to its highest value; an axis of text values places
them in sorted order, evenly; a version without the key has no point on that axis (its line skips it).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from modelver.catalog.fields import manifest_fields
from modelver.registry.model_version import get
from modelver.store.objects import Store

__all__ = ["MAX_AXES", "parallel_axes", "parallel_svg"]

#: At most this many axes (config keys first, then metrics), so the plot stays readable.
MAX_AXES = 12
_AXIS_GAP, _HEIGHT, _TOP, _BOTTOM, _SIDE = 120, 300, 28, 44, 60

Value = float | int | str
Rows = list[tuple[str, dict[str, Value]]]


def parallel_axes(store: Store, refs: Sequence[str]) -> tuple[list[str], Rows]:
    """The axes and each version's values for the plot: config keys that differ across ``refs`` (or all of them
    when none differs), then every metric, at most :data:`MAX_AXES` in all.

    Args:
        store: the store.
        refs: the compared versions.

    Returns:
        ``(axes, [(ref, {axis: value})])``.

    Example:
        >>> parallel_axes(store, ["churn@0.1.0", "churn@0.1.1"])  # doctest: +SKIP
        (['config.lr', 'metrics.auc'], [('churn@0.1.0', {'config.lr': 0.1, 'metrics.auc': 0.8}), ...])
    """
    rows: Rows = []
    for ref in refs:
        version = get(ref, store=store)
        pairs = manifest_fields(version.manifest, created="")
        wanted = {k: v for k, v in pairs if k.startswith(("config.", "metrics.")) and not isinstance(v, bool)}
        rows.append((ref, wanted))
    configs = sorted({k for _, values in rows for k in values if k.startswith("config.")})
    differing = [k for k in configs if len({repr(values.get(k)) for _, values in rows}) > 1]
    metrics = sorted({k for _, values in rows for k in values if k.startswith("metrics.")})
    axes = [*(differing or configs), *metrics]
    if len(axes) > MAX_AXES:
        keep_configs = max(MAX_AXES - len(metrics), MAX_AXES // 2)
        axes = [*(differing or configs)[:keep_configs], *metrics][:MAX_AXES]
    return axes, rows


def _scale(values: list[Value]) -> dict[str, float]:
    """Each value's position on its axis, 0 (bottom) to 1 (top), keyed by ``repr``."""
    numbers = [v for v in values if not isinstance(v, str)]
    texts = sorted({v for v in values if isinstance(v, str)})
    out: dict[str, float] = {}
    if numbers:
        low, high = min(numbers), max(numbers)
        for v in numbers:
            out[repr(v)] = 0.5 if high == low else (v - low) / (high - low)
    for i, text in enumerate(texts):  # text values sit above the numbers' range when an axis mixes both
        out[repr(text)] = (i + 1) / (len(texts) + 1) if not numbers else 1.0
    return out


def _label(value: Value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def parallel_svg(axes: Sequence[str], rows: Rows, *, title: str = "config → metrics") -> Markup:
    """The plot as an inline ``<svg>``: a labelled axis per key with its lowest and highest value, and a line per
    version (``class="pc-line pc-<i>"``) with a point per value, each with a hover title.

    Args:
        axes: the keys, left to right.
        rows: ``(ref, {key: value})`` per version.
        title: the accessible title.

    Returns:
        The SVG markup (every text escaped).

    Example:
        >>> str(parallel_svg(["config.lr"], [("a@1.0.0", {"config.lr": 0.1})])).startswith("<svg")
        True
    """
    width = _SIDE * 2 + _AXIS_GAP * max(len(axes) - 1, 1)
    plot_h = _HEIGHT - _TOP - _BOTTOM
    parts = [
        f'<svg class="chart parallel" viewBox="0 0 {width} {_HEIGHT}" width="{width}" height="{_HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not axes:
        parts.append(f'<text x="{width / 2}" y="{_HEIGHT / 2}" text-anchor="middle" class="muted">no values</text>')
        return Markup("".join([*parts, "</svg>"]))  # noqa: S704  every text is escaped
    scales = {axis: _scale([values[axis] for _, values in rows if axis in values]) for axis in axes}

    def x_of(i: int) -> float:
        return _SIDE + (_AXIS_GAP * i if len(axes) > 1 else _AXIS_GAP / 2)

    def y_of(axis: str, value: Value) -> float:
        return _TOP + plot_h - scales[axis][repr(value)] * plot_h

    for i, axis in enumerate(axes):
        x = x_of(i)
        present = [values[axis] for _, values in rows if axis in values]
        ends = sorted(present, key=lambda v: scales[axis][repr(v)])
        parts.append(
            f'<g class="pc-axis" data-axis="{escape(axis)}"><line class="axis" x1="{x:.1f}" x2="{x:.1f}" '
            f'y1="{_TOP}" y2="{_TOP + plot_h}"/>'
            f'<text class="tick" x="{x:.1f}" y="{_HEIGHT - _BOTTOM + 18}" text-anchor="middle">{escape(axis)}</text>'
        )
        if ends:
            parts.append(
                f'<text class="tick" x="{x + 4:.1f}" y="{_TOP + plot_h + 12}">{escape(_label(ends[0]))}</text>'
                f'<text class="tick" x="{x + 4:.1f}" y="{_TOP - 6}">{escape(_label(ends[-1]))}</text>'
            )
        parts.append("</g>")
    for n, (ref, values) in enumerate(rows):
        points = [(x_of(i), y_of(axis, values[axis]), axis) for i, axis in enumerate(axes) if axis in values]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        parts.append(f'<g class="pc-version" data-ref="{escape(ref)}"><title>{escape(ref)}</title>')
        parts.append(f'<polyline class="pc-line pc-{n % 8}" points="{path}"/>')
        for x, y, axis in points:
            tip = f"{ref}: {axis} = {_label(values[axis])}"
            parts.append(
                f'<circle class="pc-point pc-{n % 8}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"><title>{escape(tip)}</title>'
                "</circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  every text above is escaped
