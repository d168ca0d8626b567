"""Reading versions back: :func:`get` (metadata), :func:`load` (the model), :func:`list_versions`."""

from __future__ import annotations

import contextvars
import os
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from modelver._version import __version__
from modelver.capture.envcheck import check_environment, loader_distributions
from modelver.errors import (
    ConfigClassWarning,
    FormatError,
    IntegrityError,
    InvalidReferenceError,
    ModelverError,
    StoreError,
    VersionNotFoundError,
)
from modelver.formats import Format, LoadContext, formats, get_format, refuse_unsafe, trusted_names
from modelver.formats.local import local_file, local_tree, read_verified_buffer
from modelver.manifest import SCHEMA, ArtifactEntry, CreatedBy, Manifest
from modelver.registry.names import validate_name
from modelver.registry.resolution import VersionTag, read_tag, resolve, sorted_versions
from modelver.serde import from_json_dict, parse_record
from modelver.store.digest import digest_file
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.store.paths import path_clash, validate_artifact_path
from modelver.warnings import user_stacklevel

#: Inside ``track()``: where versions read during the run are recorded as lineage inputs.
loaded_inputs: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("modelver_inputs", default=None)


#: Manifest schemas this modelver reads, with the first release that wrote each (for the message on a newer one).
_SCHEMAS_READ = {SCHEMA: "0.1.0"}


def _check_schema(schema: object, what: str) -> None:
    if schema in _SCHEMAS_READ:
        return
    prefix, _, number = str(schema).rpartition("/")
    newer = prefix == SCHEMA.rpartition("/")[0] and number.isdigit() and int(number) > int(SCHEMA.rpartition("/")[2])
    if newer:
        raise StoreError(
            f"{what} uses schema {schema!r}, which modelver {__version__} cannot read (it reads "
            f"{', '.join(sorted(_SCHEMAS_READ))}); it was written by a modelver newer than {__version__}: "
            "upgrade with `pip install -U modelver` to read it"
        )
    raise StoreError(
        f"{what} has schema {str(schema)[:80]!r}, which is not a modelver manifest schema (modelver {__version__} "
        f"reads {', '.join(sorted(_SCHEMAS_READ))}). Run `modelver verify` to check the store"
    )


def read_manifest(store: Store, tag: VersionTag) -> Manifest:
    """Fetch, verify and parse the manifest a tag points at, with ``version`` and ``digest`` filled in.

    Raises:
        IntegrityError: the manifest is missing or corrupt (not UTF-8, not JSON, nested absurdly deep), or belongs
            to another name than the tag.
        StoreError: the manifest is not a valid modelver manifest, or uses a schema newer than this modelver reads.
        InvalidReferenceError: it names an artifact path that is not clean (a traversal attempt) or that is a file
            and a directory at once.
    """
    what = f"manifest {tag.manifest} of {tag.name}@{tag.version}"
    body = parse_record(store.read_manifest(tag.manifest), what)
    if not isinstance(body, dict):
        raise IntegrityError(
            f"{what} is damaged: it is a JSON {type(body).__name__}, not an object. Run `modelver verify` to check "
            "the store",
            digest=tag.manifest,
        )
    _check_schema(body.get("schema", SCHEMA), what)
    try:
        manifest = from_json_dict({**body, "version": tag.version, "digest": tag.manifest}, Manifest)
    except Exception as exc:
        raise StoreError(f"manifest {tag.manifest} of {tag.name}@{tag.version} is not a valid manifest: {exc}") from exc
    if manifest.name != tag.name:
        raise IntegrityError(
            f"the tag {tag.name}@{tag.version} points at a manifest of {manifest.name!r}; the store was tampered "
            "with or damaged",
            digest=tag.manifest,
        )
    for path in manifest.artifacts:
        validate_artifact_path(path)
    clash = path_clash(manifest.artifacts)
    if clash is not None:
        raise InvalidReferenceError(
            f"manifest {tag.manifest} lists {clash[0]!r} both as a file and as the directory of {clash[1]!r}",
            reference=clash[0],
        )
    return manifest


