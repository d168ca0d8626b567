"""Large blobs straight to their final key on S3: a multipart upload with parallel parts, hashed as sent.

The file is hashed once to name the blob (a blob the store holds is not sent again, so an interrupted publish
resumes blob by blob). Then its parts are read in order, each added to a second hash and handed to a pool of
uploaders; at most ``workers + 1`` parts are in memory at once, whatever the file's size. When every part is sent
the second hash must equal the first: if the file changed meanwhile the upload is aborted before it completes, so
no object ever names bytes it does not hold, and no staging copy is needed. The completion itself is conditional
(``If-None-Match: *``): a blob another writer completed first is left alone (same name, same bytes).

Each part carries its SHA-256 (``x-amz-checksum-sha256``, the upload created with ``ChecksumAlgorithm=SHA256``),
computed in the uploading thread, and goes through a client that does not sign the payload. Why: botocore signs a
payload by hashing it with SHA-256 while it builds the request, and s3fs builds every request on fsspec's one event
loop thread, so with a signed payload the parts' hashing ran one at a time whatever the number of uploaders (on
plain http botocore always signs it). The checksum header is itself signed and the server rejects a part whose bytes
do not hash to it, so the part is as protected as with a signed payload, and the hashing runs in parallel.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from modelver.errors import StoreError
from modelver.store.backend import conditional_put
from modelver.store.digest import digest_bytes, digest_file, new_hasher
from modelver.threads import leave_signals_to_main

__all__ = [
    "MULTIPART_MIN_BYTES",
    "PART_BYTES",
    "WORKERS",
    "parts_client",
    "put_data_direct",
    "put_file_direct",
    "put_file_multipart",
    "supports_multipart",
]

#: Files at least this large go up as a multipart upload (S3's minimum part size is 5 MiB).
MULTIPART_MIN_BYTES = 16 << 20

#: The size of one part in bytes (S3 allows at most 10,000 parts: 16 MiB parts reach 156 GiB; larger files get
#: larger parts).
PART_BYTES = 16 << 20

#: Parts uploaded at once (memory in flight: about ``(WORKERS + 1) * PART_BYTES`` plus the HTTP stack's copies).
WORKERS = 4


_PARTS_CLIENTS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_PARTS_LOCK = threading.Lock()


def supports_multipart(fs: Any) -> bool:
    """Whether ``fs`` is s3fs (the S3 API's multipart calls are used directly)."""
    return type(fs).__module__.startswith("s3fs") and hasattr(fs, "call_s3")


def parts_client(fs: Any) -> Any:
    """The s3fs filesystem that sends parts for ``fs``: the same options, but the payload left unsigned (each part
    carries its signed SHA-256 checksum instead); made once per ``fs`` and kept while ``fs`` lives."""
    with _PARTS_LOCK:
        found = _PARTS_CLIENTS.get(fs)
        if found is None:
            options = dict(fs.storage_options)
            config = dict(options.get("config_kwargs") or {})
            config["s3"] = {**(config.get("s3") or {}), "payload_signing_enabled": False}
            options.update(config_kwargs=config, skip_instance_cache=True)
            found = _PARTS_CLIENTS[fs] = type(fs)(**options)
        return found


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def put_file_multipart(
    fs: Any,
    source: str,
    algorithm: str,
    final_path: Any,
    *,
    part_bytes: int | None = None,
    workers: int | None = None,
    digest: tuple[str, int] | None = None,
) -> tuple[str, int]:
    """Upload ``source`` to ``final_path(digest)`` as one multipart upload; return ``(digest, size in bytes)``.

    Args:
        fs: an s3fs filesystem.
        source: the local file.
        algorithm: the store's digest algorithm.
        final_path: maps a digest to the blob's store path (``bucket/key``).
        part_bytes: bytes per part (default :data:`PART_BYTES`; raised to 5 MiB, and when the file would need more
            than 10,000 parts).
        workers: parts uploaded in parallel (default :data:`WORKERS`).
        digest: the file's ``(digest, size)`` when already known.

    Returns:
        The digest of the bytes sent, and their size.

    Raises:
        StoreError: the file changed while it was sent (the upload is aborted), or the upload failed.
    """
    expected, size = digest if digest is not None else digest_file(source, algorithm)
    path = final_path(expected)
    if fs.exists(path):
        return expected, size
    part_bytes = max(part_bytes or PART_BYTES, -(-size // 10_000), 5 << 20)
    workers = workers or WORKERS
    bucket, key, _ = fs.split_path(path)
    sender = parts_client(fs)
    upload = sender.call_s3("create_multipart_upload", Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    hasher = new_hasher(algorithm)
    sent = 0
    slots = threading.BoundedSemaphore(workers + 1)  # parts read but not yet sent: memory stays flat

    def send(number: int, data: bytes) -> dict[str, Any]:
        try:
            checksum = _sha256_b64(data)  # here, in this uploader's thread: hashlib lets the others run meanwhile
            answer = sender.call_s3(
                "upload_part",
                Bucket=bucket,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                Body=data,
                ChecksumSHA256=checksum,
            )
            return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}
        finally:
            slots.release()

    try:
        futures: list[Future[dict[str, Any]]] = []
        with ThreadPoolExecutor(workers, "modelver-part", leave_signals_to_main) as pool:
            with open(source, "rb") as handle:
                number = 0
                while True:
                    slots.acquire()
                    data = handle.read(part_bytes)
                    if not data and number > 0:
                        slots.release()
                        break
                    number += 1
                    hasher.update(data)
                    sent += len(data)
                    futures.append(pool.submit(send, number, data))
                    if not data:
                        break
            parts = [f.result() for f in futures]
        actual = f"{algorithm}:{hasher.hexdigest()}"
        if actual != expected or sent != size:
            raise StoreError(
                f"{source} changed while it was uploaded (hashed {expected}, sent {actual}); nothing was stored. "
                "Save the file again once it is complete"
            )
        sender.call_s3(
            "complete_multipart_upload",
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
    except BaseException as exc:
        with contextlib.suppress(Exception):  # best effort; a bucket lifecycle rule cleans what it leaves
            sender.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload)
        if _taken(exc) and fs.exists(path):
            return expected, size  # another writer completed the same blob first
        raise
    finally:
        fs.invalidate_cache(path)
    return expected, size


def _taken(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return "PreconditionFailed" in text or "412" in text or isinstance(exc, FileExistsError)


def put_file_direct(fs: Any, source: str, algorithm: str, final_path: Any, digest: tuple[str, int]) -> tuple[str, int]:
    """Upload a file under :data:`MULTIPART_MIN_BYTES` to its final key with one conditional PUT of the bytes that
    were hashed (read once into memory, so what is sent is what is named); return ``(digest, size in bytes)``.

    Raises:
        StoreError: the file changed since ``digest`` was computed (nothing is stored).
    """
    expected = digest[0]
    with open(source, "rb") as handle:
        data = handle.read()
    actual = digest_bytes(data, algorithm)
    if actual != expected:
        raise StoreError(
            f"{source} changed while it was uploaded (hashed {expected}, read {actual}); nothing was stored. "
            "Save the file again once it is complete"
        )
    put_data_direct(fs, data, final_path(expected))
    return expected, len(data)


def put_data_direct(fs: Any, data: bytes, path: str) -> None:
    """Create the blob ``path`` holding ``data`` with one conditional PUT; a blob another writer stored first is
    left alone (same name, same bytes).

    Raises:
        FileExistsError: ``path`` holds other bytes.
    """
    with contextlib.suppress(FileExistsError):  # another writer stored the same blob first
        if data:
            conditional_put(fs, path, data)
        else:  # S3 makes an empty create-if-absent unconditional; the empty blob is the same bytes anyway
            fs.pipe_file(path, data)
    fs.invalidate_cache(path)
