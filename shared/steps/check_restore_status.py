"""check-restore-status: the cluster and every instance must be `available` (confirmed by describe)."""

from __future__ import annotations

from shared.errors import PipelineError, SafetyViolation
from shared.model import RunStatus
from shared.naming import TAG_RUN
from shared.rds_states import failure_cause, is_failed
from shared.steps.restore_snapshot import ensure_instances, request_restore
from shared.steps.turn import StepTurn


def act(turn: StepTurn) -> None:
    run = turn.run
    backoff = turn.policy.min_poll_seconds * 2 ** min(run.checks, 6)
    cluster = turn.deps.rds_for(run.target_region).find_cluster(run.new_cluster_id)
    if cluster is None:
        request_restore(turn)
        raise PipelineError(
            "RestoreMissing",
            f"restored cluster {run.new_cluster_id} not found; requested the restore again",
            transient=True,
        )
    if cluster.tags.get(TAG_RUN) != run.run_id:
        raise SafetyViolation(
            "TargetReplacedElsewhere",
            f"cluster {cluster.identifier} was not restored by run {run.run_id}; something else replaced it",
        )
    if is_failed(cluster.status):  # a terminal state fails the run now, not at the deadline hours later
        raise PipelineError("RestoreFailed", failure_cause("cluster", cluster.identifier, cluster.status))
    if cluster.status != "available":
        turn.wait(backoff, f"cluster {cluster.status}", woken_by="RDS-EVENT-0170")
        return
    instances = ensure_instances(turn, cluster)
    broken = [failure_cause("instance", i.identifier, i.status) for i in instances if is_failed(i.status)]
    if broken:
        raise PipelineError("InstanceFailed", "; ".join(broken))
    statuses = [i.status for i in instances]
    pending = [s for s in statuses if s != "available"]
    if pending:
        turn.wait(backoff, f"{len(pending)}/{len(statuses)} instances not yet available", woken_by="RDS-EVENT-0005")
        return
    turn.transition(RunStatus.CONFIGURING_DB, f"cluster {cluster.identifier} and {len(statuses)} instance(s) available")
