"""Artifact paths inside a bundle: clean relative POSIX paths, checked on write and again on read."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from modelver.errors import InvalidReferenceError

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')
# Device names Windows reserves in every directory, whatever the extension (CON.txt is the console too); the
# superscript digits count as digits there.
_DEVICE_RE = re.compile(
    r"^(CON|PRN|AUX|NUL|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3])(\..*)?$", re.IGNORECASE
)
MAX_PATH_LENGTH = 1024


def validate_artifact_path(path: str) -> str:
    """Return ``path`` if it is a clean relative POSIX path, else raise.

    The same rules hold on every platform, so a bundle written on Linux is safe to download on Windows or macOS.
    Refused: empty, absolute (``/x``), drive-qualified (``C:x``), backslashes (``a\\..\\x`` means traversal on
    Windows), ``.``/``..``/empty segments, control characters and NUL, text that is not in Unicode NFC (two names
    that differ only by normalisation would collide on macOS), over 1024 characters; and what Windows cannot
    store (its "Naming Files, Paths, and Namespaces" rules): the characters ``< > : " | ? *`` (``a:b`` would
    name an NTFS alternate data stream), segments ending in a dot or a space (Windows drops them, so ``a.`` and
    ``a`` collide), and the device names ``CON PRN AUX NUL COM1-9 LPT1-9`` with or without an extension.

    Raises:
        InvalidReferenceError: the path is not clean; the message says which rule it breaks.
    """
    problem = None
    if not path:
        problem = "it is empty"
    elif len(path) > MAX_PATH_LENGTH:
        problem = f"it is {len(path)} characters long (at most {MAX_PATH_LENGTH})"
    elif any(ord(c) < 32 or ord(c) == 127 for c in path):
        problem = "it contains a control character"
    elif "\\" in path:
        problem = "it contains a backslash; use '/' between directories"
    elif path.startswith("/") or _DRIVE_RE.match(path):
        problem = "it is absolute; use a path relative to the bundle"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        problem = "it has an empty, '.' or '..' segment"
    elif unicodedata.normalize("NFC", path) != path:
        problem = "it is not in Unicode NFC form"
    elif _WINDOWS_FORBIDDEN.intersection(path):
        problem = f"it contains {''.join(sorted(_WINDOWS_FORBIDDEN.intersection(path)))!r}, which Windows cannot store"
    elif any(part.endswith((".", " ")) for part in path.split("/")):
        problem = "a segment ends in a dot or a space, which Windows drops"
    elif any(_DEVICE_RE.match(part.rstrip()) for part in path.split("/")):
        problem = "a segment is a Windows device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
    if problem:
        raise InvalidReferenceError(f"artifact path {path!r} is refused: {problem}", reference=path)
    return path


def path_clash(paths: Iterable[str]) -> tuple[str, str] | None:
    """Return a pair ``(file, path below it)`` where one path would be a file and a directory at once, else ``None``.

    ``model.json`` and ``model.json/x`` cannot both be written to disk, so a bundle holding both is refused.
    """
    listed = list(paths)
    directories = {path.rsplit("/", i)[0]: path for path in listed for i in range(1, path.count("/") + 1)}
    for path in listed:
        if path in directories:
            return path, directories[path]
    return None
