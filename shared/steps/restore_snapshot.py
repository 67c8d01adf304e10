"""restore-snapshot: restore the target cluster from the copy (tagged as owned), then create its instances."""

from __future__ import annotations

from shared.cluster_settings import resolve
from shared.errors import PipelineError, cluster_already_exists
from shared.model import RunStatus
from shared.naming import TAG_RUN, instance_id, ownership_tags
from shared.ports import ClusterView, InstanceRequest, InstanceView, RestoreRequest
from shared.steps import restore_source
from shared.steps.turn import StepTurn


def request_restore(turn: StepTurn) -> ClusterView:
    """Restore the target with the settings a restore would otherwise drop (configured, else the previous
    target's, see shared/cluster_settings.py)."""
    run, pipeline = turn.run, turn.pipeline
    rds = turn.deps.rds_for(run.target_region)
    source = restore_source.origin(turn, rds)  # the run's copy, or the source cluster (clone, point-in-time)
    request = RestoreRequest(
        cluster_id=run.target_cluster_id,
        snapshot_id=source.snapshot_id,
        point_in_time=source.point_in_time,
        engine=source.engine,
        engine_version=source.engine_version,
        db_subnet_group=pipeline.db_subnet_group,
        security_group_ids=pipeline.security_group_ids,
        db_cluster_parameter_group=pipeline.db_cluster_parameter_group,
        kms_key_id=pipeline.kms_key_id,
        settings=resolve(pipeline.restore_settings, run.previous_target_settings)[0],
        tags={**pipeline.tags, **ownership_tags(pipeline.name, run.run_id)},
    )
    try:
        return restore_source.restore(rds, request)
    except PipelineError as exc:
        existing = rds.find_cluster(run.target_cluster_id) if cluster_already_exists(exc) else None
        if existing is None or existing.tags.get(TAG_RUN) != run.run_id:
            raise
        return existing


def ensure_instances(turn: StepTurn, engine: str) -> list[InstanceView]:
    """Create missing instances; return all configured instances as they are now."""
    run, pipeline = turn.run, turn.pipeline
    rds = turn.deps.rds_for(run.target_region)
    instances = []
    for index in range(1, pipeline.instances.count + 1):
        name = instance_id(run.target_cluster_id, index)
        instance = rds.find_instance(name)
        if instance is None:
            instance = rds.create_instance(
                InstanceRequest(
                    instance_id=name,
                    cluster_id=run.target_cluster_id,
                    instance_class=pipeline.instances.instance_class,
                    engine=engine,
                    db_parameter_group=pipeline.instances.db_parameter_group,
                    tags={**pipeline.tags, **ownership_tags(pipeline.name, run.run_id)},
                )
            )
        instances.append(instance)
    return instances


def act(turn: StepTurn) -> None:
    run, pipeline, deps = turn.run, turn.pipeline, turn.deps
    existing = deps.rds_for(run.target_region).find_cluster(run.target_cluster_id)
    if existing is not None and existing.tags.get(TAG_RUN) != run.run_id:
        # The previous target is still there (event early or out of order): delete-rds owns it.
        turn.ignore(f"previous target still present ({existing.status}); not restoring yet")
        return
    cluster = existing or request_restore(turn)
    try:
        ensure_instances(turn, cluster.engine or pipeline.engine)
    except PipelineError as exc:
        if not exc.transient:
            raise
        deps.log.info("instances deferred to check-restore-status", extra={"code": exc.code})
    settings = resolve(pipeline.restore_settings, run.previous_target_settings)[1]
    turn.transition(
        RunStatus.RESTORING,
        f"restore of {run.target_cluster_id} {restore_source.described(run)} requested; {settings}",
    )
