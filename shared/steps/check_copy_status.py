"""check-copy-status: Aurora emits no event when a cluster-snapshot copy ends, so the check looks, adaptively."""

from __future__ import annotations

from shared.errors import PipelineError
from shared.model import RunStatus
from shared.steps.copy_snapshot import IN_FLIGHT, request_copy
from shared.steps.turn import StepTurn


def next_look_seconds(elapsed: float, percent: int, min_poll: int, checks: int) -> float:
    """Look again when the observed rate says the copy should be done; before any progress, back off."""
    if 0 < percent < 100 and elapsed > 0:
        remaining = elapsed * (100 - percent) / percent
        return max(remaining, float(min_poll))
    return float(min_poll * 2 ** min(checks, 6))


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
        elapsed = (turn.now() - run.state_entered_at).total_seconds()
        delay = next_look_seconds(elapsed, copy.percent_progress, turn.policy.min_poll_seconds, run.checks)
        turn.wait(delay, f"copy {copy.status} at {copy.percent_progress}%", copy_percent=copy.percent_progress)
        return
    # failed/error/incompatible: drop the broken copy so a retry can start a fresh one
    rds.delete_snapshot(copy.identifier)
    raise PipelineError("CopyFailed", f"copy {copy.identifier} ended in status {copy.status!r}", transient=True)
