"""A modelver store: write-once, content-addressed objects under one fsspec root URL.

Layout under the root::

    modelver.json                         store marker: format version, digest algorithm (created once, exclusively)
    blobs/<algo>/<aa>/<rest>              content-addressed bytes: artifacts, code diffs, sources, big configs
    manifests/<algo>/<aa>/<rest>.json     content-addressed manifests (canonical JSON)
    names/<name>/versions/<version>.json  version tag {manifest digest, created_at, by}: THE commit point
    runs/<run-id>.json                    failed runs (their capture, kept for debugging)
    leases/{publish,gc}/<id>.json         publishes in flight and running gcs (:mod:`modelver.store.leases`)
    blobs/.staging/<uuid>                 uploads in flight (moved to their digest when done; ``gc`` clears stale ones)
    **/.tmp-<uuid>                        local temp files of create-if-absent writes (``gc`` clears stale ones)

Every object is written once. Blobs and manifests are named by their digest, so writing one that exists is a no-op.
A version becomes visible only through its tag, created last with one atomic create-if-absent request
(:meth:`Store.create_exclusive`); a crash before that leaves unreferenced blobs for ``gc``, never a partial version.
Every read of a blob or manifest is checked against its digest. Remote stores read blobs and manifests through a
local, verified cache (:mod:`modelver.store.cache`); tags and listings always go to the store, so new versions are seen.

This module owns :class:`Store`, the object layer: paths, the marker, verified reads of blobs and manifests, tags,
listings of names and versions, and run records. How objects are written lives below it: staged uploads and
freshening in :mod:`modelver.store.publish`, local-disk writes in :mod:`modelver.store.local_disk`, backend quirks
(conditional PUT, unreachable errors, mtimes) in :mod:`modelver.store.backend`, progress bars in
:mod:`modelver.store.progress`.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
from collections.abc import Iterator, Sequence
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from modelver.errors import IntegrityError, ModelverError, StoreError, VersionExistsError, VersionNotFoundError
from modelver.store.backend import (
    CONDITIONAL_CREATE_PROTOCOLS,
    conditional_put,
    fs_protocols,
    is_unreachable,
    open_filesystem,
)
from modelver.store.batch import FILE_WORKERS, put_many
from modelver.store.cache import ReadCache
from modelver.store.digest import ALGORITHMS, CHUNK_BYTES, DEFAULT_ALGORITHM, digest_bytes, split_digest
from modelver.store.local_disk import download_verified, link_create
from modelver.store.progress import transfer_progress
from modelver.store.publish import freshen, put_file_local, put_file_remote
from modelver.store.statcache import StatCache, file_key, trusted

MARKER = "modelver.json"
FORMAT = "modelver.store/1"


class Store:
    """A store rooted at an fsspec URL (a local path, ``file://``, ``memory://``, ``s3://bucket/prefix``, ...).

    Args:
        url: where the store lives. A local path is made absolute.
        storage_options: passed to the fsspec filesystem (credentials, ``client_kwargs={"endpoint_url": ...}``, ...).

    The store marker is read lazily and written on the first write, so opening a store costs no I/O. A remote
    store (neither local disk nor ``memory://``) reads blobs and manifests through the local :class:`ReadCache`.

    Example:
        >>> store = modelver.Store("s3://ml-models/registry", client_kwargs={"endpoint_url": "http://minio:9000"})
        >>> store.list_names()  # doctest: +SKIP
        ['churn', 'fraud']
    """

    def __init__(self, url: str | os.PathLike[str], **storage_options: Any) -> None:
        text = os.fspath(url)
        if "://" not in text:
            text = os.path.abspath(os.path.expanduser(text))
        self.url = text
        self.storage_options = dict(storage_options)
        fs, root = open_filesystem(text, self.storage_options)
        self.fs: Any = fs
        self.root: str = root.rstrip("/") or "/"
        self.is_local = isinstance(fs, LocalFileSystem)
        self.is_remote = not self.is_local and "memory" not in fs_protocols(fs)
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
        protocols = set(fs_protocols(self.fs))
        if self.is_local or "memory" in protocols or protocols & CONDITIONAL_CREATE_PROTOCOLS:
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
                link_create(path, data)
            elif "memory" in fs_protocols(self.fs):
                self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
                with self.fs.open(path, "xb") as handle:
                    handle.write(data)
            else:
                self.check_publishable()
                if not data:
                    raise ValueError("an empty create-if-absent is unconditional on S3; write non-empty objects")
                conditional_put(self.fs, path, data)

    def _freshen(self, path: str) -> bool:
        """Whether the object at ``path`` exists; if it does and is old, refresh its mtime for ``gc``'s grace.

        Local disk: ``os.utime``. S3: a server-side copy onto itself. GCS, Azure: a metadata update
        (:func:`modelver.store.publish.freshen`).
        """
        return freshen(self.fs, path, is_local=self.is_local)

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
        copied by the kernel, the copy hashed and fsynced, then linked into place. Elsewhere a blob the store
        already holds is not uploaded (unchanged files cost no upload); on S3 a new one goes straight to its final
        key (small files as the one buffer hashed, large ones as a multipart upload hashed again as sent and
        aborted on a mismatch), on other stores to a staging key moved to the digest of the bytes actually sent,
        so a file that changes meanwhile can never leave a blob whose bytes do not match its name.

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

    def put_files(self, sources: Sequence[str | os.PathLike[str]]) -> list[tuple[str, int]]:
        """Store several local files as blobs, as :meth:`put_file` each; return their ``(digest, size in bytes)``
        in the order given.

        On a remote store up to 4 files are sent at once, each reserving its size (at most 64 MiB) of a 64 MiB
        memory budget (:mod:`modelver.store.batch`); on local disk they are stored in turn.

        Raises:
            StoreError: a file cannot be read, or an upload fails (blobs already stored stay, for ``gc``).

        Example:
            >>> digests = store.put_files(sorted(str(p) for p in Path("ckpt").rglob("*") if p.is_file()))
        """
        paths = [os.fspath(source) for source in sources]
        return put_many(self.put_file, paths, workers=FILE_WORKERS if self.is_remote else 1)

    def _put_file_remote(self, source: str) -> tuple[str, int]:
        return put_file_remote(self.fs, source, self.algorithm, self._path("blobs", ".staging"), self.blob_path)

    def _put_file_local(self, source: str) -> tuple[str, int]:
        return put_file_local(self.fs, source, self.algorithm, self._path("blobs", ".staging"), self.blob_path)

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
        location = self.blob_path(digest)
        return download_verified(self.iter_blob(digest), digest, destination, location=location, url=self.url)

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
                "Choose another version, or leave version= unset to take the next free one.",
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
