"""check-restore-status: the cluster and every instance must be `available` (confirmed by describe)."""

from __future__ import annotations

from shared.errors import PipelineError, SafetyViolation
from shared.model import Run, RunStatus
from shared.naming import TAG_RUN
from shared.steps import runflow
from shared.steps.context import Deps
from shared.steps.restore_snapshot import ensure_instances, request_restore
from shared.transitions import Step

STEP = Step.CHECK_RESTORE_STATUS.value
FAILED_STATES = {
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "storage-full",
}


def advance(deps: Deps, run: Run, trigger: str | None) -> None:
    pipeline = deps.pipeline(run.pipeline)
    policy = pipeline.policy(run.status)
    backoff = policy.min_poll_seconds * 2 ** min(run.checks, 6)
    cluster = deps.rds_for(run.target_region).find_cluster(run.target_cluster_id)
    if cluster is None:
        request_restore(deps, pipeline, run)
        raise PipelineError(
            "RestoreMissing",
            f"restored cluster {run.target_cluster_id} not found; requested the restore again",
            transient=True,
        )
    if cluster.tags.get(TAG_RUN) != run.run_id:
        raise SafetyViolation(
            "TargetReplacedElsewhere",
            f"cluster {cluster.identifier} was not restored by run {run.run_id}; something else replaced it",
        )
    if cluster.status in FAILED_STATES:
        raise PipelineError("RestoreFailed", f"cluster {cluster.identifier} is {cluster.status!r}")
    if cluster.status != "available":
        runflow.wait(deps, run, STEP, backoff, f"cluster {cluster.status}", trigger)
        return
    statuses = ensure_instances(deps, pipeline, run, cluster.engine or pipeline.engine)
    broken = [s for s in statuses if s in FAILED_STATES]
    if broken:
        raise PipelineError("InstanceFailed", f"instances of {cluster.identifier} are {broken}")
    pending = [s for s in statuses if s != "available"]
    if pending:
        runflow.wait(deps, run, STEP, backoff, f"{len(pending)}/{len(statuses)} instances not yet available", trigger)
        return
    runflow.advance(
        deps,
        run,
        RunStatus.CONFIGURING_DB,
        STEP,
        f"cluster {cluster.identifier} and {len(statuses)} instance(s) available",
        trigger,
    )
