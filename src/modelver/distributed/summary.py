"""The ``distributed`` section of a job's manifest, from the reports of its ranks; and the code and environment
digests that show when ranks ran different code (a common multi-node bug).
"""

from __future__ import annotations

from collections.abc import Mapping

from modelver.distributed.job_area import RankReport
from modelver.distributed.launcher import Launch
from modelver.manifest import CodeFacet, DistributedFacet, EnvironmentFacet, NodeSummary, RankSummary
from modelver.serde import canonical_json, to_json_dict
from modelver.store.digest import digest_bytes

__all__ = ["code_digest", "distributed_facet", "environment_digest", "outcomes"]


def code_digest(code: CodeFacet, algorithm: str) -> str:
    """Digest of the code state: git commit, diff and untracked files, sources; not the checkout's path.

    Example:
        >>> code_digest(CodeFacet(root="/a"), "sha256") == code_digest(CodeFacet(root="/b"), "sha256")
        True
    """
    body = to_json_dict(code)
    body.pop("root", None)
    if isinstance(body.get("git"), dict):
        body["git"].pop("root", None)
    return digest_bytes(canonical_json(body), algorithm)


def environment_digest(environment: EnvironmentFacet, algorithm: str) -> str:
    """Digest of the interpreter and the installed packages (editable checkouts' paths left out)."""
    body = {
        "python": environment.python,
        "implementation": environment.implementation,
        "packages": environment.packages,
    }
    return digest_bytes(canonical_json(body), algorithm)


def outcomes(world_size: int, reports: Mapping[int, RankReport]) -> dict[str, str]:
    """Each rank's outcome by rank (as a string key, for JSON): its report's, or ``"missing"``."""
    return {str(r): reports[r].summary.outcome if r in reports else "missing" for r in range(world_size)}


def distributed_facet(launch: Launch, reports: Mapping[int, RankReport]) -> DistributedFacet:
    """The manifest's ``distributed`` section for ``launch``'s job from the ranks' ``reports`` (rank 0's included).

    Ranks whose code or environment digest differs from rank 0's are listed in ``mismatched``.
    """
    summaries = [reports[r].summary for r in sorted(reports)]
    main = reports.get(0)
    mismatched = tuple(
        s.rank
        for s in summaries
        if main is not None
        and (s.code_digest != main.summary.code_digest or s.environment_digest != main.summary.environment_digest)
    )
    nodes: dict[int, list[RankSummary]] = {}
    for summary in summaries:
        nodes.setdefault(summary.node, []).append(summary)
    per_node = tuple(
        NodeSummary(
            node=node,
            hosts=tuple(sorted({s.host for s in members})),
            ranks=tuple(s.rank for s in members),
            cpu_time_s=sum(s.resources.cpu_time_s for s in members),
            peak_rss_bytes=sum(s.resources.peak_rss_bytes for s in members),
        )
        for node, members in sorted(nodes.items())
    )
    return DistributedFacet(
        launcher=launch.launcher,
        job_id=launch.job_id,
        world_size=launch.world_size,
        nodes=len(per_node),
        reported=tuple(s.rank for s in summaries),
        mismatched=mismatched,
        ranks=tuple(summaries),
        per_node=per_node,
        cpu_time_s=sum(s.resources.cpu_time_s for s in summaries),
        peak_rss_bytes=sum(s.resources.peak_rss_bytes for s in summaries),
        wall_time_s=max((s.resources.wall_time_s for s in summaries), default=0.0),
    )
