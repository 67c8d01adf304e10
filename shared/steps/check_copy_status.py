"""check-copy-status: Aurora emits no event when a cluster-snapshot copy ends, so the step looks, converging on the
predicted end (shared/copy_pacing.py), and is woken exactly then (StepTurn.wait)."""

from __future__ import annotations

from shared.copy_pacing import next_look_seconds, record
from shared.errors import PipelineError
from shared.model import RunStatus
from shared.steps.copy_snapshot import IN_FLIGHT, request_copy
from shared.steps.turn import StepTurn


def act(turn: StepTurn) -> None:
    run = turn.run
    rds = turn.deps.rds_for(run.target_region)
    copy = rds.find_cluster_snapshot(run.copy_snapshot_id)
    if copy is None:
        request_copy(turn)
        raise PipelineError(
            "CopyMissing", f"copy {run.copy_snapshot_id} was not found; requested it again", transient=True
        )
    if copy.status == "available":
        turn.transition(RunStatus.REPLACING_TARGET, f"copy {copy.identifier} available", copy_percent=100)
        return
    if copy.status in IN_FLIGHT:
        samples = record(run.state_entered_at, run.copy_samples, turn.now(), copy.percent_progress)
        delay = next_look_seconds(run.state_entered_at, turn.now(), samples)
        turn.wait(
            delay,
            f"copy {copy.status} at {copy.percent_progress}%",
            copy_percent=copy.percent_progress,
            copy_samples=samples,
        )
        return
    # failed/error/incompatible: drop the broken copy so a retry can start a fresh one
    rds.delete_snapshot(copy.identifier)
    raise PipelineError("CopyFailed", f"copy {copy.identifier} ended in status {copy.status!r}", transient=True)
