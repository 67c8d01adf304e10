"""delete-rds: delete the previous target (instances, then cluster) if and only if this pipeline owns it.

A busy target (backing-up, maintenance, modifying...) is waited for without spending retry attempts; a stopped one
is started first, because AWS refuses to delete the instances of a stopped cluster: "You must start the cluster
before performing any such administrative actions" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
aurora-cluster-stop-start.html). A target in a failed state (e.g. its key is gone) is deleted all the same: it is
being replaced. Before anything is deleted, the target's Extended Support, storage type and log exports are read
onto the run (`previous_target_settings`): the restore does not carry them over by itself (shared/cluster_settings.py),
and so are its network, parameter groups and instances (`previous_target`, shared/new_cluster.py).

In `swap` mode nothing is deleted here: the target is only read (same guards: it must be the configured target, not
a source, and carry the ownership tag, or the run fails before anything is made) and the run gets its staging
identifier; the target keeps serving until the swap (shared/steps/swap_clusters.py).
"""

from __future__ import annotations

from shared.cluster_settings import ClusterSettings, of_cluster
from shared.config import AppConfig, PipelineConfig
from shared.errors import PipelineError, SafetyViolation
from shared.naming import TAG_PIPELINE, TAG_RUN, staging_cluster_id
from shared.new_cluster import read_target
from shared.ports import ClusterView, InstanceView, RdsGateway
from shared.rds_states import Condition, condition
from shared.steps.turn import StepTurn
from shared.transitions import DetailType


def guard(config: AppConfig, pipeline: PipelineConfig, cluster: ClusterView, verb: str = "delete") -> None:
    """The safety rules. Raises SafetyViolation (the run fails, nothing is deleted or renamed) unless all hold;
    deletion protection matters only to a deletion."""
    if cluster.identifier.lower() != pipeline.target_cluster_id.lower():
        raise SafetyViolation(
            "NotTheTarget",
            f"{cluster.identifier} is not the configured target {pipeline.target_cluster_id}; refusing to {verb}",
        )
    if config.is_source_cluster(pipeline.target_region, cluster.identifier):
        raise SafetyViolation(
            "TargetIsSourceCluster", f"{cluster.identifier} is a configured source cluster; refusing to {verb} it"
        )
    owner = cluster.tags.get(TAG_PIPELINE)
    if owner != pipeline.name:
        found = f"it carries {TAG_PIPELINE}={owner}" if owner else f"it has no {TAG_PIPELINE} tag"
        raise SafetyViolation(
            "TargetNotOwned",
            f"target cluster {cluster.identifier} is not owned by pipeline {pipeline.name} ({found}); refusing to "
            f"{verb} it. Tag the cluster and its instances {TAG_PIPELINE}={pipeline.name} to let the pipeline "
            "replace it.",
        )
    if verb == "delete" and cluster.deletion_protection:
        raise SafetyViolation(
            "TargetDeletionProtected",
            f"target cluster {cluster.identifier} has deletion protection on; refusing to delete it",
        )


def guard_instance(pipeline: PipelineConfig, instance: InstanceView, verb: str = "delete") -> None:
    if instance.tags.get(TAG_PIPELINE) != pipeline.name:
        raise SafetyViolation(
            "InstanceNotOwned",
            f"instance {instance.identifier} of the target is not tagged {TAG_PIPELINE}={pipeline.name}; "
            f"refusing to {verb} it",
        )


def members_of(rds: RdsGateway, cluster: ClusterView) -> list[InstanceView]:
    found = [rds.find_instance(member) for member in cluster.member_ids]
    return [m for m in found if m is not None]


