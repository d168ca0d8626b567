"""Which launcher started this process, its rank, the job's world size, and the job id all its ranks share.

The job id decides which processes form one version and which run a restart resumes, so it never merges two jobs.
Order (docs/distributed.md):

1. ``track(job_id=...)``, then ``MODELVER_JOB_ID``;
2. Ray Train's run (the Ray job id and the experiment name, from ``ray.train.get_context()``), then
   ``SLURM_JOB_ID``;
3. ``TORCHELASTIC_RUN_ID`` (torchrun ``--standalone``, ``--rdzv-id``), except the literal ``none`` that a static
   rendezvous sets;
4. the MPI launcher's own id (``PMIX_NAMESPACE``, ``OMPI_MCA_ess_base_jobid``);
5. where every rank runs on one node (``LOCAL_WORLD_SIZE == WORLD_SIZE``): the launcher process, the parent of
   every rank, named by its pid and start time, so that all ranks agree without talking and two jobs started back
   to back differ;
6. otherwise :class:`~modelver.errors.JobIdError` asks for ``job_id=``.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Mapping

import attrs

from modelver.distributed.ray_train import RayPosition, ray_train_position
from modelver.errors import JobIdError

__all__ = ["Launch", "detect_launch", "process_start_time"]

_SAFE = re.compile(r"[A-Za-z0-9._-]{1,100}")


@attrs.frozen
class Launch:
    """Where this process sits in a distributed job.

    Attributes:
        launcher: ``"torchrun"``, ``"accelerate"``, ``"deepspeed"``, ``"slurm"``, ``"mpi"``, ``"ray"``, ``"env"``
            or ``"explicit"``.
        job_id: the id every rank of the job shares (a path-safe string).
        rank: this process's global rank; rank 0 publishes.
        world_size: the number of ranks.
        local_rank: the rank on this node.
        node: the node (group) rank.
        attempt: the restart count of the job (0 for the first attempt); restarts share the job id.
        host: this host's name.

    Example:
        >>> Launch("explicit", "job-1", rank=0, world_size=2).is_main
        True
    """

    launcher: str
    job_id: str
    rank: int
    world_size: int
    local_rank: int = 0
    node: int = 0
    attempt: int = 0
    host: str = attrs.field(factory=socket.gethostname)

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0 (the one that publishes)."""
        return self.rank == 0


def _int(env: Mapping[str, str], *keys: str) -> int | None:
    for key in keys:
        value = env.get(key, "").strip()
        if value.lstrip("-").isdigit():
            return int(value)
    return None


def safe_job_id(raw: str) -> str:
    """``raw`` as a path segment: unchanged when it is one, else its safe characters plus a short hash of it.

    Example:
        >>> safe_job_id("12345")
        '12345'
        >>> safe_job_id("prterun-host-1@1")[:16]
        'prterun-host-1_1'
    """
    if _SAFE.fullmatch(raw) and raw not in (".", ".."):
        return raw
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", raw)[:80].strip(".") or "job"
    return f"{cleaned}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


