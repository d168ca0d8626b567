"""The prompts and configs a run saved as data (``run.save_prompt``, ``run.save_config``), read back for the version
page: small artifacts of format ``prompt``, ``json`` or ``yaml``, each verified against its digest like every read.
"""

from __future__ import annotations

import json
from typing import Any

from modelver.errors import ModelverError
from modelver.store.objects import Store

__all__ = ["SAVED_FORMATS", "SHOWN_BYTES", "saved_documents"]

#: Artifact formats that ``save_prompt`` and ``save_config`` write.
SAVED_FORMATS = ("prompt", "json", "yaml")
#: Larger saved documents are listed with a link to the JSON API instead of being shown inline.
SHOWN_BYTES = 256 << 10


def saved_documents(store: Store, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The saved prompts and configs of a version, in path order, ready for the version page.

    Args:
        store: the store the version lives in.
        manifest: the manifest's JSON form (``views.version_page(...)["manifest"]``).

    Returns:
        One dict per document: ``path``, ``format``, ``kind`` (``"prompt"`` or ``"config"``), and ``template``,
        ``variables`` and ``metadata`` for a prompt, ``value`` (JSON) or ``text`` (YAML) for a config; ``error``
        instead when the blob is too large (over :data:`SHOWN_BYTES`), missing, corrupt or not UTF-8 text.

    Example:
        >>> saved_documents(Store("memory://empty"), {"artifacts": {}})
        []
    """
    documents: list[dict[str, Any]] = []
    for path, artifact in sorted((manifest.get("artifacts") or {}).items()):
        kind_of = artifact.get("format")
        if kind_of not in SAVED_FORMATS:
            continue
        entry: dict[str, Any] = {"path": path, "format": kind_of, "kind": "prompt" if kind_of == "prompt" else "config"}
        documents.append(entry)
        if int(artifact.get("size_bytes") or 0) > SHOWN_BYTES:
            entry["error"] = f"larger than {SHOWN_BYTES >> 10} KiB; load it with modelver.load()"
            continue
        try:
            text = store.read_blob(str(artifact.get("digest"))).decode("utf-8")
            if kind_of == "yaml":
                entry["text"] = text
            elif kind_of == "json":
                entry["value"] = json.loads(text)
            else:
                body = json.loads(text)
                entry.update(
                    template=str(body.get("template", "")),
                    variables=list(body.get("variables") or ()),
                    metadata=body.get("metadata") or {},
                )
        except (ModelverError, OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
            entry["error"] = f"cannot be shown: {exc}"
    return documents
