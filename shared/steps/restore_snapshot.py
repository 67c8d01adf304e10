"""restore-snapshot: restore the run's new cluster from the copy (tagged as owned), then create its instances.

`replace` restores under the target's own identifier (delete-rds removed the old target); `swap` restores beside it
under the run's staging identifier, with only the configured quarantine security groups until the swap. Either
way the new cluster gets the previous target's settings unless configured otherwise (shared/new_cluster.py).
"""

from __future__ import annotations

from shared.errors import PipelineError, SafetyViolation, cluster_already_exists
from shared.model import RunStatus
from shared.naming import TAG_RUN, instance_id
from shared.new_cluster import plan
from shared.ports import ClusterView, InstanceRequest, InstanceView, RestoreRequest
from shared.steps import restore_source
from shared.steps.turn import StepTurn


def request_restore(turn: StepTurn) -> ClusterView:
    """Restore the run's new cluster with the settings `plan` chose."""
    run, pipeline = turn.run, turn.pipeline
    rds = turn.deps.rds_for(run.target_region)
    source = restore_source.origin(turn, rds)  # the run's copy, or the source cluster (clone, point-in-time)
    new = plan(pipeline, run, source.engine_version)
    quarantined = run.staging_cluster_id is not None
    if quarantined:
        new.target_security_groups(run.target_cluster_id)  # the swap's end must be possible before we begin
    request = RestoreRequest(
        cluster_id=run.new_cluster_id,
        snapshot_id=source.snapshot_id,
        point_in_time=source.point_in_time,
        engine=source.engine,
        engine_version=source.engine_version,
        db_subnet_group=new.db_subnet_group,
        security_group_ids=pipeline.quarantine_security_group_ids if quarantined else new.security_group_ids,
        db_cluster_parameter_group=new.db_cluster_parameter_group,
        kms_key_id=pipeline.kms_key_id,
        settings=new.restore,
        iam_database_authentication=new.iam_database_authentication,
        backup_retention_days=new.backup_retention_days,
        serverless_v2=new.serverless_v2,
        tags=new.tags,
    )
    try:
        return restore_source.restore(rds, request)
    except PipelineError as exc:
        existing = rds.find_cluster(run.new_cluster_id) if cluster_already_exists(exc) else None
        if existing is None or existing.tags.get(TAG_RUN) != run.run_id:
            raise
        return existing


def ensure_instances(turn: StepTurn, cluster: ClusterView) -> list[InstanceView]:
    """Create missing instances (`<new cluster>-<n>`); return all of them as they are now."""
    run, pipeline = turn.run, turn.pipeline
    rds = turn.deps.rds_for(run.target_region)
    engine = cluster.engine or pipeline.engine
    new = plan(pipeline, run, cluster.engine_version)
    instances = []
    for index in range(1, new.instance_count + 1):
        name = instance_id(run.new_cluster_id, index)
        instance = rds.find_instance(name)
        if instance is None:
            instance = rds.create_instance(
                InstanceRequest(
                    instance_id=name,
                    cluster_id=run.new_cluster_id,
                    instance_class=new.instance_class,
                    engine=engine,
                    db_parameter_group=new.db_instance_parameter_group,
                    tags=new.tags,
                )
            )
        instances.append(instance)
    return instances


def act(turn: StepTurn) -> None:
    run, pipeline, deps = turn.run, turn.pipeline, turn.deps
    existing = deps.rds_for(run.target_region).find_cluster(run.new_cluster_id)
    if existing is not None and existing.tags.get(TAG_RUN) != run.run_id:
        if run.staging_cluster_id is not None:  # never adopt, never touch a cluster this run did not make
            raise SafetyViolation(
                "StagingNameTaken",
                f"cluster {existing.identifier} exists and was not made by run {run.run_id}; refusing to restore "
                "under its name",
            )
        # The previous target is still there (event early or out of order): delete-rds owns it.
        turn.ignore(f"previous target still present ({existing.status}); not restoring yet")
        return
    cluster = existing or request_restore(turn)
    try:
        ensure_instances(turn, cluster)
    except PipelineError as exc:
        if not exc.transient:
            raise
        deps.log.info("instances deferred to check-restore-status", extra={"code": exc.code})
    where = "beside the target, quarantined" if run.staging_cluster_id else "as the target"
    turn.transition(
        RunStatus.RESTORING,
        f"restore of {run.new_cluster_id} ({where}) {restore_source.described(run)} requested; "
        f"{plan(pipeline, run, cluster.engine_version).origins}",
    )
