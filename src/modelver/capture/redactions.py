"""What a version kept out of its bundle, and why: the list ``modelver show`` prints (docs/security.md)."""

from __future__ import annotations

from typing import Any

from modelver.capture.git import _looks_secret
from modelver.manifest import Manifest

__all__ = ["redactions"]


def redactions(manifest: Manifest) -> list[tuple[str, str]]:
    """What a version kept out, and why, for ``modelver show``.

    Args:
        manifest: the version's manifest.

    Returns:
        ``(where, why)`` pairs, files first: ``("untracked file conf/prod.yaml", "KeywordDetector")``,
        ``("source settings.py", "OpenAIDetector")``, ``("config openai", "OpenAIDetector")``,
        ``("config db_password", "key name")``. Files withheld by name alone (``.env``, ``*.pem``) are listed with
        ``why`` ``"file name"``.

    Example:
        >>> from modelver.manifest import CreatedBy
        >>> redactions(Manifest(name="m", created_at="", created_by=CreatedBy("u", "h"), run_id="r"))
        []
    """
    found: list[tuple[str, str]] = []
    git = manifest.code.git
    if git is not None:
        for rel, entry in sorted(git.redacted.items()):
            found.append((f"untracked file {rel}", ", ".join(entry.detectors)))
        for rel, digest in sorted(git.untracked.items()):
            if digest is None and rel not in git.redacted and _looks_secret(rel):
                found.append((f"untracked file {rel}", "file name"))
    for rel, entry in sorted(manifest.code.redacted.items()):
        found.append((f"source {rel}", ", ".join(entry.detectors)))
    stack: list[tuple[str, Any]] = [("", manifest.config)]
    config: list[tuple[str, str]] = []
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            if value.get("$type") == "redacted":
                config.append((f"config {path or '(whole)'}", str(value.get("detector", "key name"))))
                continue
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return found + sorted(config)
