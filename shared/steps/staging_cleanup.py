"""A `swap` run that fails before its swap leaves the old target untouched; this removes its staging cluster.

The instances are deleted at once (only those carrying this run's tag) and the cluster is handed to the check's
retired-cluster clean-up with no delay (shared/steps/retired_clusters.py: it deletes the cluster once its instances
are gone, and only while it carries the pipeline's ownership tag). With `keep_failed_staging` the staging cluster is
kept, still quarantined, for inspection. A run that failed after the old target was renamed away is not cleaned up:
both clusters are kept and the operator is told where each is.
"""

from __future__ import annotations

from shared.model import RetiredCluster
from shared.naming import TAG_RUN
from shared.steps.retired_clusters import keep_retired
from shared.steps.turn import StepTurn


def remove_staging(turn: StepTurn) -> str | None:
    run, pipeline = turn.run, turn.pipeline
    staging_id = run.staging_cluster_id
    if staging_id is None:
        return None  # a `replace` run
    if run.swap is not None and run.swap.vacated_at is not None:
        return (
            f"the swap stopped after the target was renamed away: the previous target is {run.retired_cluster_id}, "
            f"the new cluster is {run.new_cluster_id}; nothing was deleted. Run `aurora-restore rollback "
            f"{pipeline.name}` or finish the renames by hand."
        )
    rds = turn.deps.rds_for(run.target_region)
    cluster = rds.find_cluster(staging_id)
    if cluster is None:
        return None  # never made (the failure came first) or gone already
    if cluster.tags.get(TAG_RUN) != run.run_id:
        return f"{staging_id} was not made by this run; not touched"
    if pipeline.keep_failed_staging:
        return (
            f"staging cluster {staging_id} kept, quarantined, for inspection (keep_failed_staging); delete it by hand"
        )
    deleted = []
    for member in cluster.member_ids:
        instance = rds.find_instance(member)
        if instance is not None and instance.tags.get(TAG_RUN) == run.run_id and instance.status != "deleting":
            rds.delete_instance(instance.identifier)
            deleted.append(instance.identifier)
    now = turn.now()
    keep_retired(
        turn.deps,
        pipeline.name,
        RetiredCluster(
            kind="staging",
            cluster_id=staging_id,
            arn=cluster.arn,
            run_id=run.run_id,
            run_tag=run.run_id,
            retired_at=now,
            delete_after=now,
        ),  # fmt: skip
    )
    return (
        f"staging cluster {staging_id} removed: {len(deleted)} instance(s) deleting, the cluster follows; the "
        "target was not touched"
    )
