"""A modelver store: write-once, content-addressed objects under one fsspec root URL.

Layout under the root::

    modelver.json                         store marker: format version, digest algorithm (created once, exclusively)
    blobs/<algo>/<aa>/<rest>              content-addressed bytes: artifacts, code diffs, sources, big configs
    manifests/<algo>/<aa>/<rest>.json     content-addressed manifests (canonical JSON)
    names/<name>/versions/<version>.json  version tag {manifest digest, created_at, by}: THE commit point
    runs/<run-id>.json                    failed runs (their capture, kept for debugging)
    blobs/.staging/<uuid>                 uploads in flight (moved to their digest when done; ``gc`` clears stale ones)
    **/.tmp-<uuid>                        local temp files of create-if-absent writes (``gc`` clears stale ones)

Every object is written once. Blobs and manifests are named by their digest, so writing one that exists is a no-op.
A version becomes visible only through its tag, created last with one atomic create-if-absent request
(:meth:`Store.create_exclusive`); a crash before that leaves unreferenced blobs for ``gc``, never a partial version.
Every read of a blob or manifest is checked against its digest. Remote stores read blobs and manifests through a
local, verified cache (:mod:`modelver.store.cache`); tags and listings always go to the store, so new versions are seen.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posixpath
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import fsspec
from fsspec.callbacks import Callback
from fsspec.implementations.local import LocalFileSystem

from modelver.errors import IntegrityError, ModelverError, StoreError, VersionExistsError, VersionNotFoundError
from modelver.store.cache import ReadCache
from modelver.store.digest import (
    ALGORITHMS,
    CHUNK_BYTES,
    DEFAULT_ALGORITHM,
    digest_bytes,
    digest_file,
    format_digest,
    new_hasher,
    split_digest,
)
from modelver.store.statcache import StatCache, file_key, trusted

MARKER = "modelver.json"
FORMAT = "modelver.store/1"

# Backends whose fsspec implementation sends a real conditional create for mode="create"
# (../shared/storage-facts.md): S3 If-None-Match, GCS ifGenerationMatch=0, Azure If-None-Match.
_CONDITIONAL_CREATE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


# fsspec protocol -> the modelver extra that installs its implementation
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}

# Exception class names of the HTTP stacks under fsspec backends (botocore, aiohttp, requests, azure-core) that mean
# the store could not be reached at all, as opposed to "it answered no". Matched by name: those packages are
# optional extras.
_UNREACHABLE_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ClientConnectorError",
        "ClientConnectionError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ServiceRequestError",
        "ConnectionError",
    }
)

#: A deduplicated object older than this (seconds) gets its mtime refreshed, so ``gc`` (which spares objects younger
#: than its grace period) never collects an object an in-flight publish has just reused (git "freshens" the same way).
FRESHEN_AFTER_S = 3600.0
#: Buffer of a local copy (bytes): large enough for blake3's threads to pay off, small enough to stream.
_COPY_CHUNK_BYTES = 8 << 20
#: Attempts of a conditional create that real S3 answers with 409 ConditionalRequestConflict (a concurrent write).
_CONFLICT_RETRIES = 5
#: S3 error codes of a 409 that means "another conditional operation on this key is in flight: try again".
_CONFLICT_CODES = frozenset({"ConditionalRequestConflict", "OperationAborted"})


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) means the store could not be reached (network, endpoint)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)) or type(current).__name__ in _UNREACHABLE_NAMES:
            return True
        current = current.__cause__ or current.__context__
    return False


def _http_error(exc: BaseException) -> tuple[int | None, str | None]:
    """``(HTTP status, S3 error code)`` of the botocore ``ClientError`` s3fs raised ``exc`` from, else ``None``s."""
    response = getattr(exc.__cause__, "response", None)
    if not isinstance(response, dict):
        return None, None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    return (status if isinstance(status, int) else None), (str(code) if code is not None else None)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def info_mtime(info: dict[str, Any]) -> float | None:
    """Modification time (Unix seconds) from an fsspec ``info()`` dict: local ``mtime``, S3 ``LastModified``,
    GCS ``updated``, Azure ``last_modified``, memory ``created``; ``None`` if the backend reports none."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "mtime_ns", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value) / 1e9 if key == "mtime_ns" else float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