@attrs.frozen(eq=False, repr=False)
class ModelVersion:
    """One published version: its identity, manifest, and access to its artifacts.

    Attributes:
        name: model name.
        version: the concrete SemVer version.
        digest: the manifest digest (``"blake3:<hex>"``): the identity of the content.
        manifest: everything the run recorded.
        published_at: RFC 3339 UTC time the version tag was created.
        published_by: who created the tag.
        store: the store it lives in.

    Example:
        >>> mv = modelver.get("churn@latest")  # doctest: +SKIP
        >>> mv.version, mv.digest[:15], mv.manifest.metrics["accuracy"]  # doctest: +SKIP
        ('1.4.0', 'blake3:3f9a01bc', 0.93)
        >>> model = mv.load()  # doctest: +SKIP
    """

    name: str
    version: str
    digest: str
    manifest: Manifest
    published_at: str
    published_by: CreatedBy
    store: Store = attrs.field(repr=False)

    @property
    def ref(self) -> str:
        """``"name@version"``."""
        return f"{self.name}@{self.version}"

    def __str__(self) -> str:
        return f"{self.ref} ({self.digest})"

    def __repr__(self) -> str:
        # Short, for lists of search results in a notebook: the manifest (every package) is one attribute away.
        return f"ModelVersion({self.ref!r}, {self.digest[:19]}…)"

    def config(self, *, allow_import: bool = False, plain: bool = False) -> Any:
        """The run's config decoded back to Python values (see :func:`modelver.decode_config`), or as plain data.

        Dataclasses, attrs classes, pydantic models and enums are rebuilt when their class can be found: its module
        is already imported, or ``allow_import`` is true and it imports. When one cannot be, the whole config is
        returned as plain nested data (as with ``plain=True``) with one :class:`~modelver.errors.ConfigClassWarning`
        naming the classes, never as the recorded ``{"$type": ...}`` envelopes.

        Args:
            allow_import: import the modules of recorded classes that are not imported yet (this runs their code).
            plain: return plain nested data (``dict``, ``list``, ``str``, numbers, ``None``) without rebuilding any
                class: see :func:`modelver.capture.flatten.plain_config`.

        Returns:
            The config.

        Raises:
            IntegrityError: a config stored as a blob is missing or corrupt.

        Example:
            >>> version = modelver.get("churn@0.1.0")  # doctest: +SKIP
            >>> version.config(plain=True)["opt"]["lr"]  # doctest: +SKIP
            0.01
        """
        # Imported here, not at the top: they are not on the serving path (modelver.load), see docs/performance.md.
        from modelver.capture.config_decode import decode_config
        from modelver.capture.flatten import plain_config, unresolved_classes

        encoded = self.manifest.config
        if isinstance(encoded, dict) and encoded.get("$type") == "blob":
            encoded = parse_record(self.store.read_blob(encoded["digest"]), f"the config blob of {self}")
        if plain:
            return plain_config(encoded)
        decoded = decode_config(encoded, allow_import=allow_import)
        missing = unresolved_classes(decoded)
        if not missing:
            return decoded
        hint = "they are not installed here" if allow_import else "import their modules, or pass allow_import=True"
        warnings.warn(
            f"the config of {self.ref} names classes that cannot be found here: {', '.join(missing)}; it is returned "
            f"as plain data, as config(plain=True) does (to rebuild them, {hint})",
            ConfigClassWarning,
            stacklevel=user_stacklevel(),
        )
        return plain_config(encoded)

    def artifact(self, name: str | None = None) -> tuple[str, ArtifactEntry]:
        """Pick a loadable artifact: ``name`` as a path or a path without its extension; by default the only
        loadable one, or ``model.*``.

        Raises:
            VersionNotFoundError: no artifact matches, or the choice is ambiguous (the message lists them).
        """
        artifacts = self.manifest.artifacts
        if name is not None:
            matches = [p for p in artifacts if p == name or os.path.splitext(p)[0] == name]
        else:
            loadable = [p for p, a in artifacts.items() if a.format != "file" and a.tree is None]
            matches = loadable if len(loadable) == 1 else [p for p in loadable if os.path.splitext(p)[0] == "model"]
        if not artifacts:
            raise VersionNotFoundError(
                f"{self.ref} has no artifacts: its run saved none (call run.save_model(...) or run.log_artifact(...))",
                reference=self.ref,
            )
        if len(matches) != 1:
            listed = ", ".join(f"{p} ({a.format})" for p, a in sorted(artifacts.items()))
            what = f"named {name!r}" if name else "to load by default"
            raise VersionNotFoundError(
                f"{self.ref} has no single artifact {what}; its artifacts: {listed}. Pass name=...",
                reference=self.ref,
                available=tuple(sorted(artifacts)),
            )
        return matches[0], artifacts[matches[0]]

    def code_diff(self) -> bytes | None:
        """The uncommitted changes of tracked files when the run started (``git diff --binary HEAD``), verified;
        ``None`` when the tree was clean or there was no git.

        Raises:
            IntegrityError: the diff blob is missing or corrupt.
        """
        git = self.manifest.code.git
        return self.store.read_blob(git.diff) if git is not None and git.diff else None

    def metrics_history(self) -> list[dict[str, Any]]:
        """Every ``log_metrics`` call of the run, in order, verified: ``[{"time": unix seconds, "step": int | None,
        "metrics": {key: number | None}}, ...]``; empty when the run logged none.

        Raises:
            IntegrityError: the history blob is missing or corrupt.
        """
        digest = self.manifest.metrics_history
        if digest is None:
            return []
        what = f"the metrics history of {self}"
        return [parse_record(line, what) for line in self.store.read_blob(digest).splitlines() if line.strip()]

    def resource_series(self) -> dict[str, Any] | None:
        """The sampled resource time series of the run, verified (the format is documented in
        ``modelver.capture.resources.ResourceMonitor.series_json``: ``columns`` and ``rows`` of seconds since
        start, memory bytes, CPU seconds and GPU memory bytes), or ``None`` when the run stored none (versions
        made before it existed).

        Raises:
            IntegrityError: the series blob is missing or corrupt.
        """
        digest = self.manifest.resources.series
        if digest is None:
            return None
        series: dict[str, Any] = parse_record(self.store.read_blob(digest), f"the resource series of {self}")
        return series

    def _units(self) -> dict[str, str]:
        """Loadable units: single artifacts by path and directory artifacts by their name, to format name."""
        units = {p: a.format for p, a in self.manifest.artifacts.items() if a.format != "file" and a.tree is None}
        units.update({a.tree: a.format for a in self.manifest.artifacts.values() if a.tree is not None})
        return units

    def load(
        self,
        name: str | None = None,
        *,
        allow_pickle: bool = False,
        trusted: Sequence[str] | None = None,
        loader: Callable[[Path], Any] | None = None,
        strict: bool = False,
    ) -> Any:
        """Read an artifact, verify its digest, and deserialize it (docs/formats.md).

        ``name`` is an artifact path, a path without its extension, or a directory artifact's name; by default the
        only loadable artifact, or ``model*``. A version holding only data artifacts (prompts, configs, text) and
        several of them loads as a mapping of name (without extension) to value. A directory artifact loads as a
        verified local :class:`~pathlib.Path` (read-only, in the cache). Before anything is deserialized, the
        packages the format depends on and the Python minor version are compared with the recorded ones: every
        difference is listed in one :class:`~modelver.errors.EnvironmentMismatchWarning`.

        Args:
            name: which artifact (see above).
            allow_pickle: permit formats whose loading runs code from the store (pickle, joblib, TorchScript).
            trusted: skops type names, or PyTorch module classes/modules to import for rebuilding, that the caller
                reviewed and trusts.
            loader: called with the verified local path of the artifact (file or directory) instead of modelver's
                deserializer, e.g. ``transformers.AutoModel.from_pretrained`` or ``onnxruntime.InferenceSession``.
            strict: raise :class:`~modelver.errors.EnvironmentMismatchError` instead of warning.

        Raises:
            IntegrityError: the stored bytes do not match the manifest.
            UnsafeFormatError: a code-running format without ``allow_pickle``, or untrusted skops types.
            EnvironmentMismatchError: ``strict`` and the environment differs.
            VersionNotFoundError: no such artifact.
            FormatError: the artifact's format is unknown here (a plugin format not installed).
        """
        units = self._units()
        if name is None and len(units) > 1 and not any(os.path.splitext(u)[0] == "model" for u in units):
            known = formats()
            fmts = {u: known[f] for u, f in units.items() if f in known}
            if len(fmts) == len(units) and all(f.data for f in fmts.values()):
                loaded = {}
                for unit, fmt in sorted(fmts.items()):
                    short = unit.removesuffix(fmt.extension) if fmt.extension else os.path.splitext(unit)[0]
                    loaded[short] = self._load_unit(unit, fmt, allow_pickle, trusted, loader, strict)
                return loaded
        unit = self._choose_unit(units, name)
        return self._load_unit(unit, get_format(units[unit]), allow_pickle, trusted, loader, strict)

    def _choose_unit(self, units: dict[str, str], name: str | None) -> str:
        artifacts = self.manifest.artifacts
        if not artifacts:
            raise VersionNotFoundError(
                f"{self.ref} has no artifacts: its run saved none (call run.save_model(...) or run.log_artifact(...))",
                reference=self.ref,
            )
        if name is not None:
            known = formats()
            matches = [
                u
                for u, f in units.items()
                if name in (u, os.path.splitext(u)[0]) or (f in known and u == name + known[f].extension)
            ]
            plain = [p for p, a in artifacts.items() if a.format == "file" and name in (p, os.path.splitext(p)[0])]
            if not matches and plain:
                raise InvalidReferenceError(
                    f"{self.ref}:{plain[0]} is a plain file; use .download(directory) to get it", reference=plain[0]
                )
        else:
            matches = list(units) if len(units) == 1 else [u for u in units if os.path.splitext(u)[0] == "model"]
        if len(matches) != 1:
            listed = ", ".join(f"{u} ({f})" for u, f in sorted(units.items())) or "none loadable"
            what = f"named {name!r}" if name else "to load by default"
            raise VersionNotFoundError(
                f"{self.ref} has no single artifact {what}; its loadable artifacts: {listed}. Pass name=...",
                reference=self.ref,
                available=tuple(sorted(units)),
            )
        return matches[0]

    def _load_unit(
        self,
        unit: str,
        fmt: Format,
        allow_pickle: bool,
        trusted: Sequence[str] | None,
        loader: Callable[[Path], Any] | None,
        strict: bool,
    ) -> Any:
        context = LoadContext(allow_pickle=allow_pickle, trusted=trusted_names(trusted))
        refuse_unsafe(fmt, context)
        env = self.manifest.environment
        requires = (*fmt.requires, *(loader_distributions(loader) if loader is not None else ()))
        check_environment(f"{self.ref}:{unit}", env, requires, check_python=fmt.checks_python, strict=strict)
        if fmt.directory:
            members = {p: a for p, a in self.manifest.artifacts.items() if a.tree == unit}
            path = local_tree(self.store, unit, members)
            return loader(path) if loader is not None else path
        entry = self.manifest.artifacts[unit]
        if loader is not None:
            return loader(local_file(self.store, unit, entry))
        # A writable buffer for a zero-copy format (it may keep it: no second copy of a large blob).
        data = read_verified_buffer(self.store, entry.digest) if fmt.zero_copy else self.store.read_blob(entry.digest)
        try:
            return fmt.load(data, context)
        except ModelverError:
            raise
        except Exception as exc:  # whatever the format's library raises on bytes it cannot decode
            raise FormatError(
                f"{self.ref}:{unit} is labelled {fmt.name!r} but its bytes do not decode as {fmt.name} "
                f"({type(exc).__name__}: {str(exc)[:200]}); its digest matches, so it was stored so: "
                f"`modelver show {self.ref}` lists its artifacts, `.download(directory)` gets the raw file"
            ) from exc

    def download(self, directory: str | os.PathLike[str]) -> Path:
        """Write every artifact under ``directory`` at its relative path, streamed and verified.

        A file already there with the right content is kept; one with other content is not overwritten.

        Returns:
            The directory, as a :class:`~pathlib.Path`.

        Raises:
            IntegrityError: a blob is missing or corrupt (nothing is written for it).
            StoreError: a different file is already at one of the paths.
        """
        root = Path(directory)
        for rel in self.manifest.artifacts:
            validate_artifact_path(rel)  # every path before any byte: a bad one leaves nothing written
        for rel, entry in sorted(self.manifest.artifacts.items()):
            target = root.joinpath(*rel.split("/"))
            if target.exists():
                if digest_file(target, entry.digest.split(":", 1)[0])[0] == entry.digest:
                    continue
                raise StoreError(f"{target} exists with other content; download {self.ref} into an empty directory")
            self.store.download(entry.digest, target)
        return root


