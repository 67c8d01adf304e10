"""delete-rds: delete the previous target (instances, then cluster) if and only if this pipeline owns it.

A busy target (backing-up, maintenance, modifying...) is waited for without spending retry attempts; a stopped one
is started first, because AWS refuses to delete the instances of a stopped cluster: "You must start the cluster
before performing any such administrative actions" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
aurora-cluster-stop-start.html). A target in a failed state (e.g. its key is gone) is deleted all the same: it is
being replaced. Before anything is deleted, the target's Extended Support, storage type and log exports are read
onto the run (`previous_target_settings`): the restore does not carry them over by itself (shared/cluster_settings.py).
"""

from __future__ import annotations

from shared.cluster_settings import ClusterSettings, of_cluster
from shared.config import AppConfig, PipelineConfig
from shared.errors import PipelineError, SafetyViolation
from shared.naming import TAG_PIPELINE, TAG_RUN
from shared.ports import ClusterView, InstanceView, RdsGateway
from shared.rds_states import Condition, condition
from shared.steps.turn import StepTurn
from shared.transitions import DetailType


def guard(config: AppConfig, pipeline: PipelineConfig, cluster: ClusterView) -> None:
    """The safety rules. Raises SafetyViolation (the run fails, nothing is deleted) unless all hold."""
    if cluster.identifier.lower() != pipeline.target_cluster_id.lower():
        raise SafetyViolation(
            "NotTheTarget",
            f"{cluster.identifier} is not the configured target {pipeline.target_cluster_id}; refusing to delete",
        )
    if config.is_source_cluster(pipeline.target_region, cluster.identifier):
        raise SafetyViolation(
            "TargetIsSourceCluster", f"{cluster.identifier} is a configured source cluster; refusing to delete it"
        )
    owner = cluster.tags.get(TAG_PIPELINE)
    if owner != pipeline.name:
        found = f"it carries {TAG_PIPELINE}={owner}" if owner else f"it has no {TAG_PIPELINE} tag"
        raise SafetyViolation(
            "TargetNotOwned",
            f"target cluster {cluster.identifier} is not owned by pipeline {pipeline.name} ({found}); refusing to "
            f"delete it. Tag the cluster and its instances {TAG_PIPELINE}={pipeline.name} to let the pipeline "
            "replace it.",
        )
    if cluster.deletion_protection:
        raise SafetyViolation(
            "TargetDeletionProtected",
            f"target cluster {cluster.identifier} has deletion protection on; refusing to delete it",
        )


def guard_instance(pipeline: PipelineConfig, instance: InstanceView) -> None:
    if instance.tags.get(TAG_PIPELINE) != pipeline.name:
        raise SafetyViolation(
            "InstanceNotOwned",
            f"instance {instance.identifier} of the target is not tagged {TAG_PIPELINE}={pipeline.name}; "
            "refusing to delete it",
        )


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
    if cluster.status == "deleting":
        turn.wait(
            backoff,
            f"cluster {cluster.identifier} deleting",
            woken_by="RDS-EVENT-0171",
            previous_target_settings=captured,
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
        )
        return
    if state is Condition.BUSY:
        busy = f"target {cluster.identifier} is busy ({cluster.status}); waiting, no attempt spent"
        turn.wait(backoff, busy, previous_target_settings=captured)
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
        )
        return
    turn.wait(
        0,
        f"deletion of {cluster.identifier} requested",
        woken_by="RDS-EVENT-0171",
        previous_target_settings=captured,
    )


def settings_of(cluster: ClusterView) -> ClusterSettings:
    return of_cluster(cluster.engine_lifecycle_support, cluster.storage_type, cluster.cloudwatch_logs_exports)
