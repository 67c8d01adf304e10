"""check-copy-status: Aurora emits no event when a cluster-snapshot copy ends, so the step looks, converging on the
predicted end (shared/copy_pacing.py). A far look is a wake-up asked for up to two minutes early (EventBridge
Scheduler fires within the minute asked); the step waits the rest in place, and near the end looks in short steps
in place too, so the end is noticed within seconds without a wake-up per step."""

from __future__ import annotations

from shared.copy_pacing import next_look_seconds, record
from shared.errors import PipelineError
from shared.model import RunStatus
from shared.steps.copy_snapshot import IN_FLIGHT, request_copy
from shared.steps.turn import StepTurn


def act(turn: StepTurn) -> None:
    run = turn.run
    rds = turn.deps.rds_for(run.target_region)
    if turn.look_at is not None:  # a wake-up asked for early: wait in place for the time it was asked for
        turn.wait_here((turn.look_at - turn.now()).total_seconds())
    samples, looks = run.copy_samples, 0
    while True:
        copy = rds.find_cluster_snapshot(run.copy_snapshot_id)
        looks += 1
        if copy is None:
            request_copy(turn)
            raise PipelineError(
                "CopyMissing", f"copy {run.copy_snapshot_id} was not found; requested it again", transient=True
            )
        if copy.status == "available":
            turn.transition(RunStatus.REPLACING_TARGET, f"copy {copy.identifier} available", copy_percent=100)
            return
        if copy.status not in IN_FLIGHT:
            break
        samples = record(run.state_entered_at, samples, turn.now(), copy.percent_progress)
        delay = next_look_seconds(run.state_entered_at, turn.now(), samples)
        if turn.wait_here(delay):
            continue
        in_place = f" ({looks} looks this invocation)" if looks > 1 else ""
        turn.wait(
            delay,
            f"copy {copy.status} at {copy.percent_progress}%{in_place}",
            finish_in_place=True,
            copy_percent=copy.percent_progress,
            copy_samples=samples,
        )
        return
    # failed/error/incompatible: drop the broken copy so a retry can start a fresh one
    rds.delete_snapshot(copy.identifier)
    raise PipelineError("CopyFailed", f"copy {copy.identifier} ended in status {copy.status!r}", transient=True)