class _RichProgress(Callback):  # type: ignore[misc]  # fsspec is untyped
    """An fsspec callback that draws one rich progress bar for a transfer (only built when stderr is a terminal)."""

    def __init__(self, description: str, size: int) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        super().__init__(size=size)
        self._progress = Progress(
            "{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
        )
        self._task = self._progress.add_task(description, total=size)
        self._progress.start()

    def call(self, *args: Any, **kwargs: Any) -> None:
        self._progress.update(self._task, completed=self.value, total=self.size)

    def close(self) -> None:
        self._progress.stop()


#: Transfers smaller than this (bytes) never draw a progress bar.
PROGRESS_MIN_BYTES = 8 << 20


@contextlib.contextmanager
def transfer_progress(description: str, size: int) -> Iterator[Callback]:
    """A progress callback for a transfer of ``size`` bytes: a rich bar when stderr is a terminal and the transfer
    is large, otherwise fsspec's silent no-op callback. Call ``relative_update(n)`` as bytes move."""
    if size < PROGRESS_MIN_BYTES or os.environ.get("MODELVER_NO_PROGRESS") or not _stderr_is_terminal():
        yield Callback()
        return
    bar = _RichProgress(description, size)
    try:
        yield bar
    finally:
        bar.close()


def _stderr_is_terminal() -> bool:
    import sys

    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Store:
    """A store rooted at an fsspec URL (a local path, ``file://``, ``memory://``, ``s3://bucket/prefix``, ...).

    Args:
        url: where the store lives. A local path is made absolute.
        storage_options: passed to the fsspec filesystem (credentials, ``client_kwargs={"endpoint_url": ...}``, ...).

    The store marker is read lazily and written on the first write, so opening a store costs no I/O. A remote
    store (neither local disk nor ``memory://``) reads blobs and manifests through the local :class:`ReadCache`.
    """

    def __init__(self, url: str | os.PathLike[str], **storage_options: Any) -> None:
        text = os.fspath(url)
        if "://" not in text:
            text = os.path.abspath(os.path.expanduser(text))
        self.url = text
        self.storage_options = dict(storage_options)
        try:
            fs, root = fsspec.core.url_to_fs(text, **storage_options)
        except ImportError as exc:
            protocol = text.split("://", 1)[0]
            extra = _EXTRAS.get(protocol)
            hint = f"pip install 'modelver[{extra}]'" if extra else "install the fsspec implementation for it"
            raise StoreError(f"cannot open the store {text}: {exc}. To use {protocol}:// stores, {hint}") from exc
        except ValueError as exc:
            raise StoreError(f"cannot open the store {text}: {exc}") from exc
        self.fs: Any = fs
        self.root: str = root.rstrip("/") or "/"
        self.is_local = isinstance(fs, LocalFileSystem)
        self.is_remote = not self.is_local and "memory" not in _protocols(fs)
        self.cache: ReadCache | None = ReadCache() if self.is_remote else None
        self._algorithm: str | None = None

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- errors ----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """Turn backend errors into :class:`StoreError` saying what failed; not-found/exists pass through."""
        try:
            yield
        except (FileNotFoundError, FileExistsError, ModelverError):
            raise
        except Exception as exc:
            if is_unreachable(exc):
                raise StoreError(
                    f"cannot reach the store at {self.url} to {what}: {exc}. Check the network, the endpoint URL "
                    "and credentials"
                ) from exc
            if isinstance(exc, OSError):
                raise StoreError(f"cannot {what} in the store at {self.url}: {exc}") from exc
            raise

    # -- paths -----------------------------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def blob_path(self, digest: str) -> str:
        """Store path of the blob with ``digest`` (``blobs/<algo>/<aa>/<rest>``)."""
        algo, hexdigest = split_digest(digest)
        return self._path("blobs", algo, hexdigest[:2], hexdigest[2:])

    def manifest_path(self, digest: str) -> str:
        """Store path of the manifest with ``digest``."""
        algo, hexdigest = split_digest(digest)
        return self._path("manifests", algo, hexdigest[:2], hexdigest[2:] + ".json")

    def tag_path(self, name: str, version: str) -> str:
        """Store path of the version tag of ``name@version``."""
        return self._path("names", name, "versions", version + ".json")

    # -- marker ----------------------------------------------------------------------------------------------

    @property
    def algorithm(self) -> str:
        """The store's digest algorithm: the marker's, or the default for a store not yet written."""
        if self._algorithm is None:
            marker = self._read_marker()
            self._algorithm = marker["digest_algorithm"] if marker else DEFAULT_ALGORITHM
        return self._algorithm

    def exists(self) -> bool:
        """Whether the store has been written to (its marker exists)."""
        return self._read_marker() is not None

    def _read_marker(self) -> dict[str, Any] | None:
        try:
            with self._translate("read the store marker"):
                raw = self.fs.cat_file(self._path(MARKER))
        except FileNotFoundError:
            return None
        try:
            marker = json.loads(raw)
            if marker.get("format") != FORMAT or marker.get("digest_algorithm") not in ALGORITHMS:
                raise ValueError(marker)
        except (ValueError, AttributeError) as exc:
            raise StoreError(
                f"{self.url} holds a {MARKER} that is not a modelver store marker of format {FORMAT}; "
                "point MODELVER_STORE at another directory"
            ) from exc
        return dict(marker)

    def initialize(self, algorithm: str = DEFAULT_ALGORITHM) -> None:
        """Create the store marker if the store is new (exclusively, so two first writers agree).

        Raises:
            StoreError: the backend cannot publish (no create-if-absent primitive) or cannot be written.
        """
        self.check_publishable()
        if self._read_marker() is not None:
            return
        marker = {"format": FORMAT, "digest_algorithm": algorithm}
        with contextlib.suppress(FileExistsError):
            self.create_exclusive(self._path(MARKER), json.dumps(marker, sort_keys=True).encode())
        self._algorithm = None

    def check_publishable(self) -> None:
        """Raise :class:`StoreError` unless the backend has an atomic create-if-absent primitive."""
        protocols = set(_protocols(self.fs))
        if self.is_local or "memory" in protocols or protocols & _CONDITIONAL_CREATE_PROTOCOLS:
            return
        raise StoreError(
            f"cannot publish to {self.url}: its filesystem ({', '.join(sorted(protocols))}) has no atomic "
            "create-if-absent write, so two publishers could overwrite each other. Publish to a local directory, "
            "memory://, s3://, gs:// or az:// instead (reading from this store still works)"
        )

    # -- write-once primitives -------------------------------------------------------------------------------

    def create_exclusive(self, path: str, data: bytes) -> None:
        """Create ``path`` holding ``data`` in one atomic create-if-absent step.

        Local disk: temp file in the same directory, fsync, ``os.link`` onto the final name (atomic and
        ``EEXIST`` if taken, also on NFS), fsync the directory. Object stores: one conditional PUT (s3fs, gcsfs and
        adlfs ``pipe_file(mode="create")``: ``If-None-Match: *`` / ``ifGenerationMatch=0``). The object is never
        visible half-written.

        Raises:
            FileExistsError: ``path`` exists; its content is untouched.
            StoreError: the write failed, the store cannot be reached, or the backend has no such primitive.
        """
        with self._translate(f"write {path}"):
            if self.is_local:
                self._link_create(path, data)
            elif "memory" in _protocols(self.fs):
                self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
                with self.fs.open(path, "xb") as handle:
                    handle.write(data)
            else:
                self.check_publishable()
                if not data:
                    raise ValueError("an empty create-if-absent is unconditional on S3; write non-empty objects")
                self._conditional_put(path, data)

    def _conditional_put(self, path: str, data: bytes) -> None:
        # One request carrying the only precondition we send (If-None-Match: * / ifGenerationMatch=0 / Azure's
        # overwrite=False), so any "precondition failed" answer means "taken". Two answers need care:
        # - 409 ConditionalRequestConflict (real S3, when another conditional write to the key is in flight; moto
        #   never sends it): nothing was written, so retry with backoff; the retry finds the key taken or free.
        # - "taken" after a retry by the HTTP stack (s3fs and botocore resend a PUT whose answer was lost): the
        #   object may be our own first attempt. If the key holds exactly our bytes the create succeeded.
        for attempt in range(_CONFLICT_RETRIES):
            try:
                self.fs.pipe_file(path, data, mode="create")
                return
            except FileExistsError:
                if self._holds(path, data):
                    return
                raise
            except OSError as exc:
                status, code = _http_error(exc)
                if status == 412 or code == "PreconditionFailed":
                    # s3fs maps a 412 to FileExistsError only when the body names the If-None-Match condition;
                    # S3-compatible servers that omit it answer the same thing.
                    if self._holds(path, data):
                        return
                    raise FileExistsError(f"{path} exists: {exc}") from exc
                if (status == 409 or code in _CONFLICT_CODES) and attempt < _CONFLICT_RETRIES - 1:
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise

    def _holds(self, path: str, data: bytes) -> bool:
        """Whether ``path`` exists and holds exactly ``data`` (read afresh, not from a listing cache)."""
        try:
            return bool(self.fs.cat_file(path) == data)
        except FileNotFoundError:
            return False

    def _link_create(self, path: str, data: bytes) -> None:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        _fsync_dir(directory)

    def _freshen(self, path: str) -> bool:
        """Whether the object at ``path`` exists; if it does and is old, refresh its mtime for ``gc``'s grace.

        Local disk: ``os.utime``. S3: a server-side copy onto itself (no bytes leave the client). Other backends
        are not freshened (docs/storage.md: keep ``gc --grace`` longer than the longest run there).
        """
        if self.is_local:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                return False
            if time.time() - st.st_mtime > FRESHEN_AFTER_S:
                with contextlib.suppress(OSError):
                    os.utime(path)
            return True
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return False
        mtime = info_mtime(info)
        if mtime is not None and time.time() - mtime > FRESHEN_AFTER_S and hasattr(self.fs, "call_s3"):
            bucket, key, _ = self.fs.split_path(path)
            self.fs.call_s3(
                "copy_object",
                Bucket=bucket,
                Key=key,
                CopySource={"Bucket": bucket, "Key": key},
                MetadataDirective="REPLACE",
            )
        return True

    # -- blobs -----------------------------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` as a blob (a no-op when it exists); return its digest.

        Raises:
            StoreError: the store cannot be written or reached.
        """
        digest = digest_bytes(data, self.algorithm)
        path = self.blob_path(digest)
        with self._translate(f"write blob {digest}"):
            if not self._freshen(path):
                if data or not self.is_remote:
                    with contextlib.suppress(FileExistsError):
                        self.create_exclusive(path, data)
                else:
                    self.fs.pipe_file(path, data)  # the empty blob: any writer writes the same (no) bytes
        return digest

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a local file as a blob without reading it into memory; return ``(digest, size in bytes)``.

        A file whose digest is remembered by the :class:`~modelver.store.statcache.StatCache` (same device, inode, size,
        mtime, ctime) and whose blob the store holds is neither read nor sent. Otherwise, on local disk the file is
        copied by the kernel, the copy hashed and fsynced, then linked into place. Elsewhere it is hashed first,
        and a blob the store already holds is not uploaded (unchanged files cost no upload); a new one is uploaded
        to a staging key while being hashed again, and moved to the digest of the bytes actually sent, so a file
        that changes in between can never leave a blob whose bytes do not match its name.

        Raises:
            StoreError: the file cannot be read, or the upload fails.
        """
        source = os.path.abspath(os.fspath(source))
        try:
            with self._translate(f"upload {source}"):
                before = os.stat(source)
                # Only filesystems with stable inodes and fine timestamps are trusted (see modelver.store.statcache).
                state = StatCache() if trusted(source) else None
                known = state.lookup_files(self.algorithm, {source: file_key(before)}).get(source) if state else None
                if known is not None and self._freshen(self.blob_path(known[0])):
                    return known
                if self.is_local:
                    digest, size = self._put_file_local(source)
                else:
                    digest, size = self._put_file_remote(source)
                if state is not None and file_key(os.stat(source)) == file_key(before):
                    state.store_files(self.algorithm, [(source, file_key(before), digest)])
        except OSError as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot upload {source} to {self.url}: {exc}") from exc
        return digest, size

    def _put_file_remote(self, source: str) -> tuple[str, int]:
        digest, size = digest_file(source, self.algorithm)
        if self._freshen(self.blob_path(digest)):
            return digest, size
        staging = self._path("blobs", ".staging", uuid.uuid4().hex)
        hasher = new_hasher(self.algorithm)
        size = 0
        with (
            transfer_progress(f"upload {os.path.basename(source)}", os.stat(source).st_size) as progress,
            open(source, "rb") as src,
            self.fs.open(staging, "wb") as dst,
        ):
            while chunk := src.read(CHUNK_BYTES):
                hasher.update(chunk)
                dst.write(chunk)
                size += len(chunk)
                progress.relative_update(len(chunk))
        digest = f"{self.algorithm}:{hasher.hexdigest()}"
        final = self.blob_path(digest)
        if self.fs.exists(final):
            self.fs.rm_file(staging)
        else:
            self.fs.mv(staging, final)
        return digest, size

    def _put_file_local(self, source: str) -> tuple[str, int]:
        # One pass (copy_hashing): the kernel copies into a private temp file while a thread hashes what was
        # written, so the digest names exactly the bytes stored even if the source changes meanwhile.
        # benchmarks/publish.py and docs/storage.md ("Measured") compare this with cp and cp + sync.
        staging = self._path("blobs", ".staging")
        os.makedirs(staging, exist_ok=True)
        tmp = os.path.join(staging, uuid.uuid4().hex)
        try:
            digest, size = copy_hashing(source, tmp, self.algorithm)
            os.chmod(tmp, 0o444)
            final = self.blob_path(digest)
            if not self._freshen(final):
                os.makedirs(os.path.dirname(final), exist_ok=True)
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, final)
                    _fsync_dir(os.path.dirname(final))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return digest, size

    def read_blob(self, digest: str) -> bytes:
        """Return the bytes of the blob with ``digest``, verified (through the read cache on remote stores).

        Raises:
            IntegrityError: the blob is missing or its bytes do not hash to ``digest``.
            StoreError: the store cannot be reached.
        """
        return self._read_verified(self.blob_path(digest), digest, "blob")

    def iter_blob(self, digest: str) -> Iterator[bytes]:
        """Stream a blob's bytes from the store in chunks, unverified (callers hash as they go), never cached."""
        path = self.blob_path(digest)
        try:
            with self._translate(f"read blob {digest}"), self.fs.open(path, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk
        except FileNotFoundError as exc:
            raise IntegrityError(
                f"blob {digest} is missing from the store at {self.url} ({path}); run `modelver verify` to "
                "find every version that references it",
                digest=digest,
                location=path,
            ) from exc

    def blob_size(self, digest: str) -> int | None:
        """The stored size in bytes of a blob, or ``None`` when it is missing."""
        try:
            with self._translate(f"stat blob {digest}"):
                return int(self.fs.info(self.blob_path(digest))["size"])
        except FileNotFoundError:
            return None

    def download(self, digest: str, destination: str | os.PathLike[str]) -> int:
        """Copy a blob to a local file, streaming and verifying; return its size in bytes.

        The file appears under ``destination`` only once verified (temp file then rename). On a remote store the
        blob is fetched into the read cache first (unless larger than the cache) and copied from there.

        Raises:
            IntegrityError: the blob is missing or corrupt; nothing is left at ``destination``.
            StoreError: the store cannot be reached.
        """
        destination = os.fspath(destination)
        os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
        if self.cache is not None:
            size = self.cache.copy_to(digest, destination)
            if size is not None:
                return size
            stored = self.blob_size(digest)
            if stored is not None and stored <= self.cache.max_bytes:
                self.cache.fill(digest, self._iter_with_progress(digest, stored), location=self.blob_path(digest))
                size = self.cache.copy_to(digest, destination)
                if size is not None:
                    return size
        return self._download_direct(digest, destination)

    def _iter_with_progress(self, digest: str, size: int) -> Iterator[bytes]:
        with transfer_progress(f"download {digest[:19]}", size) as progress:
            for chunk in self.iter_blob(digest):
                progress.relative_update(len(chunk))
                yield chunk

    def _download_direct(self, digest: str, destination: str) -> int:
        algo, _ = split_digest(digest)
        hasher = new_hasher(algo)
        tmp = f"{destination}.modelver-{uuid.uuid4().hex[:8]}.part"
        size = 0
        try:
            with open(tmp, "xb") as out:
                for chunk in self.iter_blob(digest):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            actual = f"{algo}:{hasher.hexdigest()}"
            if actual != digest:
                raise IntegrityError(
                    f"blob {self.blob_path(digest)} in {self.url} is corrupt: expected {digest}, read {actual}; "
                    "restore it from a copy of the store or republish the version",
                    digest=digest,
                    actual=actual,
                    location=self.blob_path(digest),
                )
            os.replace(tmp, destination)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return size

    # -- manifests, tags, runs -------------------------------------------------------------------------------

    def put_manifest(self, body: bytes) -> str:
        """Store canonical manifest JSON under its digest (no-op when present); return the digest.

        Raises:
            StoreError: the store cannot be written or reached.
        """
        digest = digest_bytes(body, self.algorithm)
        path = self.manifest_path(digest)
        with self._translate(f"write manifest {digest}"):
            if not self._freshen(path):
                with contextlib.suppress(FileExistsError):
                    self.create_exclusive(path, body)
        return digest

    def read_manifest(self, digest: str) -> bytes:
        """Return a manifest's canonical JSON, verified against ``digest`` (cached on remote stores).

        Raises:
            IntegrityError: the manifest is missing or does not hash to ``digest``.
            StoreError: the store cannot be reached.
        """
        return self._read_verified(self.manifest_path(digest), digest, "manifest")

    def create_tag(self, name: str, version: str, data: bytes) -> None:
        """Make ``name@version`` visible by creating its tag, atomically and only if absent.

        Raises:
            VersionExistsError: the version is taken; the existing tag is untouched.
            StoreError: the store cannot be written or reached.
        """
        try:
            self.create_exclusive(self.tag_path(name, version), data)
        except FileExistsError as exc:
            raise VersionExistsError(
                f"{name}@{version} already exists in {self.url}; versions are never overwritten. "
                "Choose another version, or leave version= unset to take the next free one",
                name=name,
                version=version,
            ) from exc

    def read_tag(self, name: str, version: str) -> bytes:
        """Return the raw tag of ``name@version`` (always from the store: tags are never cached).

        Raises:
            VersionNotFoundError: no such tag.
            StoreError: the store cannot be reached.
        """
        try:
            with self._translate(f"read the tag of {name}@{version}"):
                return bytes(self.fs.cat_file(self.tag_path(name, version)))
        except FileNotFoundError as exc:
            raise VersionNotFoundError(
                f"{name}@{version} not found in {self.url}", reference=f"{name}@{version}"
            ) from exc

    def list_versions(self, name: str) -> list[str]:
        """Version strings that have a tag under ``name``, unordered (listed afresh, never from a cache).

        Raises:
            StoreError: the store cannot be listed or reached.
        """
        directory = self._path("names", name, "versions")
        try:
            with self._translate(f"list the versions of {name}"):
                # fsspec object stores cache listings per instance; another process may have added a tag since.
                self.fs.invalidate_cache(directory)
                entries = self.fs.ls(directory, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for entry in entries:
            base = posixpath.basename(str(entry).rstrip("/"))
            if base.endswith(".json") and not base.startswith("."):
                out.append(base[: -len(".json")])
        return out

    def list_names(self) -> list[str]:
        """Every name with at least one version, sorted.

        Raises:
            StoreError: the store cannot be listed or reached.
        """
        prefix = self._path("names")
        try:
            with self._translate("list the names"):
                self.fs.invalidate_cache(prefix)
                paths = self.fs.find(prefix)
        except FileNotFoundError:
            return []
        names = set()
        for path in paths:
            rel = posixpath.relpath(str(path), prefix)
            head, sep, tail = rel.rpartition("/versions/")
            if sep and tail.endswith(".json") and "/" not in tail and not tail.startswith("."):
                names.add(head)
        return sorted(names)

    def write_run(self, run_id: str, data: bytes) -> str:
        """Keep the record of a run that published no version; return its store path."""
        path = self._path("runs", f"{run_id}.json")
        self.create_exclusive(path, data)
        return path

    def has_runs(self) -> bool:
        """Whether any run record exists (one existence check)."""
        with self._translate("look for run records"):
            self.fs.invalidate_cache(self._path("runs"))
            return bool(self.fs.exists(self._path("runs")))

    def list_runs(self) -> list[bytes]:
        """The raw records of runs that published no version, oldest first (run ids start with a UTC time)."""
        directory = self._path("runs")
        try:
            with self._translate("list run records"):
                self.fs.invalidate_cache(directory)
                paths = sorted(str(p) for p in self.fs.ls(directory, detail=False) if str(p).endswith(".json"))
                return [bytes(self.fs.cat_file(p)) for p in paths if not posixpath.basename(p).startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _read_verified(self, path: str, digest: str, what: str) -> bytes:
        if self.cache is not None:
            cached = self.cache.read(digest)
            if cached is not None:
                return cached
        try:
            with self._translate(f"read {what} {digest}"):
                data = bytes(self.fs.cat_file(path))
        except FileNotFoundError as exc:
            raise IntegrityError(
                f"{what} {digest} is missing from the store at {self.url} ({path}); the store was damaged or "
                "partially copied. Restore it, or run `modelver verify` to list what is affected",
                digest=digest,
                location=path,
            ) from exc
        algo, _ = split_digest(digest)
        actual = digest_bytes(data, algo)
        if actual != digest:
            raise IntegrityError(
                f"{what} {path} in {self.url} is corrupt: expected {digest}, read {actual}. "
                "Restore it from a copy of the store or republish the version",
                digest=digest,
                actual=actual,
                location=path,
            )
        if self.cache is not None and len(data) <= self.cache.max_bytes:
            with contextlib.suppress(OSError):  # a full or read-only cache only costs the next read
                self.cache.fill(digest, [data], location=path)
        return data


def copy_hashing(source: str, target: str, algorithm: str) -> tuple[str, int]:
    """Copy the local file ``source`` to the new file ``target`` and hash what ``target`` holds, in one pass.

    The kernel copies chunk by chunk (``copy_file_range``, as ``cp`` does; a read/write loop where it is missing or
    refused); meanwhile a worker thread reads the chunk just written back from ``target`` (still in the page cache)
    and hashes it, so the digest names exactly the bytes stored even if ``source`` changes during the copy. Chunks
    copied more than a window ago are handed to the disk at once (Linux ``sync_file_range``), so the closing
    ``fsync`` does not wait for a whole file of dirty pages. Measured against the previous copy-then-hash-then-fsync
    and against ``cp`` + ``sync`` in docs/storage.md ("Measured").

    Returns:
        ``(digest, size in bytes)`` of what was written to ``target``, which is fsynced.

    Raises:
        FileExistsError: ``target`` exists (it is created exclusively).
        OSError: ``source`` cannot be read or ``target`` written.
    """
    from concurrent.futures import Future, ThreadPoolExecutor  # imported on first copy: keeps `import modelver` light

    hasher = new_hasher(algorithm)
    with open(source, "rb", buffering=0) as src:
        if os.fstat(src.fileno()).st_size < _COPY_CHUNK_BYTES:
            # Small file: one read, and the very bytes written are hashed; no thread, no big buffer.
            data = src.read()
            with open(target, "xb", buffering=0) as dst:
                _write_all(dst.fileno(), memoryview(data))
                os.fsync(dst.fileno())
            hasher.update(data)
            return format_digest(algorithm, hasher.hexdigest()), len(data)
    buffer = bytearray(_COPY_CHUNK_BYTES)
    view = memoryview(buffer)

    def hash_back(fd: int, offset: int, count: int) -> None:
        done = 0
        while done < count:
            got = os.preadv(fd, [view[: count - done]], offset + done)
            if got == 0:
                raise OSError(f"{target} is shorter than what was written to it")
            hasher.update(view[:got])
            done += got

    size = 0
    with (
        open(source, "rb", buffering=0) as src,
        open(target, "x+b", buffering=0) as dst,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelver-hash") as hashing,
    ):
        copy = _Copier(src.fileno(), dst.fileno())
        pending: Future[None] | None = None
        while count := copy.chunk(_COPY_CHUNK_BYTES):
            if pending is not None:
                pending.result()  # one chunk hashed while the next is copied; re-raises a hashing error
            pending = hashing.submit(hash_back, dst.fileno(), size, count)
            size += count
            if size >= 2 * _WRITEBACK_WINDOW_BYTES and size % _WRITEBACK_WINDOW_BYTES < count:
                _start_writeback(
                    dst.fileno(),
                    size - size % _WRITEBACK_WINDOW_BYTES - 2 * _WRITEBACK_WINDOW_BYTES,
                    _WRITEBACK_WINDOW_BYTES,
                )
        if pending is not None:
            pending.result()
        os.fsync(dst.fileno())
    return format_digest(algorithm, hasher.hexdigest()), size


class _Copier:
    """Copies from one file descriptor to another at their current positions, in the kernel when it can."""

    # copy_file_range refusals that mean "not here" (another filesystem, an old kernel, FUSE/NFS without support)
    _UNSUPPORTED = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM})

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.in_kernel = hasattr(os, "copy_file_range")

    def chunk(self, limit: int) -> int:
        """Copy up to ``limit`` bytes; return how many (0 at the end of the source)."""
        if self.in_kernel:
            try:
                return os.copy_file_range(self.src, self.dst, limit)
            except OSError as exc:
                if exc.errno not in self._UNSUPPORTED:
                    raise
                self.in_kernel = False
        data = os.read(self.src, limit)
        _write_all(self.dst, memoryview(data))
        return len(data)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of the range's dirty pages, do not wait for it
#: Writeback is started for each window of this many bytes once the copy is a window past it (measured here: 64 MiB
#: lagging one window beat both per-chunk writeback and one fsync at the end).
_WRITEBACK_WINDOW_BYTES = 64 << 20


def _load_sync_file_range() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, count: int) -> None:
    # Only a hint: where it is missing or fails, the final fsync does all the work.
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, count, _SYNC_FILE_RANGE_WRITE)


def _fsync_dir(directory: str) -> None:
    # Makes a new directory entry durable; not every platform can open directories.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
