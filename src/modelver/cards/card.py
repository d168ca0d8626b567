"""A model card built from what was captured: description and intended use, data, metrics, config, environment,
lineage, approvals and deployments of one version (``modelver card REF``).

The description is the latest ``describe`` of the version (:func:`modelver.describe`); the intended use is its
``intended-use`` label (``modelver label REF intended-use="..."``). Nothing is invented: a section with nothing
captured says so.
"""

from __future__ import annotations

import html
import json
import os
import posixpath

import attrs

from modelver.catalog.labels import LABEL_KIND, current_labels
from modelver.errors import InvalidReferenceError
from modelver.registry.approvals import approvals
from modelver.registry.deployments import deployments
from modelver.registry.events import events_dir, read_events
from modelver.registry.model_version import ModelVersion, get
from modelver.registry.resolution import read_state
from modelver.store.objects import Store
from modelver.units import format_metric, human_bytes

__all__ = ["CARD_FORMATS", "Card", "Section", "build_card", "model_card"]

CARD_FORMATS = ("md", "html")
StoreArg = str | os.PathLike[str] | Store | None
#: Config shown in a card is cut at this many characters of JSON (the whole config: ``modelver show --json``).
MAX_CONFIG_CHARS = 4000


@attrs.frozen
class Section:
    """One section of a card: a heading, paragraphs, and an optional table (header row first)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()
    code: str | None = None


@attrs.frozen
class Card:
    """A model card: the version's reference and digest, and its sections in order."""

    ref: str
    digest: str
    sections: tuple[Section, ...]


def _texts(version: ModelVersion) -> tuple[str, dict[str, str]]:
    """The version's description and labels: its label events folded in order (latest wins).

    Label events carry fields the registry's :class:`~modelver.registry.events.Event` does not model, so their
    stored JSON is read and folded by the catalog's own :func:`~modelver.catalog.labels.current_labels`.
    """
    directory = events_dir(version.store, version.name)
    bodies = []
    for event in read_events(version.store, version.name):
        if event.kind == LABEL_KIND and event.version == version.version:
            try:
                bodies.append((event.order, bytes(version.store.fs.cat_file(posixpath.join(directory, event.key)))))
            except OSError:
                continue
    labels, description = current_labels({}, "", bodies)
    return description, labels


