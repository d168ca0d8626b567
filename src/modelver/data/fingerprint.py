"""The :class:`Fingerprint` value every data source is hashed into, and the directory tree digest.

Owns the result type shared by every kind of source (:mod:`.sources` dispatches to the modules that hash them),
the canonical tree listing (:func:`tree_json`) whose digest is a directory's digest, and the few names the
source modules share: the URL test, the list of supported sources and how an unsupported type is named.

A fingerprint names *content*, not where it lives or how it is laid out in memory: the same bytes under two paths,
a directory listed in any order, a DataFrame before and after ``copy()`` all get the same digest. The one exception
is deliberate: an object-store file whose store already holds a content hash gets that hash, not a download (below).

Directories (``method`` ``"<algorithm>-tree"``)
    Every regular file below the root is hashed (in parallel threads: blake3 releases the GIL). The tree digest is
    the digest of the canonical JSON (:func:`modelver.serde.canonical_json`) of::

        {"type": "modelver.tree/1", "entries": [[relative/posix/path, digest, size_bytes], ...]}

    with the entries sorted by path, so the digest does not depend on creation or listing order nor on the OS path
    separator. :func:`tree_json` returns those bytes, so a caller can store the listing as a blob whose digest *is*
    the tree digest. Only files make entries: empty directories do not change the digest (as in git). Skipped
    entries (below) do not change it either; they are reported in :attr:`Fingerprint.skipped`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from modelver.serde import canonical_json
from modelver.store.digest import digest_bytes

__all__ = ["SUPPORTED", "TREE_TYPE", "URL_RE", "Fingerprint", "tree_fingerprint", "tree_json", "type_name"]

TREE_TYPE = "modelver.tree/1"
SUPPORTED = (
    "supported sources: a local file or directory path (str or os.PathLike), an fsspec URL "
    "(memory://, s3://, gs://, file://, ...), bytes, a numpy ndarray, a pandas DataFrame or Series, "
    "a pyarrow Table or RecordBatch, a polars DataFrame or Series"
)
# An fsspec URL: a protocol of two or more characters (so "C:\\data" stays a Windows path), then "://" or "::".
URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+(://|::)")


@attrs.frozen
class Fingerprint:
    """Content fingerprint of a data source.

    Attributes:
        digest: ``"<algorithm>:<hex>"``; for a directory, the tree digest (see the module docstring).
        size_bytes: total size in bytes (for pandas objects, the deep in-memory size).
        files: number of files hashed; 1 for a file or an in-memory object.
        kind: ``"file"``, ``"directory"``, ``"ndarray"``, ``"dataframe"``, ``"series"``, ``"table"`` or
            ``"bytes"``.
        method: how the digest was computed: ``"blake3"``, ``"blake3-tree"``, ``"blake3-ndarray"``,
            ``"blake3-pandas"``, ``"blake3-arrow"``, ``"blake3-polars"`` (with the chosen algorithm in place of
            blake3), or for an object-store file the store's checksum used: ``"s3-sha256"``, ``"s3-etag-md5"``,
            ``"gcs-md5"``.
        uri: absolute local path, the URL as given, or ``"<numpy.ndarray>"``, ``"<pandas.DataFrame>"``,
            ``"<pandas.Series>"``, ``"<pyarrow.Table>"``, ``"<pyarrow.RecordBatch>"``, ``"<polars.DataFrame>"``,
            ``"<polars.Series>"``, ``"<bytes>"`` for in-memory data.
        summary: for arrays ``{"shape", "dtype"}``; for frames and tables ``{"rows", "columns", "dtypes"}``
            (column labels and dtypes as strings, in column order); for series ``{"rows", "name", "dtype"}``; for
            remote directories ``{"methods": {method: files}}``.
        entries: directories only: POSIX path relative to the root to ``(digest, size_bytes)``.
        skipped: directories only: ``"<relative path>: <reason>"`` for each entry not hashed, sorted.

    Example:
        >>> fp = modelver.fingerprint(b"hello")
        >>> fp.kind, fp.size_bytes, fp.digest[:15]
        ('bytes', 5, 'blake3:ea8f163d')
    """

    digest: str
    size_bytes: int
    files: int
    kind: str
    method: str
    uri: str
    summary: dict[str, Any] = attrs.field(factory=dict)
    entries: dict[str, tuple[str, int]] = attrs.field(factory=dict)
    skipped: tuple[str, ...] = ()


def tree_json(entries: Mapping[str, tuple[str, int]]) -> bytes:
    """Return the canonical JSON listing of a directory whose digest is the tree digest.

    Args:
        entries: POSIX relative path to ``(digest, size_bytes)``, as in :attr:`Fingerprint.entries`.

    Returns:
        UTF-8 canonical JSON ``{"type": "modelver.tree/1", "entries": [[path, digest, size], ...]}``, sorted by path.
    """
    # Sorting the keys compares strings only (sorting the items compares tuples: several times slower), and the
    # encoder writes a tuple as a JSON array like a list.
    listing = [(path, *entries[path]) for path in sorted(entries)]
    return canonical_json({"type": TREE_TYPE, "entries": listing})


def tree_fingerprint(
    entries: dict[str, tuple[str, int]],
    skipped: list[str],
    uri: str,
    algorithm: str,
    digest: str | None = None,
    size_bytes: int | None = None,
) -> Fingerprint:
    """A directory's fingerprint from its entries sorted by path (``digest``, ``size_bytes``: when known)."""
    return Fingerprint(
        digest=digest or digest_bytes(tree_json(entries), algorithm),
        size_bytes=sum(size for _, size in entries.values()) if size_bytes is None else size_bytes,
        files=len(entries),
        kind="directory",
        method=f"{algorithm}-tree",
        uri=uri,
        entries=entries,
        skipped=tuple(skipped),
    )


def type_name(value: object) -> str:
    """``value``'s type as ``module.qualname`` (builtins without their module), for messages and records."""
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