def read_for_swap(turn: StepTurn) -> None:
    """`swap`: read the target's settings onto the run (guarded as for a deletion, so a target the pipeline may not
    replace fails the run before anything is made), name the staging cluster, hand over to restore-snapshot."""
    run, pipeline = turn.run, turn.pipeline
    rds = turn.deps.rds_for(run.target_region)
    staging = run.staging_cluster_id or staging_cluster_id(run.target_cluster_id, run.run_id)
    cluster = rds.find_cluster(run.target_cluster_id)
    if cluster is None:
        turn.wait(
            0,
            f"no target yet; restoring as {staging}, named {run.target_cluster_id} at the swap",
            staging_cluster_id=staging,
        )
        turn.emit(DetailType.TARGET_READ)
        return
    guard(turn.deps.config, pipeline, cluster, verb="swap out")
    members = members_of(rds, cluster)
    for instance in members:
        guard_instance(pipeline, instance, verb="swap out")
    target = run.previous_target or read_target(cluster, members)
    turn.wait(
        0,
        f"target {cluster.identifier} ({cluster.status}, {len(members)} instance(s)) read; it keeps serving until "
        f"the swap; restoring beside it as {staging}",
        staging_cluster_id=staging,
        previous_target=target,
        previous_target_settings=target.restore,
    )
    turn.emit(DetailType.TARGET_READ)


def _delete_members(rds: RdsGateway, pipeline: PipelineConfig, cluster: ClusterView) -> list[InstanceView]:
    """Request deletion of every member; return those still present."""
    remaining = []
    members = [rds.find_instance(member) for member in cluster.member_ids]
    present = [m for m in members if m is not None]
    for instance in present:  # check all before deleting any: never leave a half-deleted target by choice
        guard_instance(pipeline, instance)
    for instance in present:
        if instance.status != "deleting":
            rds.delete_instance(instance.identifier)
        if rds.find_instance(instance.identifier) is not None:
            remaining.append(instance)
    return remaining


def act(turn: StepTurn) -> None:
    run, pipeline = turn.run, turn.pipeline
    if run.staging_cluster_id is not None or (pipeline.cutover == "swap" and run.previous_target is None):
        read_for_swap(turn)
        return
    backoff = turn.policy.min_poll_seconds * 2 ** min(run.checks, 4)
    rds = turn.deps.rds_for(run.target_region)
    cluster = rds.find_cluster(run.target_cluster_id)
    if cluster is None or cluster.tags.get(TAG_RUN) == run.run_id:
        # Gone (or already replaced by this very run after a crash): the restore step takes over.
        reason = "target absent" if cluster is None else "target already restored by this run"
        turn.wait(0, f"{reason}; TargetDeleted emitted", woken_by="TargetDeleted")
        turn.emit(DetailType.TARGET_DELETED)
        return
    guard(turn.deps.config, pipeline, cluster)
    captured = run.previous_target_settings or settings_of(cluster)
    target = run.previous_target or read_target(cluster, members_of(rds, cluster))
    if cluster.status == "deleting":
        turn.wait(
            backoff,
            f"cluster {cluster.identifier} deleting",
            woken_by="RDS-EVENT-0171",
            previous_target_settings=captured,
            previous_target=target,
        )
        return
    state = condition(cluster.status)
    if state is Condition.STOPPED:
        rds.start_cluster(cluster.identifier)  # guarded above: only a target this pipeline owns is ever started
        turn.wait(
            backoff,
            f"target {cluster.identifier} was stopped; StartDBCluster requested (a stopped cluster's "
            "instances cannot be deleted); deleting once it is available",
            previous_target_settings=captured,
            previous_target=target,
        )
        return
    if state is Condition.BUSY:
        busy = f"target {cluster.identifier} is busy ({cluster.status}); waiting, no attempt spent"
        turn.wait(backoff, busy, previous_target_settings=captured, previous_target=target)
        return
    remaining = _delete_members(rds, pipeline, cluster)
    try:
        rds.delete_cluster(cluster.identifier)
    except PipelineError as exc:
        if exc.code != "InvalidDBClusterStateFault":
            raise
        turn.wait(
            backoff,
            f"instances deleting ({len(remaining)} left); cluster delete next",
            woken_by="RDS-EVENT-0003",
            previous_target_settings=captured,
            previous_target=target,
        )
        return
    turn.wait(
        0,
        f"deletion of {cluster.identifier} requested",
        woken_by="RDS-EVENT-0171",
        previous_target_settings=captured,
        previous_target=target,
    )


def settings_of(cluster: ClusterView) -> ClusterSettings:
    return of_cluster(cluster.engine_lifecycle_support, cluster.storage_type, cluster.cloudwatch_logs_exports)
