"""Ray Train: where this process sits, read from Ray Train's own train context rather than only environment
variables (a Ray worker's environment says little about the training run it belongs to).

Ray is never imported here: the context is consulted only when the training script already imported ``ray``, and
only inside a Ray Train worker (``ray.train.get_context()`` raises elsewhere).
"""

from __future__ import annotations

import sys

import attrs

__all__ = ["RayPosition", "ray_train_position"]


@attrs.frozen
class RayPosition:
    """A Ray Train worker's place in its training run.

    Attributes:
        rank: the worker's world rank.
        world_size: the number of workers.
        local_rank: the worker's rank on its node.
        local_world_size: the number of workers on its node.
        node: the node rank.
        job_id: an id every worker of the run shares: the Ray job id and the run's experiment name.

    Example:
        >>> RayPosition(1, 2, 1, 2, 0, "ray-01000000-exp").world_size
        2
    """

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node: int
    job_id: str


def ray_train_position() -> RayPosition | None:
    """This process's place in a Ray Train run, from ``ray.train.get_context()``; ``None`` outside one.

    Returns:
        The position, or ``None`` when ``ray`` is not imported, this is not a Ray Train worker, or the context
        cannot be read.

    Example:
        >>> ray_train_position() is None  # not inside a Ray Train worker
        True
    """
    if "ray" not in sys.modules:
        return None
    try:
        import ray
        import ray.train

        context = ray.train.get_context()
        rank, world = int(context.get_world_rank()), int(context.get_world_size())
        local_rank, local_world = int(context.get_local_rank()), int(context.get_local_world_size())
        node = int(context.get_node_rank())
        experiment = str(context.get_experiment_name())
        ray_job = str(ray.get_runtime_context().get_job_id())
    except Exception:  # not a Ray Train worker (get_context raises there), or another Ray's API
        return None
    return RayPosition(rank, world, local_rank, local_world, node, f"ray-{ray_job}-{experiment}")
