"""Artifact paths: only clean relative POSIX paths pass."""

from __future__ import annotations

import posixpath
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelver import InvalidReferenceError
from modelver.store.paths import validate_artifact_path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "../x",
        "a/../../x",
        "/etc/passwd",
        "C:\\x",
        "c:x",
        "a\\..\\x",
        "a//b",
        "./a",
        "a/.",
        "a\x00b",
        "a\nb",
        "e\u0301.txt",
        "a/b:stream",
        "con",
        "CON.txt",
        "a/lpt1.log",
        "nul/x",
        "COM\u00b9",
        "a./b",
        "a /b",
        "x|y",
        "what?",
        "star*",
        'quote"d',
        "<tag>",
    ],
)
def test_unclean_paths_are_refused(path: str) -> None:
    """Traversal, absolute, drive, backslash, empty segments, control characters, non-NFC, and names Windows cannot
    store (reserved characters, device names, trailing dots or spaces) are refused on every platform."""
    with pytest.raises(InvalidReferenceError):
        validate_artifact_path(path)


@pytest.mark.parametrize(
    "path", ["model.skops", "tokenizer/vocab.txt", "a/b/c.d", "é.txt", "..hidden/x", "com10", "console.txt", ".env"]
)
def test_clean_paths_pass(path: str) -> None:
    """Ordinary relative paths are returned unchanged."""
    assert path == validate_artifact_path(path)


@given(st.text())
def test_any_accepted_path_stays_inside_the_bundle(path: str) -> None:
    """Whatever the text, either it is refused with InvalidReferenceError or it cannot leave its root."""
    try:
        validate_artifact_path(path)
    except InvalidReferenceError:
        return
    joined = posixpath.normpath(posixpath.join("/root", path))
    assert joined.startswith("/root/")


@given(st.text())
def test_an_accepted_path_is_nfc_and_has_no_segment_windows_would_alter(path: str) -> None:
    """Accepted paths are their own NFC form and no segment ends in a dot or space or holds a reserved character."""
    try:
        validate_artifact_path(path)
    except InvalidReferenceError:
        return
    assert unicodedata.normalize("NFC", path) == path
    assert not any(part.endswith((".", " ")) for part in path.split("/"))
    assert not set('<>:"|?*\\').intersection(path)
