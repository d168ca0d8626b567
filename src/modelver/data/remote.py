"""Fingerprints of fsspec URLs: remote files and prefixes, and the checksums object stores already hold.

Owns hashing what an fsspec URL names (``file://`` goes to :mod:`.files`), reusing an S3 or GCS content
checksum instead of downloading, remembering streamed objects under the store's change marker, and
:func:`rehash`, which digests one file or URL with a given algorithm for the drift check.

Object stores: the store's own checksum when it hashes the content
    An S3 object with a full-object ``ChecksumSHA256`` is recorded as ``sha256:<hex>`` (method ``"s3-sha256"``);
    else a single-part ETag (the MD5 of the bytes, unless SSE-KMS or SSE-C) as ``md5:<hex>`` (``"s3-etag-md5"``);
    a GCS object's ``md5Hash`` as ``md5:<hex>`` (``"gcs-md5"``). Nothing is downloaded for those. A multipart
    ETag (``<hex>-N``), a composite checksum and a CRC are not content hashes: those objects are streamed and
    hashed with the requested algorithm, and remembered under the store's change marker (ETag/VersionId). A
    remote directory's ``summary`` counts the methods (``{"methods": {"s3-etag-md5": 3, "blake3": 1}}``); its tree
    digest is still computed with the requested algorithm over the per-file digests, whatever made them. The same
    bytes therefore get an ``md5:``/``sha256:`` digest on S3 and a ``blake3:`` one on disk: the drift check
    reconciles them by hashing the current copy with the recorded algorithm (:func:`rehash`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from modelver.capture.redact import strip_url_credentials
from modelver.data.files import Options, fingerprint_local, hash_handle, parallel, progress_bar
from modelver.data.fingerprint import URL_RE, Fingerprint, tree_fingerprint
from modelver.data.walk import checked
from modelver.errors import CaptureError
from modelver.store.digest import CHUNK_BYTES, digest_chunks, new_hasher

if TYPE_CHECKING:
    from modelver.store.digest import Hasher

__all__ = ["fingerprint_url", "rehash"]


def fingerprint_url(url: str, options: Options) -> Fingerprint:
    """The fingerprint of the file or directory at an fsspec URL, from store checksums where trustworthy."""
    import fsspec.core
    from fsspec.implementations.local import LocalFileSystem

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise CaptureError(f"cannot fingerprint {url!r}: {exc}") from exc
    except Exception as exc:  # backends raise their own types for bad URLs and credentials
        raise CaptureError(f"cannot fingerprint {url!r}: {type(exc).__name__}: {exc}") from exc
    if isinstance(fs, LocalFileSystem):
        # Same code path as a plain path, so file:// URLs get the same symlink policy and parallel hashing.
        local = fingerprint_local(path, url, options)
        return attrs.evolve(local, uri=strip_url_credentials(url))
    algorithm = options.algorithm
    try:
        info = fs.info(path)
    except FileNotFoundError as exc:
        raise CaptureError(f"cannot fingerprint {url!r}: no such file or directory") from exc
    except Exception as exc:  # network, permission and credential errors come in backend-specific types
        raise CaptureError(f"cannot fingerprint {url!r}: {type(exc).__name__}: {exc}") from exc
    if info.get("type") != "directory":
        with progress_bar(options.progress, int(info.get("size") or 0), url) as advance:
            digest, size, method = _digest_remote_file(fs, path, info, url, options, advance)
        return Fingerprint(
            digest=digest, size_bytes=size, files=1, kind="file", method=method, uri=strip_url_credentials(url)
        )
    prefix = path.rstrip("/") + "/"
    try:
        found = fs.find(path, withdirs=False, detail=True)
    except Exception as exc:  # as above
        raise CaptureError(f"cannot fingerprint {url!r}: cannot list it: {type(exc).__name__}: {exc}") from exc
    files: list[tuple[str, str]] = []
    for name, detail in sorted(found.items()):
        # Object stores may hold zero-byte "dir/" markers: they are directories, not files.
        if detail.get("type", "file") != "file" or not name.startswith(prefix) or name.endswith("/"):
            continue
        rel = name[len(prefix) :]
        checked(rel, url)
        files.append((rel, name))
    with progress_bar(options.progress, sum(int(found[name].get("size") or 0) for _, name in files), url) as advance:
        hashed = parallel(lambda item: _digest_remote_file(fs, item[1], found[item[1]], url, options, advance), files)
    entries = dict(sorted((rel, (digest, size)) for (rel, _), (digest, size, _) in zip(files, hashed, strict=True)))
    methods: dict[str, int] = {}
    for _, _, method in hashed:
        methods[method] = methods.get(method, 0) + 1
    result = tree_fingerprint(entries, [], strip_url_credentials(url), algorithm)
    return attrs.evolve(result, summary={"methods": dict(sorted(methods.items()))})


def _change_marker(info: Mapping[str, Any]) -> str | None:
    """The backend's own marker of an object's content version, when it has one (S3, GCS, Azure)."""
    for field in ("VersionId", "ETag", "etag", "generation", "md5Hash", "crc32c", "content_md5"):
        value = info.get(field)
        if value:
            return f"{field}={value}"
    return None


def _digest_remote_file(
    fs: Any, path: str, info: Mapping[str, Any], url: str, options: Options, advance: Callable[[int], None]
) -> tuple[str, int, str]:
    """Digest one remote object: ``(digest, size in bytes, method)``, from the store's own checksum when it has one.

    ``advance`` is told every byte accounted for (read, or answered without reading), for the progress bar.
    """
    size = int(info.get("size") or 0)
    try:
        checksum = _store_checksum(fs, path, info)
    except Exception as exc:  # backend-specific error types
        raise CaptureError(f"cannot fingerprint {url!r}: cannot stat {path!r}: {type(exc).__name__}: {exc}") from exc
    if checksum is not None:
        advance(size)
        return checksum[0], size, checksum[1]
    marker = _change_marker(info)
    object_url = f"{_protocol(fs)}://{path}"
    if marker is not None and options.cache is not None:
        cached = options.cache.lookup_object(options.algorithm, object_url, marker, size)
        if cached is not None:
            advance(size)
            return cached, size, options.algorithm

    def chunks(handle: Any) -> Iterator[bytes]:
        while chunk := handle.read(CHUNK_BYTES):
            advance(len(chunk))
            yield chunk

    try:
        with fs.open(path, "rb") as handle:
            digest, read = digest_chunks(chunks(handle), options.algorithm)
    except Exception as exc:  # as above: backend-specific error types
        raise CaptureError(f"cannot fingerprint {url!r}: cannot read {path!r}: {type(exc).__name__}: {exc}") from exc
    if marker is not None and options.cache is not None and read == size:
        options.cache.store_object(options.algorithm, object_url, marker, size, digest)
    return digest, read, options.algorithm


_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


def _store_checksum(fs: Any, path: str, info: Mapping[str, Any]) -> tuple[str, str] | None:
    """The store's own content hash of an object as ``(digest, method)``, or ``None`` when it has none to trust.

    - S3: a full-object ``ChecksumSHA256`` (asked for with ``ChecksumMode=ENABLED``) gives ``sha256:<hex>``,
      method ``"s3-sha256"``; else a single-part ETag is the MD5 of the bytes (unless the object is encrypted with
      SSE-KMS or SSE-C, where it is not), ``md5:<hex>``, method ``"s3-etag-md5"``. A multipart ETag (``<hex>-N``)
      and a composite checksum (``...-N``) hash the parts, not the bytes: ``None``, the object is streamed.
    - GCS: ``md5Hash`` (absent on composite objects) gives ``md5:<hex>``, method ``"gcs-md5"``. ``crc32c`` is a
      32-bit check, not an identity: never used.
    """
    protocol = _protocol(fs)
    if protocol in ("s3", "s3a"):
        etag = str(info.get("ETag") or "").strip('"')
        if not _MD5_HEX.match(etag) or not hasattr(fs, "call_s3"):
            return None  # multipart upload, or no usable ETag
        bucket, key, version = fs.split_path(path)
        head = fs.call_s3(
            "head_object",
            Bucket=bucket,
            Key=key,
            ChecksumMode="ENABLED",
            **({"VersionId": version} if version else {}),
        )
        sha256 = str(head.get("ChecksumSHA256") or "")
        if sha256 and "-" not in sha256 and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            return f"sha256:{base64.b64decode(sha256).hex()}", "s3-sha256"
        etag = str(head.get("ETag") or "").strip('"')
        encrypted = head.get("SSECustomerAlgorithm") or str(head.get("ServerSideEncryption", "")).startswith("aws:kms")
        if _MD5_HEX.match(etag) and not encrypted:
            return f"md5:{etag}", "s3-etag-md5"
        return None
    if protocol in ("gs", "gcs") and info.get("md5Hash"):
        return f"md5:{base64.b64decode(str(info['md5Hash'])).hex()}", "gcs-md5"
    return None


def rehash(location: str, algorithm: str) -> str:
    """Digest the bytes of one local file or fsspec URL with ``algorithm`` (``blake3``, ``sha256`` or ``md5``).

    For comparing a digest a store computed (``md5:`` from an ETag, ``sha256:`` from S3) with the same file
    elsewhere: the drift check uses it when a recorded and a current digest were made by different methods.

    Raises:
        CaptureError: the file cannot be read.
        ValueError: the algorithm is unknown.
    """
    hasher: Hasher = hashlib.md5(usedforsecurity=False) if algorithm == "md5" else new_hasher(algorithm)
    try:
        if URL_RE.match(location):
            import fsspec

            with fsspec.open(location, "rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
                    hasher.update(chunk)
        else:
            with open(location, "rb", buffering=0) as handle:
                hash_handle(handle, 0, hasher)
    except Exception as exc:  # backend-specific error types
        raise CaptureError(f"cannot read {location!r}: {type(exc).__name__}: {exc}") from exc
    return f"{algorithm}:{hasher.hexdigest()}"


def _protocol(fs: Any) -> str:
    protocol = fs.protocol
    return str(protocol if isinstance(protocol, str) else protocol[0])
