"""Directories: Hugging Face ``save_pretrained`` output (config.json, tokenizer files, model.safetensors...) and
any other local directory, stored as one blob per file.

Each file becomes its own artifact ``<name>/<relative path>`` (so identical files dedup across versions, and
``download``, ``verify`` and garbage collection see every blob) with ``tree=<name>`` naming the directory it
belongs to. ``load`` returns a verified local copy of the directory as a :class:`~pathlib.Path`, or
``loader(path)`` when a loader is given (``loader=AutoModel.from_pretrained``). Nothing in the directory is
imported or executed by modelver; what the loader does with it is the caller's choice.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelver.errors import FormatError
from modelver.formats.core import Format, describe, register_format


@register_format
class Directory(Format):
    """``directory``: a local directory (``pathlib.Path``) or an object with ``save_pretrained(directory)``."""

    name = "directory"
    media_type = "inode/directory"
    directory = True
    # Above torch: a transformers model is also a torch.nn.Module, and its own directory layout is what
    # from_pretrained reads back.
    priority = 70

    def matches(self, obj: object) -> bool:
        if isinstance(obj, os.PathLike):
            return Path(obj).is_dir()
        return callable(getattr(obj, "save_pretrained", None))

    def write_directory(self, obj: object, scratch: Path) -> Path:
        if isinstance(obj, os.PathLike):
            path = Path(obj)
            if not path.is_dir():
                raise FormatError(f"format 'directory' needs an existing directory; {path} is not one")
            return path
        save = getattr(obj, "save_pretrained", None)
        if not callable(save):
            raise FormatError(
                f"format 'directory' stores a directory path or an object with save_pretrained(), not a {describe(obj)}"
            )
        save(scratch)
        return scratch
