"""Artifacts a run adds to its bundle: models and data serialized in a safe format (one blob, or one blob per file
of a directory format), prompts, AI-system configs, and plain files or directories; each stored as it is logged.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from modelver.data.walk import walk_tree
from modelver.errors import CaptureError, FormatError
from modelver.formats import Format, make_prompt, resolve_format, serialize
from modelver.manifest import ArtifactEntry
from modelver.store.paths import validate_artifact_path
from modelver.tracking.capture_state import CaptureState


def _media_type(path: str) -> str:
    import mimetypes

    return mimetypes.guess_type(path)[0] or "application/octet-stream"


class ArtifactSaving(CaptureState):
    """The artifact-saving methods of :class:`~modelver.Run`."""

    def save_model(
        self, obj: object, name: str = "model", *, format: str | None = None, allow_pickle: bool = False
    ) -> str:
        """Serialize ``obj`` in a safe format (docs/formats.md) and add it to the bundle.

        The format is chosen from the object's type (scikit-learn → ``skops``, ``torch.nn.Module`` → ``torch``
        safetensors, ``save_pretrained`` objects and directories → ``directory``, ONNX, arrays, tables, JSON,
        text, prompts) and recorded in ``artifacts.<path>.format``.

        Args:
            obj: the model or data.
            name: artifact name; the stored path is ``name`` plus the format's extension (``model.skops``); a
                directory's files are stored below ``name/``.
            format: force a format by name (``"skops"``, ``"torch"``, ``"directory"``, ``"yaml"``, ``"pickle"``...).
            allow_pickle: permit a code-running format (pickle, joblib, TorchScript) when no safe one fits.

        Returns:
            The artifact's path in the bundle (for a directory: ``name``). Saving again under the same name replaces
            the earlier object (with a warning): the bundle keeps the latest.

        Raises:
            UnsafeFormatError: only a code-running format fits and ``allow_pickle`` is false (nothing is written).
            FormatError: ``format`` is unknown or does not fit ``obj``.
            InvalidReferenceError: ``name`` is not a clean relative path, or clashes with another artifact.
            CaptureError: the run is no longer running.
        """
        if self._skipped_on_rank("save_model"):
            return name
        self._check_open("save_model")
        validate_artifact_path(name)
        fmt = resolve_format(obj, format, allow_pickle)
        if fmt.directory:
            return self._save_directory(obj, name, fmt)
        serialized = serialize(obj, format=fmt.name, allow_pickle=allow_pickle)
        path = validate_artifact_path(name + serialized.extension)
        digest = self.store.put_bytes(serialized.data)
        self._add_artifact(path, ArtifactEntry(digest, len(serialized.data), serialized.media_type, serialized.format))
        return path

    def _save_directory(self, obj: object, name: str, fmt: Format) -> str:
        """Store a directory format's files one blob each, as ``name/<rel>`` entries with ``tree=name``."""
        with tempfile.TemporaryDirectory(prefix="modelver-save-") as scratch:
            source = fmt.write_directory(obj, Path(scratch))
            found, skipped = walk_tree(str(source), str(source))
            if skipped:
                self._capture_failed("artifacts", f"{source}: not stored: {'; '.join(skipped)}", raise_strict=False)
            if not found:
                raise FormatError(f"{name}: the directory to save ({source}) holds no files")
            found = sorted(found)
            paths = [validate_artifact_path(f"{name}/{rel}") for rel, _real in found]
            stored = self.store.put_files([real for _rel, real in found])
            entries = [
                (path, ArtifactEntry(digest, size, _media_type(path), fmt.name, tree=name))
                for path, (digest, size) in zip(paths, stored, strict=True)
            ]
        with self._lock:
            # Saving a directory again replaces it whole: files of the earlier save that are gone now must go too.
            for stale in [p for p, e in self._artifacts.items() if e.tree == name]:
                del self._artifacts[stale]
        for path, entry in entries:
            self._add_artifact(path, entry)
        return name

    def save_prompt(
        self,
        name: str,
        template: str,
        *,
        variables: Sequence[str] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> str:
        """Version a prompt template as data (``name.prompt.json``, format ``prompt``); ``load`` returns a
        :class:`modelver.Prompt` whose ``render(**values)`` fills it, and ``modelver diff`` shows a text diff.

        Args:
            name: artifact name (``"system"``, ``"prompts/answer"``).
            template: the text with ``{variable}`` placeholders (``{{``/``}}`` for literal braces).
            variables: the placeholder names, checked against the template (default: read from it).
            metadata: JSON values kept with the template (model name, temperature...).

        Returns:
            The artifact's path in the bundle.

        Raises:
            FormatError: a malformed placeholder, or ``variables`` that differ from the template's.
            InvalidReferenceError, CaptureError: see :meth:`save_model`.
        """
        prompt = make_prompt(template, None if variables is None else list(variables), metadata or {})
        return self.save_model(prompt, name, format="prompt")

    def save_config(self, name: str, config: Mapping[str, object], *, format: str = "json") -> str:
        """Version an AI-system configuration (a RAG setup, retrieval parameters, tool lists) as a data artifact,
        apart from the run's own config: ``name.json`` (or ``format="yaml"``); ``load`` returns the mapping.

        Raises:
            FormatError: ``config`` is not made of JSON values (or ``format`` is neither ``json`` nor ``yaml``).
            InvalidReferenceError, CaptureError: see :meth:`save_model`.
        """
        if format not in ("json", "yaml"):
            raise FormatError(f"save_config stores format 'json' or 'yaml', not {format!r}")
        if not isinstance(config, Mapping):
            raise FormatError(f"save_config takes a mapping, not a {type(config).__name__}")
        return self.save_model(dict(config), name, format=format)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> list[str]:
        """Add a file, or every file under a directory, to the bundle as plain files.

        A directory follows the data fingerprint's symlink policy: nothing outside it is read; links that leave
        it, dangling links and links to directories are skipped with a capture error. A missing path is a capture
        error too (training goes on).

        Args:
            path: a local file or directory.
            name: path in the bundle (default: the file or directory name). A directory's files go below it.

        Returns:
            The bundle paths added.

        Raises:
            InvalidReferenceError: ``name`` is not a clean relative path, or clashes with another artifact.
            CaptureError: the run is no longer running, or the path cannot be read in strict mode.
        """
        if self._skipped_on_rank("log_artifact"):
            return []
        self._check_open("log_artifact")
        source = Path(path)
        prefix = validate_artifact_path(name if name is not None else source.name)
        if source.is_file():
            files = [(prefix, str(source))]
        elif source.is_dir():
            try:
                found, skipped = walk_tree(str(source), str(source))
            except CaptureError as exc:
                self._capture_failed("artifacts", exc)
                return []
            if skipped:
                self._capture_failed("artifacts", f"{source}: not stored: {'; '.join(skipped)}", raise_strict=False)
            files = sorted((f"{prefix}/{rel}", real) for rel, real in found)
        else:
            self._capture_failed("artifacts", f"log_artifact: {source} is neither a file nor a directory")
            return []
        for rel, _file in files:
            validate_artifact_path(rel)
        stored = self.store.put_files([file for _rel, file in files])
        for (rel, _file), (digest, size) in zip(files, stored, strict=True):
            self._add_artifact(rel, ArtifactEntry(digest, size, _media_type(rel), "file"))
        return [rel for rel, _file in files]