def build_card(version: ModelVersion) -> Card:
    """The card of ``version`` as structured sections (see :func:`model_card` for the text).

    Example:
        >>> [s.title for s in build_card(modelver.get("churn@1.2.0")).sections][:2]  # doctest: +SKIP
        ['Description', 'Intended use']
    """
    m = version.manifest
    description, labels = _texts(version)
    state = read_state(version.store, version.name)
    sections = [
        Section("Description", (description or "No description (set one with `modelver describe REF TEXT`).",)),
        Section("Intended use", (labels.get("intended-use") or "Not stated (label `intended-use`).",)),
    ]
    status = [f"Published {version.published_at} by {version.published_by.user}@{version.published_by.host}."]
    at = sorted(a for a, s in state.aliases.items() if s.version == version.version)
    if at:
        status.append(f"Aliases: {', '.join(at)}.")
    if version.version in state.yanked:
        y = state.yanked[version.version]
        status.append(f"Yanked by {y.by} at {y.at}: {y.reason}.")
    sections.append(Section("Version", tuple(status)))
    data_rows = tuple((label, d.uri, d.digest, human_bytes(d.size_bytes), str(d.files)) for label, d in m.data.items())
    sections.append(
        Section(
            "Training data",
            () if data_rows else ("No data was fingerprinted.",),
            (("label", "uri", "digest", "size", "files"), *data_rows) if data_rows else (),
        )
    )
    metric_rows = tuple((k, format_metric(v)) for k, v in m.metrics.items())
    sections.append(
        Section(
            "Metrics",
            () if metric_rows else ("No metrics were logged.",),
            (("metric", "value"), *metric_rows) if metric_rows else (),
        )
    )
    config = json.dumps(m.config, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    if len(config) > MAX_CONFIG_CHARS:
        config = config[:MAX_CONFIG_CHARS] + "\n... (cut; the whole config: modelver show REF --json)"
    sections.append(Section("Config", code=config))
    env = m.environment
    git = m.code.git
    code = (
        f"git {git.commit[:12]} on {git.branch or '(detached)'}{' (dirty)' if git.dirty else ''}"
        if git
        else (f"source snapshot of {len(m.code.sources)} file(s)")
    )
    sections.append(
        Section(
            "Environment and code",
            (
                f"Python {env.python} ({env.implementation}) on {env.platform}, {len(env.packages)} packages.",
                f"Code: {code}; entrypoint {m.code.entrypoint or '(unknown)'}.",
            ),
        )
    )
    lineage = [f"Step {s.name}" for s in m.lineage.steps] + [f"Input {i}" for i in m.lineage.inputs]
    sections.append(Section("Lineage", tuple(lineage) or ("Built from no recorded steps or versions.",)))
    found = approvals(version.ref, store=version.store)
    approval_rows = tuple((a.alias, a.by, a.status, a.at) for a in found)
    sections.append(
        Section(
            "Approvals",
            () if approval_rows else ("No approvals.",),
            (("for", "by", "status", "at"), *approval_rows) if approval_rows else (),
        )
    )
    deployed = [d for d in deployments(version.name, store=version.store) if d.digest == version.digest]
    deploy_rows = tuple((d.target, d.since, d.by, d.via or "") for d in deployed)
    sections.append(
        Section(
            "Deployments",
            () if deploy_rows else ("Not deployed anywhere now.",),
            (("target", "since", "by", "via"), *deploy_rows) if deploy_rows else (),
        )
    )
    if m.capture_errors:
        sections.append(Section("Capture errors", tuple(f"{e.facet}: {e.message}" for e in m.capture_errors)))
    return Card(version.ref, version.digest, tuple(sections))


def _markdown(card: Card) -> str:
    lines = [f"# Model card: {card.ref}", "", f"Manifest digest `{card.digest}`.", ""]
    for section in card.sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.table:
            header, *rows = section.table
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
            lines.append("")
        if section.code is not None:
            lines += ["```json", section.code, "```", ""]
    return "\n".join(lines)


def _html(card: Card) -> str:
    e = html.escape
    parts = [
        "<!doctype html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>Model card: {e(card.ref)}</title></head><body>',
        f'<article class="model-card"><h1>Model card: {e(card.ref)}</h1>',
        f"<p>Manifest digest <code>{e(card.digest)}</code>.</p>",
    ]
    for section in card.sections:
        parts.append(f"<section><h2>{e(section.title)}</h2>")
        parts += [f"<p>{e(p)}</p>" for p in section.paragraphs]
        if section.table:
            header, *rows = section.table
            parts.append("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</tbody></table>")
        if section.code is not None:
            parts.append(f"<pre><code>{e(section.code)}</code></pre>")
        parts.append("</section>")
    parts.append("</article></body></html>")
    return "\n".join(parts)


def model_card(ref: str, *, format: str = "md", store: StoreArg = None) -> str:
    """A model card of the version ``ref`` resolves to, as Markdown (``"md"``) or a standalone HTML page.

    Args:
        ref: any reference.
        format: ``"md"`` or ``"html"``.
        store: the store.

    Returns:
        The card's text.

    Raises:
        InvalidReferenceError: a bad reference or format.
        VersionNotFoundError: ``ref`` matches nothing.

    Example:
        >>> print(modelver.model_card("churn@production"))  # doctest: +SKIP
        # Model card: churn@1.4.0
    """
    if format not in CARD_FORMATS:
        raise InvalidReferenceError(f"card format {format!r} unknown; choose md or html")
    card = build_card(get(ref, store=store))
    return _markdown(card) if format == "md" else _html(card)