def get(
    ref: str, *, store: str | os.PathLike[str] | Store | None = None, at: str | datetime | None = None
) -> ModelVersion:
    """Resolve ``ref`` (``"name"``, ``"name@1.2.0"``, ``"name@latest"``, a range or digest prefix) and return the
    version's verified manifest.

    Inside ``modelver.track()`` the version is recorded as a lineage input of the run (also with ``at``: the
    digest it resolved to).

    Args:
        ref: the reference.
        store: the store (default: see ``modelver info``).
        at: resolve as the registry stood at this instant (``"2026-12-01T14:02Z"``; writers' clocks; see
            :func:`~modelver.registry.timeline.resolve_at`).

    Raises:
        InvalidReferenceError: ``ref`` or ``at`` is malformed.
        VersionNotFoundError: nothing matches (the message lists what exists).
        IntegrityError: the manifest is corrupt.

    Example:
        >>> modelver.get("churn@production").version  # doctest: +SKIP
        '1.4.0'
        >>> modelver.get("churn@production", at="2026-12-01T14:02Z").version  # doctest: +SKIP
        '1.3.2'
    """
    opened = open_store(store)
    if at is None:
        tag = resolve(opened, ref)
    else:
        from modelver.registry.timeline import resolve_at  # time travel only: off the plain load path

        tag = resolve_at(opened, ref, at)
    version = ModelVersion(
        name=tag.name,
        version=tag.version,
        digest=tag.manifest,
        manifest=read_manifest(opened, tag),
        published_at=tag.created_at,
        published_by=tag.created_by,
        store=opened,
    )
    inputs = loaded_inputs.get()
    if inputs is not None:
        inputs.append(f"{version.name}@{version.digest}")
    return version


