"""The manifest: everything a version records, as frozen attrs value objects.

A manifest is stored once, as canonical JSON (sorted keys, UTF-8, no NaN; see :mod:`modelver.serde`), under the
digest of that JSON. ``version`` and ``digest`` are *not* part of the hashed body: the digest names the content, and
a version tag is a name that points at it, so the same manifest can carry several versions (an experiment version and
its release) without a byte copied. :func:`modelver.get` fills both in when it resolves a reference.

``modelver show REF --json`` prints ``to_json_dict(manifest)``; its top-level keys are a contract
(docs/architecture.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from modelver.errors import InvalidLabelError

__all__ = [
    "SCHEMA",
    "ArtifactEntry",
    "CaptureErrorRecord",
    "CodeFacet",
    "CreatedBy",
    "DataEntry",
    "DistributedFacet",
    "DistributionCopy",
    "EditableInstall",
    "EnvironmentFacet",
    "GitInfo",
    "Lineage",
    "Manifest",
    "NodeSummary",
    "RankSummary",
    "Redaction",
    "ResourcesFacet",
    "Segment",
    "StepRecord",
    "check_description",
    "check_label_key",
    "check_label_value",
    "check_labels",
]

SCHEMA = "modelver.manifest/1"

#: A JSON value (what ``json.loads`` returns).
JSON = Any


@attrs.frozen
class CaptureErrorRecord:
    """A capture that failed without stopping the run.

    Attributes:
        facet: which facet ("code", "environment", "config", "data", "resources", "metrics", "artifacts").
        error: the exception's class name.
        message: what went wrong, for a human.
    """

    facet: str
    error: str
    message: str


@attrs.frozen
class CreatedBy:
    """Who made a version: the OS user name and the host name."""

    user: str
    host: str


@attrs.frozen
class Redaction:
    """A file kept out of a version because a secret was found in it (docs/security.md).

    Attributes:
        detectors: what found it: detect-secrets plugin names (``"PrivateKeyDetector"``, ``"KeywordDetector"``,
            ``"OpenAIDetector"``...), ``"secret-patterns[i]"`` for a pattern of the user's, or
            ``"not-scanned"`` when detect-secrets is not installed and nothing could be scanned.
        digest: the digest of the content, which is *not* stored: a copy can be recognised, never read back.
    """

    detectors: tuple[str, ...]
    digest: str | None = None


@attrs.frozen
class GitInfo:
    """The state of the git repository that held the entrypoint when the run started.

    Attributes:
        commit: full SHA of ``HEAD``.
        branch: the checked-out branch, or ``None`` when ``HEAD`` is detached.
        detached: whether ``HEAD`` is detached.
        dirty: whether tracked files differed from ``HEAD`` (staged or not) or untracked files existed.
        remote: URL of the ``origin`` remote (else the first remote) with credentials stripped, or ``None``.
        diff: digest of the blob holding ``git diff --binary HEAD`` when tracked files changed, else ``None``.
        untracked: untracked, not-ignored files (POSIX paths relative to the repository root) to the digest of
            their stored content, or ``None`` when the content is not stored: over the size limit, a name that
            usually holds secrets (``.env``, ``*.pem``, ``*.key``, ``id_rsa*``, ``credentials*``, ``*secret*``), a
            nested repository (listed as ``"dir/"``), a special file, or a failed write. Symlinks are stored as
            their target text, as git stores them.
        shallow: whether the clone is shallow.
        root: absolute path of the working tree on the capturing machine.
        redacted: untracked files whose content was scanned and withheld (their ``untracked`` value is ``None``),
            with what found a secret in them and the digest of what was not stored.
    """

    commit: str
    branch: str | None
    detached: bool
    dirty: bool
    remote: str | None = None
    diff: str | None = None
    untracked: dict[str, str | None] = attrs.field(factory=dict)
    shallow: bool = False
    root: str | None = None
    redacted: dict[str, Redaction] = attrs.field(factory=dict)


@attrs.frozen
class CodeFacet:
    """What code ran.

    Attributes:
        git: the repository state, or ``None`` without git (no binary, no repository, refused repository).
        entrypoint: the script or module that ran, as a POSIX path relative to the repository root (with git) or
            to ``root`` (without), or ``"<notebook>"`` in a notebook.
        argv: the command-line arguments after the entrypoint.
        sources: a snapshot, taken where git cannot say what ran: relative POSIX path to blob digest of the
            entrypoint and the local modules it imported (or, in a notebook, of the executed cells).
        root: absolute directory the ``sources`` paths are relative to.
        errors: messages of the captures that failed for this facet.
        redacted: snapshot sources withheld because a secret was found in them (not in ``sources``).
    """

    git: GitInfo | None = None
    entrypoint: str | None = None
    argv: tuple[str, ...] = ()
    sources: dict[str, str] = attrs.field(factory=dict)
    root: str | None = None
    errors: tuple[str, ...] = ()
    redacted: dict[str, Redaction] = attrs.field(factory=dict)


@attrs.frozen
class EditableInstall:
    """An editable (development) install, from its PEP 610 ``direct_url.json``: the source URL it points at."""

    url: str


@attrs.frozen
class DistributionCopy:
    """One of several copies of a distribution found on ``sys.path`` (a stale ``.dist-info`` left behind, say).

    Attributes:
        version: the version that copy's metadata declares.
        location: the ``sys.path`` directory that holds its ``.dist-info``.
        imported: whether this is the copy whose files ``import`` finds (the version recorded in ``packages``).
    """

    version: str
    location: str
    imported: bool = False


@attrs.frozen
class EnvironmentFacet:
    """The Python environment.

    Attributes:
        python: ``platform.python_version()``, e.g. ``"3.11.7"``.
        implementation: e.g. ``"CPython"``.
        platform: ``platform.platform()``.
        packages: canonical distribution name (PEP 503) to version, one entry per distribution: the copy that
            ``import`` would find first on ``sys.path``.
        editable: canonical names of editable installs to where their source lives (PEP 610).
        errors: messages of the captures that failed for this facet.
        duplicates: canonical names found more than once on ``sys.path`` to every copy, in ``sys.path`` order;
            ``packages`` records the copy whose files ``import`` finds (the first when none can be told).
    """

    python: str = ""
    implementation: str = ""
    platform: str = ""
    packages: dict[str, str] = attrs.field(factory=dict)
    editable: dict[str, EditableInstall] = attrs.field(factory=dict)
    errors: tuple[str, ...] = ()
    duplicates: dict[str, tuple[DistributionCopy, ...]] = attrs.field(factory=dict)


@attrs.frozen
class DataEntry:
    """A data fingerprint recorded under a label.

    Attributes:
        uri: where the data was (path or URL), or a description such as ``"<numpy.ndarray>"`` for in-memory data.
        digest: content digest (for a directory, the tree digest).
        size_bytes: total size in bytes.
        files: number of files (1 for a file or an in-memory object).
        kind: ``"file"``, ``"directory"``, ``"ndarray"``, ``"dataframe"``, ``"series"``, ``"table"`` (Arrow),
            ``"bytes"``.
        method: how the digest was computed, e.g. ``"blake3"``, ``"blake3-tree"``, ``"blake3-arrow"``,
            ``"blake3-polars"``, or the object store's checksum used (``"s3-sha256"``, ``"s3-etag-md5"``,
            ``"gcs-md5"``; the digest is then ``sha256:``/``md5:``).
        summary: shape, dtypes, rows and columns for in-memory tables and arrays.
        tree: digest of the blob listing every file's digest and size (directories only).
    """

    uri: str
    digest: str
    size_bytes: int
    files: int
    kind: str
    method: str
    summary: dict[str, JSON] = attrs.field(factory=dict)
    tree: str | None = None


@attrs.frozen
class ResourcesFacet:
    """Resources used between entering and leaving ``track()``.

    Attributes:
        wall_time_s: elapsed wall-clock time in seconds.
        cpu_time_s: user + system CPU seconds of this process and its children (waited-for and still running).
        peak_rss_bytes: peak resident memory of the whole process tree in bytes: the largest of the sampled sum
            over the tree (PSS on Linux, so pages a forked child shares with its parent count once), this process's
            own peak and the largest waited-for child's peak (``getrusage``).
        cpu_count: logical CPUs.
        memory_total_bytes: physical memory in bytes.
        gpus: one mapping per NVIDIA GPU (name, memory_total_bytes, peak_memory_used_bytes, driver), when NVML is
            importable.
        samples: how many background samples were taken.
        series: digest of a JSON blob with the sampled time series (seconds since start, memory of the process tree
            in bytes, CPU seconds, GPU memory in use per device; see ``ResourceMonitor.series_json``), or ``None``.
        errors: messages of the captures that failed for this facet.
    """

    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    peak_rss_bytes: int = 0
    cpu_count: int = 0
    memory_total_bytes: int = 0
    gpus: tuple[dict[str, JSON], ...] = ()
    samples: int = 0
    errors: tuple[str, ...] = ()
    series: str | None = None


@attrs.frozen
class RankSummary:
    """What one rank of a distributed job recorded (``distributed.ranks`` of the manifest).

    Attributes:
        rank: the global rank (0 publishes the version).
        node: the node (group) rank the process ran on.
        host: the host name.
        outcome: ``"finished"``, ``"failed"``, ``"interrupted"`` or ``"missing"`` (no report within the timeout).
        resources: the rank's own resources (CPU seconds, peak memory incl. children, GPUs).
        code_digest: digest of the rank's code state (git commit, diff, sources; machine paths left out).
        environment_digest: digest of the rank's interpreter and installed packages.
        metrics: the last value of each metric the rank logged (rank 0's also are the version's ``metrics``).
    """

    rank: int
    node: int = 0
    host: str = ""
    outcome: str = "finished"
    resources: ResourcesFacet = attrs.field(factory=ResourcesFacet)
    code_digest: str = ""
    environment_digest: str = ""
    metrics: dict[str, float | int | None] = attrs.field(factory=dict)


@attrs.frozen
class NodeSummary:
    """The ranks of one node of a distributed job and their summed resources.

    Attributes:
        node: the node (group) rank.
        hosts: host names seen on the node.
        ranks: global ranks that ran there.
        cpu_time_s: summed CPU seconds of those ranks.
        peak_rss_bytes: summed peak memory of those ranks in bytes (an upper bound of the node's peak).
    """

    node: int
    hosts: tuple[str, ...] = ()
    ranks: tuple[int, ...] = ()
    cpu_time_s: float = 0.0
    peak_rss_bytes: int = 0


@attrs.frozen
class DistributedFacet:
    """How a multi-process job made its one version (``distributed`` in the manifest; ``None`` for one process).

    Attributes:
        launcher: ``"torchrun"``, ``"accelerate"``, ``"deepspeed"``, ``"slurm"``, ``"mpi"``, ``"ray"``, ``"env"``
            (``RANK``/``WORLD_SIZE`` without a known launcher) or ``"explicit"``.
        job_id: the id every rank of the job shared (docs/distributed.md says where it comes from).
        world_size: the number of ranks.
        nodes: the number of nodes the ranks ran on.
        reported: the ranks whose report rank 0 read (all of them, for a published version).
        mismatched: ranks whose code or environment digest differs from rank 0's.
        ranks: one summary per reported rank, by rank.
        per_node: one summary per node, by node rank.
        cpu_time_s: total CPU seconds over all ranks.
        peak_rss_bytes: the sum of the ranks' peak memory in bytes.
        wall_time_s: the longest wall time of a rank in seconds.
    """

    launcher: str
    job_id: str
    world_size: int
    nodes: int = 1
    reported: tuple[int, ...] = ()
    mismatched: tuple[int, ...] = ()
    ranks: tuple[RankSummary, ...] = ()
    per_node: tuple[NodeSummary, ...] = ()
    cpu_time_s: float = 0.0
    peak_rss_bytes: int = 0
    wall_time_s: float = 0.0


@attrs.frozen
class ArtifactEntry:
    """One stored file of a version.

    Attributes:
        digest: content digest of the file.
        size_bytes: size in bytes.
        media_type: IANA media type (``application/octet-stream`` when unknown).
        format: how to read it back: a format name of :mod:`modelver.formats` (``"skops"``, ``"torch"``,
            ``"directory"``, ``"prompt"``...) or ``"file"`` (bytes only).
        tree: for a file of a directory artifact (``format="directory"``), the directory's artifact name, e.g.
            ``"model"`` for ``"model/config.json"``; ``None`` otherwise.
    """

    digest: str
    size_bytes: int
    media_type: str
    format: str
    tree: str | None = None


@attrs.frozen
class StepRecord:
    """One call of a ``@modelver.versioned`` step inside a run (docs/steps.md).

    The lineage graph is derived from digests: step B depends on step A when one of B's ``inputs`` equals A's
    ``output`` or one of A's ``outputs`` (a part of what A returned, so ``train, test = split(...)`` then
    ``fit(train)`` links ``fit`` to ``split``); an input equal to ``manifest.data[label].digest`` comes from that
    data entry.

    Attributes:
        name: the step's name.
        step_version: digest of the stored step-version record (a blob holding its canonical JSON).
        code: digest of the step's code identity (its normalised source and that of the local code it calls).
        inputs: argument name to the fingerprint digest of the value passed.
        output: fingerprint digest of the returned value, or ``None`` when it could not be fingerprinted.
        outputs: for a returned tuple, list or string-keyed dict, the fingerprint digest of each part, one level
            deep: ``"0"``, ``"1"``... for a tuple or list, the keys for a dict (a part that cannot be fingerprinted
            is left out); empty for any other value, and in manifests written before this field existed.
        cached: whether the stored output of an earlier call was returned without running the function.
        started_at: RFC 3339 UTC time the call started.
        duration_s: wall-clock seconds the call took (for a cached call: the time to load the stored output).
        values: argument name to the value passed, as JSON text, for small scalar arguments (``None``, booleans,
            numbers, strings up to 200 characters) whose names do not look secret; URLs lose their credentials.
            What the lineage graph prints on a value node. Empty in manifests written before this field existed.
    """

    name: str
    step_version: str
    code: str
    inputs: dict[str, str] = attrs.field(factory=dict)
    output: str | None = None
    outputs: dict[str, str] = attrs.field(factory=dict)
    cached: bool = False
    started_at: str = ""
    duration_s: float = 0.0
    values: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Lineage:
    """What a version was built from.

    Attributes:
        steps: the ``@modelver.versioned`` step calls made inside the run, in the order they finished.
        inputs: versions loaded inside the run, as ``name@version`` with their digests (``name@version#digest``).
    """

    steps: tuple[StepRecord, ...] = ()
    inputs: tuple[str, ...] = ()


@attrs.frozen
class Segment:
    """An earlier segment of a resumed run: the run that was interrupted, and how far it got.

    Attributes:
        run_id: the interrupted run's id (its record stays in ``modelver runs``).
        outcome: ``"interrupted"``.
        signal: the signal that ended it (``"SIGTERM"``), or ``""``.
        checkpoint_step: the step of its last checkpoint, or ``None``.
        resources: the resources it used.
    """

    run_id: str
    outcome: str = "interrupted"
    signal: str = ""
    checkpoint_step: int | None = None
    resources: ResourcesFacet = attrs.field(factory=ResourcesFacet)


@attrs.frozen
class Manifest:
    """The record of one version (see the module docstring for what is hashed).

    Attributes:
        schema: ``"modelver.manifest/1"``.
        name: the model name.
        version: the version this manifest was resolved through (``None`` before publishing).
        digest: the manifest's content digest (``None`` before publishing).
        created_at: RFC 3339 UTC timestamp of the end of the run.
        created_by: user and host.
        run_id: the run's unique id.
        code, environment, resources: captured facets.
        config: the run's config, losslessly encoded (:func:`modelver.encode_config`); a large config is replaced by
            ``{"$type": "blob", "digest": ..., "size_bytes": ...}``.
        data: label to data fingerprint.
        metrics: metric name to its last logged value (``None`` for NaN/inf, with a capture error).
        metrics_history: digest of a JSON-lines blob of every ``log_metrics`` call with its step, or ``None``.
        artifacts: relative POSIX path to stored file.
        lineage: what the version was built from.
        capture_errors: every capture that failed, across facets.
        distributed: how the ranks of a multi-process job made this version, or ``None`` for one process (added
            in the issue-15 release; manifests written before it load with ``None``).
        segments: the earlier, interrupted segments of a run continued with ``track(resume=True)``, oldest first
            (``resources`` then sums every segment); empty otherwise.
        labels: key=value metadata given to ``track(labels=...)`` (docs/search.md); label events written later
            override it per key. Manifests written before labels existed load with ``{}``.
        description: the text given to ``track(description=...)``; ``""`` when none (and in older manifests).

    Example:
        >>> manifest = modelver.get("churn@1.2.0").manifest  # doctest: +SKIP
        >>> manifest.metrics, manifest.data["train"].uri  # doctest: +SKIP
        ({'accuracy': 0.93}, '/data/churn/train.csv')
    """

    name: str
    created_at: str
    created_by: CreatedBy
    run_id: str
    schema: str = SCHEMA
    version: str | None = None
    digest: str | None = None
    code: CodeFacet = attrs.field(factory=CodeFacet)
    environment: EnvironmentFacet = attrs.field(factory=EnvironmentFacet)
    config: JSON = attrs.field(factory=dict)
    data: dict[str, DataEntry] = attrs.field(factory=dict)
    resources: ResourcesFacet = attrs.field(factory=ResourcesFacet)
    metrics: dict[str, float | int | None] = attrs.field(factory=dict)
    metrics_history: str | None = None
    artifacts: dict[str, ArtifactEntry] = attrs.field(factory=dict)
    lineage: Lineage = attrs.field(factory=Lineage)
    capture_errors: tuple[CaptureErrorRecord, ...] = ()
    distributed: DistributedFacet | None = None
    segments: tuple[Segment, ...] = ()
    labels: dict[str, str] = attrs.field(factory=dict)
    description: str = ""


#: Label keys: letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit, at most 128 characters.
LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
#: The longest label value and description, in characters.
MAX_LABEL_VALUE = 1000
MAX_DESCRIPTION = 10_000


def check_label_key(key: object) -> str:
    """``key`` if it is a valid label key.

    Raises:
        InvalidLabelError: it is not.
    """
    if not isinstance(key, str) or not LABEL_KEY.fullmatch(key):
        raise InvalidLabelError(
            f"label key {key!r} is not allowed: use letters, digits, '_', '.', '-' (starting with a letter or digit, "
            "at most 128 characters), e.g. team or data.source",
            key=str(key),
        )
    return key


def check_label_value(key: str, value: object) -> str:
    """``value`` if it is a valid value for label ``key`` (printable text of at most 1,000 characters).

    Raises:
        InvalidLabelError: it is not.
    """
    if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE or not value.isprintable():
        raise InvalidLabelError(
            f"the value of label {key!r} must be printable text of at most {MAX_LABEL_VALUE} characters, got "
            f"{value!r}; convert numbers to text (labels are strings)",
            key=key,
        )
    return value


def check_description(text: object) -> str:
    """``text`` if it is a valid description (text of at most 10,000 characters).

    Raises:
        InvalidLabelError: it is not.
    """
    if not isinstance(text, str) or len(text) > MAX_DESCRIPTION:
        raise InvalidLabelError(f"a description is text of at most {MAX_DESCRIPTION} characters, got {type(text)}")
    return text


def check_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """``labels`` checked key by key (:func:`check_label_key`, :func:`check_label_value`), as a new dict.

    Args:
        labels: key to value, or ``None`` for none.

    Returns:
        The labels, in the given order.

    Raises:
        InvalidLabelError: a key or value breaks the rules, or ``labels`` is not a mapping.

    Example:
        >>> check_labels({"team": "risk"})
        {'team': 'risk'}
    """
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidLabelError(f"labels must be a mapping of key to text, e.g. {{'team': 'risk'}}, got {labels!r}")
    return {check_label_key(k): check_label_value(k, v) for k, v in labels.items()}
