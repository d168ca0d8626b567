"""The public :func:`fingerprint`: which module hashes which kind of data source.

Owns the dispatch by source type (paths, fsspec URLs, bytes, numpy, pandas, pyarrow, polars) and the
fingerprint of bytes. What each kind hashes is documented where it is hashed: :mod:`.fingerprint`
(directories), :mod:`.walk` (symlinks), :mod:`.files`, :mod:`.remote`, :mod:`.arrays`, :mod:`.frames`
and :mod:`.tables`.

Files and bytes
    The plain digest of the bytes (``method`` is the algorithm, e.g. ``"blake3"``), so a file and the same bytes
    in memory fingerprint alike.

numpy, pandas, pyarrow and polars are imported only when the source is one of their objects, so importing
modelver stays fast.
"""

from __future__ import annotations

import contextlib
import os

from modelver.data.arrays import fingerprint_ndarray
from modelver.data.files import Options, fingerprint_local
from modelver.data.fingerprint import SUPPORTED, URL_RE, Fingerprint, type_name
from modelver.data.frames import fingerprint_pandas
from modelver.data.remote import fingerprint_url
from modelver.data.tables import fingerprint_arrow, fingerprint_polars
from modelver.errors import CaptureError
from modelver.store.digest import DEFAULT_ALGORITHM, digest_bytes, new_hasher
from modelver.store.statcache import StatCache

__all__ = ["fingerprint"]


def fingerprint(
    source: object, *, algorithm: str = DEFAULT_ALGORITHM, progress: bool | None = None, cache: bool = True
) -> Fingerprint:
    """Fingerprint the content of a data source.

    Args:
        source: a local path (``str`` or ``os.PathLike``) to a file or directory; an fsspec URL string with a
            protocol (``memory://``, ``s3://``, ``file://``...) to a file or directory; ``bytes``, ``bytearray``
            or ``memoryview``; a numpy ``ndarray``; a pandas ``DataFrame`` or ``Series``; a pyarrow ``Table`` or
            ``RecordBatch``; a polars ``DataFrame`` or ``Series``.
        algorithm: digest algorithm, ``"blake3"`` (default) or ``"sha256"``; object-store files whose store holds
            a content hash get that hash instead (``sha256:``/``md5:``, see :mod:`.remote`).
        progress: show a progress bar on stderr: ``None`` (default) when stderr is a terminal and more than
            256 MiB must be read, ``True`` always, ``False`` never.
        cache: reuse digests of files and objects that have not changed since they were last hashed
            (:mod:`modelver.store.statcache`); ``False`` reads everything.

    Returns:
        The fingerprint; see the module docstring for what each kind of source hashes.

    Raises:
        CaptureError: the source type is not supported, the path does not exist, a file cannot be read or kept
            changing while it was read, an array has object dtype, a pandas column holds an element type that has
            no stable encoding, or a polars column has dtype Object.
        ValueError: ``algorithm`` is unknown.

    Example:
        >>> fp = modelver.fingerprint("data/train/")  # doctest: +SKIP
        >>> fp.kind, fp.files, fp.digest[:19]  # doctest: +SKIP
        ('directory', 12, 'blake3:3f9a01bc5d2e')
    """
    new_hasher(algorithm)  # fail fast on an unknown algorithm, before touching any data
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _fingerprint_bytes(source, algorithm)
    if isinstance(source, (str, os.PathLike)):
        with contextlib.closing(StatCache()) if cache else contextlib.nullcontext() as stat_cache:
            options = Options(algorithm, progress, stat_cache)
            if isinstance(source, str) and URL_RE.match(source):
                return fingerprint_url(source, options)
            return fingerprint_local(os.fspath(source), os.fspath(source), options)
    # Decide from the class's modules before importing anything, so numpy/pandas load only for their own objects.
    packages = {cls.__module__.partition(".")[0] for cls in type(source).__mro__}
    try:
        if "pyarrow" in packages:
            import pyarrow as pa

            if isinstance(source, (pa.Table, pa.RecordBatch)):
                return fingerprint_arrow(source, algorithm)
        if "polars" in packages:
            import polars as pl

            if isinstance(source, (pl.DataFrame, pl.Series)):
                return fingerprint_polars(source, algorithm)
            if isinstance(source, pl.LazyFrame):
                raise CaptureError("cannot fingerprint a polars LazyFrame: it is a query, not data; pass .collect()")
        if "pandas" in packages:
            import pandas as pd

            if isinstance(source, (pd.DataFrame, pd.Series)):
                return fingerprint_pandas(source, algorithm)
        if "numpy" in packages:
            import numpy as np

            if isinstance(source, np.ma.MaskedArray):
                raise CaptureError(
                    "cannot fingerprint a numpy masked array: its mask is not part of its bytes; "
                    "pass np.ma.filled(array) or the data and mask separately"
                )
            if isinstance(source, np.ndarray):
                return fingerprint_ndarray(source, algorithm)
    except RecursionError as exc:
        raise CaptureError(f"cannot fingerprint a {type(source).__name__}: it contains itself") from exc
    raise CaptureError(f"cannot fingerprint an object of type {type_name(source)}; {SUPPORTED}")


# --- bytes ---------------------------------------------------------------------------------------------------------


def _fingerprint_bytes(source: bytes | bytearray | memoryview, algorithm: str) -> Fingerprint:
    data = memoryview(source)
    if not data.c_contiguous:
        data = memoryview(data.tobytes())
    data = data.cast("B")
    return Fingerprint(
        digest=digest_bytes(data, algorithm),
        size_bytes=data.nbytes,
        files=1,
        kind="bytes",
        method=algorithm,
        uri="<bytes>",
    )