def process_start_time(pid: int) -> str:
    """A token for when process ``pid`` started (clock ticks since boot on Linux), or ``""`` if unknown.

    Together with the pid it names one process for the machine's uptime: pids are reused, start times are not.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return fields[19]  # field 22 of proc(5): starttime
    except (OSError, IndexError):
        pass
    try:
        import psutil  # type: ignore[import-untyped]

        return f"{psutil.Process(pid).create_time():.3f}"
    except Exception:  # no such process, or no psutil
        return ""


def _launcher_name(env: Mapping[str, str]) -> str:
    if "TORCHELASTIC_RUN_ID" in env:
        if any(key.startswith("ACCELERATE_") for key in env):
            return "accelerate"
        return "torchrun"
    if any(key.startswith("ACCELERATE_") for key in env):
        return "accelerate"
    if "RAY_TRAIN_WORKER" in env or any(key.startswith("RAY_TRAIN_") for key in env):
        return "ray"
    if any(key.startswith(("DEEPSPEED_", "DS_ACCELERATOR")) for key in env) or "CROSS_RANK" in env:
        return "deepspeed"
    return "env"


def _position(env: Mapping[str, str]) -> tuple[str, int, int, int | None, int, int | None] | None:
    """(launcher, rank, world size, local world size, local rank, node) from the environment, or ``None``."""
    rank, world = _int(env, "RANK"), _int(env, "WORLD_SIZE")
    if rank is not None and world is not None:
        local_world = _int(env, "LOCAL_WORLD_SIZE")
        node = _int(env, "GROUP_RANK", "NODE_RANK")
        return _launcher_name(env), rank, world, local_world, _int(env, "LOCAL_RANK") or 0, node
    rank, world = _int(env, "OMPI_COMM_WORLD_RANK", "PMI_RANK"), _int(env, "OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
    if rank is not None and world is not None:
        local_world = _int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")
        local_rank = _int(env, "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID") or 0
        return "mpi", rank, world, local_world, local_rank, _int(env, "OMPI_COMM_WORLD_NODE_RANK")
    rank, world = _int(env, "SLURM_PROCID"), _int(env, "SLURM_NTASKS")
    if rank is not None and world is not None:
        nodes = _int(env, "SLURM_NNODES", "SLURM_JOB_NUM_NODES")
        local_world = world if nodes == 1 else None
        return "slurm", rank, world, local_world, _int(env, "SLURM_LOCALID") or 0, _int(env, "SLURM_NODEID")
    return None


def _launcher_job_id(
    launcher: str, env: Mapping[str, str], world: int, local_world: int | None, ray: RayPosition | None = None
) -> str | None:
    if env.get("MODELVER_JOB_ID", "").strip():
        return env["MODELVER_JOB_ID"].strip()
    if ray is not None:
        return ray.job_id
    if env.get("SLURM_JOB_ID", "").strip():
        return "slurm-" + env["SLURM_JOB_ID"].strip()
    run_id = env.get("TORCHELASTIC_RUN_ID", "").strip()
    if run_id and run_id.lower() != "none":
        return f"{launcher}-{run_id}"
    for key in ("PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid", "PMI_JOBID"):
        if env.get(key, "").strip():
            return "mpi-" + env[key].strip()
    if local_world is not None and local_world == world:
        # One node: the launcher (torchrun's agent, mpirun's proxy, deepspeed's launcher) is every rank's parent.
        parent = os.getppid()
        return f"{launcher}-{socket.gethostname()}-{parent}-{process_start_time(parent) or 'x'}"
    return None


def _attempt(env: Mapping[str, str]) -> int:
    return _int(env, "TORCHELASTIC_RESTART_COUNT", "SLURM_RESTART_COUNT") or 0


def detect_launch(
    environ: Mapping[str, str] | None = None,
    *,
    job_id: str | None = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> Launch | None:
    """Detect the distributed launcher from the environment, with explicit values overriding it.

    Args:
        environ: the environment to read (default ``os.environ``).
        job_id: the job id every rank passes (overrides the launcher's).
        rank: this process's global rank (overrides ``RANK``, ``SLURM_PROCID``, ...).
        world_size: the number of ranks (overrides ``WORLD_SIZE``, ``SLURM_NTASKS``, ...).

    Returns:
        The :class:`Launch`, or ``None`` for a single process (no launcher, or a world of one).

    Raises:
        JobIdError: several ranks on several nodes and no stable job id to share (pass ``job_id=``), or
            ``rank``/``world_size`` given without the other, or out of range.

    Example:
        >>> env = {"RANK": "1", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "abc"}
        >>> launch = detect_launch(env)
        >>> (launch.launcher, launch.job_id, launch.rank, launch.world_size)
        ('torchrun', 'torchrun-abc', 1, 2)
    """
    env = os.environ if environ is None else environ
    found = _position(env)
    ray = ray_train_position() if environ is None else None
    if ray is not None:  # Ray Train's own context wins over the variables its torch workers also set
        found = ("ray", ray.rank, ray.world_size, ray.local_world_size, ray.local_rank, ray.node)
    launcher, local_rank, node, local_world = "explicit", 0, None, None
    if found is not None:
        launcher, found_rank, found_world, local_world, local_rank, node = found
        rank = found_rank if rank is None else rank
        world_size = found_world if world_size is None else world_size
    if (rank is None) != (world_size is None):
        raise JobIdError(
            f"track() got rank={rank!r} and world_size={world_size!r}: pass both (or neither, to detect them from "
            "the launcher)",
            launcher=launcher,
        )
    if rank is None or world_size is None or (world_size == 1 and job_id is None):
        return None
    if not 0 <= rank < world_size:
        raise JobIdError(f"rank {rank} is outside a world of {world_size} ranks; pass 0 <= rank < world_size")
    raw = job_id if job_id is not None else _launcher_job_id(launcher, env, world_size, local_world, ray)
    if not raw:
        raise JobIdError(
            f"this is rank {rank} of {world_size} under {launcher} on several nodes, and the launcher gives no id "
            "that every rank shares (a static rendezvous sets TORCHELASTIC_RUN_ID=none). Pass "
            "modelver.track(..., job_id=...) with one value per job, set MODELVER_JOB_ID, or launch with "
            "torchrun --rdzv-id=<unique id>, so that the ranks publish one version together",
            launcher=launcher,
        )
    return Launch(
        launcher=launcher,
        job_id=safe_job_id(raw),
        rank=rank,
        world_size=world_size,
        local_rank=local_rank,
        node=node if node is not None else 0,
        attempt=_attempt(env),
    )
