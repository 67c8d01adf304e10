"""Retired targets: kept for a rollback for `keep_previous_hours`, then deleted by the orchestrator check.

A `swap` run hands the cluster it took out of the target's place to the pipeline's watch item (`PipelineWatch.retired`,
one conditional write); every check tick looks at each pipeline's list and deletes what is due: instances first,
then the cluster (as delete-rds does), and only a cluster that still carries the pipeline's ownership tag, with no
deletion protection: anything else is dropped from the list with a refusal in the audit and never touched. A
stopped retired cluster is started first: its instances cannot be deleted while it is stopped
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-cluster-stop-start.html).
"""

from __future__ import annotations

from datetime import datetime

from shared.config import PipelineConfig
from shared.errors import PipelineError, StaleWatchError
from shared.model import PipelineWatch, RetiredCluster
from shared.naming import TAG_PIPELINE
from shared.outside_run import pipeline_subject, record_outside_run
from shared.ports import ClusterView, RdsGateway
from shared.rds_states import Condition, condition
from shared.steps.context import Deps
from shared.transitions import Step

STEP = Step.ORCHESTRATOR_CHECK.value
WRITE_TRIES = 3


def update_retired(deps: Deps, pipeline: str, change: RetiredChange) -> None:
    """Apply `change` to the pipeline's retired list (conditional write, re-read and retried on a conflict)."""
    for _ in range(WRITE_TRIES):
        now = deps.clock.now()
        stored = deps.store.get_watch(pipeline)
        watch = stored or PipelineWatch(pipeline=pipeline, watching_since=now, updated_at=now)
        retired = change(list(watch.retired))
        try:
            deps.store.put_watch(
                watch.model_copy(update={"retired": retired, "updated_at": now}), stored.version if stored else None
            )
            return
        except StaleWatchError:
            continue
    raise PipelineError("WatchBusy", f"the watch of pipeline {pipeline} kept changing; retired list not updated",
                        transient=True)  # fmt: skip


class RetiredChange:
    """A change of the retired list: drop entries by cluster id, then add some."""

    def __init__(self, drop: tuple[str, ...] = (), add: tuple[RetiredCluster, ...] = ()) -> None:
        self.drop = {d.lower() for d in drop}
        self.add = add

    def __call__(self, retired: list[RetiredCluster]) -> list[RetiredCluster]:
        added = {a.cluster_id.lower() for a in self.add}
        kept = [r for r in retired if r.cluster_id.lower() not in self.drop | added]
        return [*kept, *self.add]


def keep_retired(deps: Deps, pipeline: str, retired: RetiredCluster) -> None:
    update_retired(deps, pipeline, RetiredChange(add=(retired,)))


def sweep_retired(deps: Deps, watches: dict[str, PipelineWatch] | None = None) -> int:
    """Delete what is due, for every pipeline (their watches as read for this tick, or read here in one batch);
    return how many clusters are gone (errors are logged and counted, the next tick looks again)."""
    gone = 0
    now = deps.clock.now()
    try:
        if watches is None:
            watches = deps.store.get_watches([p.name for p in deps.config.pipelines])
    except PipelineError as exc:
        deps.log.error("retired cluster clean-up failed", extra={"code": exc.code})
        deps.metric("RetiredCleanupErrors", 1)
        return 0
    for pipeline in deps.config.pipelines:
        try:
            watch = watches.get(pipeline.name)
            due = [r for r in (watch.retired if watch else []) if now >= r.delete_after]
            finished = [r.cluster_id for r in due if _delete_step(deps, pipeline, r, now)]
            if finished:
                update_retired(deps, pipeline.name, RetiredChange(drop=tuple(finished)))
                gone += len(finished)
        except PipelineError as exc:
            deps.log.error("retired cluster clean-up failed", extra={"pipeline": pipeline.name, "code": exc.code})
            deps.metric("RetiredCleanupErrors", 1)
    return gone


def _delete_step(deps: Deps, pipeline: PipelineConfig, retired: RetiredCluster, now: datetime) -> bool:
    """One step towards deleting `retired`; True once it is gone (or refused: then it is only dropped)."""
    rds = deps.rds_for(pipeline.target_region)
    cluster = rds.find_cluster(retired.cluster_id)
    if cluster is None:
        _audit(deps, pipeline, "decision", f"retired cluster {retired.cluster_id} is gone", now)
        return True
    refusal = _refusal(pipeline, cluster)
    if refusal is not None:
        _audit(deps, pipeline, "refused", refusal, now, code="RetiredNotDeleted")
        return True
    state = condition(cluster.status)
    if state is Condition.STOPPED:
        rds.start_cluster(cluster.identifier)
        _audit(deps, pipeline, "decision", f"retired cluster {cluster.identifier} started to be deleted", now)
        return False
    if state is Condition.BUSY:
        return False  # deleting, starting, renaming...: the next tick looks again (a failed one is deleted)
    return _delete(deps, rds, pipeline, cluster, now)


def _refusal(pipeline: PipelineConfig, cluster: ClusterView) -> str | None:
    if cluster.tags.get(TAG_PIPELINE) != pipeline.name:
        return (f"retired cluster {cluster.identifier} no longer carries {TAG_PIPELINE}={pipeline.name}; "
                "not deleting it")  # fmt: skip
    if cluster.deletion_protection:
        return f"retired cluster {cluster.identifier} has deletion protection on; not deleting it"
    if cluster.identifier.lower() == pipeline.target_cluster_id.lower():
        return f"{cluster.identifier} holds the target name again (rolled back by hand?); not deleting it"
    return None


def _delete(deps: Deps, rds: RdsGateway, pipeline: PipelineConfig, cluster: ClusterView, now: datetime) -> bool:
    members = [rds.find_instance(m) for m in cluster.member_ids]
    present = [m for m in members if m is not None]
    strangers = [m.identifier for m in present if m.tags.get(TAG_PIPELINE) != pipeline.name]
    if strangers:
        _audit(deps, pipeline, "refused", f"retired cluster {cluster.identifier} has instances {strangers} not "
               f"tagged {TAG_PIPELINE}={pipeline.name}; not deleting it", now, code="RetiredNotDeleted")  # fmt: skip
        return True
    for instance in present:
        if instance.status != "deleting":
            rds.delete_instance(instance.identifier)
    try:
        rds.delete_cluster(cluster.identifier)
    except PipelineError as exc:
        if exc.code != "InvalidDBClusterStateFault":
            raise
        return False  # instances still deleting: the next tick deletes the cluster
    _audit(deps, pipeline, "decision", f"retired cluster {cluster.identifier} deleted (kept "
           f"{pipeline.keep_previous_hours}h for a rollback)", now)  # fmt: skip
    return False  # gone once describe no longer finds it


def _audit(
    deps: Deps, pipeline: PipelineConfig, kind: str, message: str, now: datetime, code: str | None = None
) -> None:
    record_outside_run(deps.store, deps.log, now, step=STEP, kind=kind, message=message,  # type: ignore[arg-type]
                       subject=pipeline_subject(pipeline.name), pipeline=pipeline.name, code=code)  # fmt: skip
