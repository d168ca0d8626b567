"""A modelver store: write-once, content-addressed objects under one fsspec root URL.

Layout under the root::

    modelver.json                         store marker: format version, digest algorithm (created once, exclusively)
    blobs/<algo>/<aa>/<rest>              content-addressed bytes: artifacts, code diffs, sources, big configs
    manifests/<algo>/<aa>/<rest>.json     content-addressed manifests (canonical JSON)
    names/<name>/versions/<version>.json  version tag {manifest digest, created_at, by}: THE commit point
    runs/<run-id>.json                    failed runs (their capture, kept for debugging)

Every object is written once. Blobs and manifests are named by their digest, so writing one that exists is a no-op.
A version becomes visible only through its tag, created last with one atomic create-if-absent request
(:meth:`Store.create_exclusive`); a crash before that leaves unreferenced blobs for ``gc``, never a partial version.
Every read of a blob or manifest is checked against its digest.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ._digest import (
    ALGORITHMS,
    CHUNK_BYTES,
    DEFAULT_ALGORITHM,
    digest_bytes,
    digest_file,
    new_hasher,
    split_digest,
)
from .errors import IntegrityError, StoreError, VersionExistsError, VersionNotFoundError

MARKER = "modelver.json"
FORMAT = "modelver.store/1"

# Backends whose fsspec implementation sends a real conditional create for mode="create"
# (../shared/storage-facts.md): S3 If-None-Match, GCS ifGenerationMatch=0, Azure If-None-Match.
_CONDITIONAL_CREATE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


# fsspec protocol -> the modelver extra that installs its implementation
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


class Store:
    """A store rooted at an fsspec URL (a local path, ``file://``, ``memory://``, ``s3://bucket/prefix``, ...).

    Args:
        url: where the store lives. A local path is made absolute.
        storage_options: passed to the fsspec filesystem (credentials, endpoint URL, ...).

    The store marker is read lazily and written on the first write, so opening a store costs no I/O.
    """

    def __init__(self, url: str | os.PathLike[str], **storage_options: Any) -> None:
        text = os.fspath(url)
        if "://" not in text:
            text = os.path.abspath(os.path.expanduser(text))
        self.url = text
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
        self._algorithm: str | None = None

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

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
            raw = self.fs.cat_file(self._path(MARKER))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read the store at {self.url}: {exc}") from exc
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
        ``EEXIST`` if taken, also on NFS), fsync the directory. Object stores: one conditional PUT. The object is
        never visible half-written.

        Raises:
            FileExistsError: ``path`` exists; its content is untouched.
            StoreError: the write failed or the backend has no such primitive.
        """
        try:
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
                self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot write {path} in the store at {self.url}: {exc}") from exc

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

    # -- blobs -----------------------------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` as a blob (a no-op when it exists); return its digest."""
        digest = digest_bytes(data, self.algorithm)
        path = self.blob_path(digest)
        if not self.fs.exists(path):
            if data or self.is_local or "memory" in _protocols(self.fs):
                with contextlib.suppress(FileExistsError):
                    self.create_exclusive(path, data)
            else:
                self.fs.pipe_file(path, data)  # the empty blob: any writer writes the same (no) bytes
        return digest

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a local file as a blob without reading it into memory; return ``(digest, size in bytes)``.

        On local disk the file is copied and hashed in one pass, then linked into place. Elsewhere it is hashed
        first, and a blob the store already holds is not uploaded (unchanged files cost no upload); a new one is
        uploaded to a staging key while being hashed again, and moved to the digest of the bytes actually sent, so
        a file that changes in between can never leave a blob whose bytes do not match its name.

        Raises:
            StoreError: the file cannot be read or the upload fails.
        """
        if self.is_local:
            return self._put_file_local(os.fspath(source))
        try:
            digest, size = digest_file(source, self.algorithm)
            if self.fs.exists(self.blob_path(digest)):
                return digest, size
            staging = self._path("blobs", ".staging", uuid.uuid4().hex)
            hasher = new_hasher(self.algorithm)
            size = 0
            with open(source, "rb") as src, self.fs.open(staging, "wb") as dst:
                while chunk := src.read(CHUNK_BYTES):
                    hasher.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            digest = f"{self.algorithm}:{hasher.hexdigest()}"
            final = self.blob_path(digest)
            if self.fs.exists(final):
                self.fs.rm_file(staging)
            else:
                self.fs.mv(staging, final)
        except OSError as exc:
            raise StoreError(f"cannot upload {os.fspath(source)} to {self.url}: {exc}") from exc
        return digest, size

    def _put_file_local(self, source: str) -> tuple[str, int]:
        staging = self._path("blobs", ".staging")
        os.makedirs(staging, exist_ok=True)
        tmp = os.path.join(staging, uuid.uuid4().hex)
        hasher = new_hasher(self.algorithm)
        size = 0
        try:
            with open(source, "rb") as src, open(tmp, "xb") as dst:
                while chunk := src.read(CHUNK_BYTES):
                    hasher.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            os.chmod(tmp, 0o444)
            digest = f"{self.algorithm}:{hasher.hexdigest()}"
            final = self.blob_path(digest)
            if not os.path.exists(final):
                os.makedirs(os.path.dirname(final), exist_ok=True)
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, final)
                    _fsync_dir(os.path.dirname(final))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return digest, size

    def read_blob(self, digest: str) -> bytes:
        """Return the bytes of the blob with ``digest``, verified.

        Raises:
            IntegrityError: the blob is missing or its bytes do not hash to ``digest``.
        """
        return self._read_verified(self.blob_path(digest), digest, "blob")

    def iter_blob(self, digest: str) -> Iterator[bytes]:
        """Stream a blob's bytes in chunks, unverified: callers hash as they go (see :meth:`download`)."""
        path = self.blob_path(digest)
        try:
            with self.fs.open(path, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk
        except FileNotFoundError as exc:
            raise IntegrityError(
                f"blob {digest} is missing from the store at {self.url} ({path}); run `modelver verify` to "
                "find every version that references it",
                digest=digest,
                location=path,
            ) from exc

    def download(self, digest: str, destination: str | os.PathLike[str]) -> int:
        """Copy a blob to a local file, streaming and verifying; return its size in bytes.

        The file appears under ``destination`` only once verified (temp file then rename).

        Raises:
            IntegrityError: the blob is missing or corrupt; nothing is left at ``destination``.
        """
        destination = os.fspath(destination)
        algo, _ = split_digest(digest)
        hasher = new_hasher(algo)
        os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
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
        """Store canonical manifest JSON under its digest (no-op when present); return the digest."""
        digest = digest_bytes(body, self.algorithm)
        path = self.manifest_path(digest)
        if not self.fs.exists(path):
            with contextlib.suppress(FileExistsError):
                self.create_exclusive(path, body)
        return digest

    def read_manifest(self, digest: str) -> bytes:
        """Return a manifest's canonical JSON, verified against ``digest``.

        Raises:
            IntegrityError: the manifest is missing or does not hash to ``digest``.
        """
        return self._read_verified(self.manifest_path(digest), digest, "manifest")

    def create_tag(self, name: str, version: str, data: bytes) -> None:
        """Make ``name@version`` visible by creating its tag, atomically and only if absent.

        Raises:
            VersionExistsError: the version is taken; the existing tag is untouched.
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
        """Return the raw tag of ``name@version``.

        Raises:
            VersionNotFoundError: no such tag.
        """
        try:
            return bytes(self.fs.cat_file(self.tag_path(name, version)))
        except FileNotFoundError as exc:
            raise VersionNotFoundError(
                f"{name}@{version} not found in {self.url}", reference=f"{name}@{version}"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot read the tag of {name}@{version} in {self.url}: {exc}") from exc

    def list_versions(self, name: str) -> list[str]:
        """Version strings that have a tag under ``name``, unordered."""
        directory = self._path("names", name, "versions")
        try:
            entries = self.fs.ls(directory, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise StoreError(f"cannot list the versions of {name} in {self.url}: {exc}") from exc
        out = []
        for entry in entries:
            base = posixpath.basename(str(entry).rstrip("/"))
            if base.endswith(".json") and not base.startswith("."):
                out.append(base[: -len(".json")])
        return out

    def list_names(self) -> list[str]:
        """Every name with at least one version, sorted."""
        prefix = self._path("names")
        try:
            paths = self.fs.find(prefix)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot list the names in {self.url}: {exc}") from exc
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
        return bool(self.fs.exists(self._path("runs")))

    def list_runs(self) -> list[bytes]:
        """The raw records of runs that published no version, oldest first (run ids start with a UTC time)."""
        directory = self._path("runs")
        try:
            paths = sorted(str(p) for p in self.fs.ls(directory, detail=False) if str(p).endswith(".json"))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [bytes(self.fs.cat_file(p)) for p in paths if not posixpath.basename(p).startswith(".")]

    def _read_verified(self, path: str, digest: str, what: str) -> bytes:
        try:
            data = bytes(self.fs.cat_file(path))
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                raise StoreError(f"cannot read {what} {digest} at {path} in {self.url}: {exc}") from exc
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
        return data


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