def load(
    ref: str,
    *,
    store: str | os.PathLike[str] | Store | None = None,
    name: str | None = None,
    allow_pickle: bool = False,
    trusted: Sequence[str] | None = None,
    loader: Callable[[Path], Any] | None = None,
    strict: bool = False,
    deployment: str | None = None,
) -> Any:
    """Resolve ``ref``, verify, and return the saved model object (``get(ref).load(...)``).

    Args:
        ref: ``"name@1.2.0"``, ``"name@latest"``, ``"name"``, a range or a digest prefix.
        store: the store (default: see ``modelver info``).
        name: which artifact, when the version holds several loadable ones.
        allow_pickle: permit formats whose loading runs code from the store (pickle, joblib, TorchScript).
        trusted: skops type names, or PyTorch module classes to import, that the caller trusts.
        loader: called with the verified local path (file or directory) instead of modelver's deserializer.
        strict: an environment that differs from the recorded one raises instead of warning.
        deployment: the deployment target this process serves (``"prod-eu"``): once the model loaded, a ``served``
            event is recorded, at most once per process and digest; failing to record it only warns.

    Raises:
        InvalidReferenceError, VersionNotFoundError, IntegrityError, UnsafeFormatError, EnvironmentMismatchError:
        see :func:`get` and :meth:`ModelVersion.load`.

    Example:
        >>> model = modelver.load("churn@production", deployment="prod-eu")  # doctest: +SKIP
        >>> model.predict(X)  # doctest: +SKIP
    """
    version = get(ref, store=store)
    model = version.load(name, allow_pickle=allow_pickle, trusted=trusted, loader=loader, strict=strict)
    if deployment is not None:
        from modelver.registry.deployments import record_served  # with hooks and urllib: off the plain load path

        tag = VersionTag(version.name, version.version, version.digest, version.published_at, version.published_by)
        record_served(version.store, tag, deployment)
    return model


def list_versions(name: str, *, store: str | os.PathLike[str] | Store | None = None) -> list[VersionTag]:
    """The version tags of ``name`` in SemVer precedence order, lowest first (one tag read per version).

    Raises:
        InvalidReferenceError: ``name`` is not a valid name.

    Example:
        >>> [tag.version for tag in modelver.list_versions("churn")]  # doctest: +SKIP
        ['0.1.0', '0.1.1', '1.0.0-rc.1', '1.0.0']
    """
    validate_name(name)
    opened = open_store(store)
    return [read_tag(opened, name, str(v)) for v in sorted_versions(opened, name)]
